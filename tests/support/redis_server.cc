// redis_server.cc: spawns redis-server, waits for PONG, stops/kills/restarts it.
#include "support/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <thread>

namespace switchyard::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(10);
constexpr auto kStopTimeout = std::chrono::seconds(10);

enum class Probe { kReady, kNotYet };

// One readiness probe: connect to the socket (short timeout) and PING.
Probe probe(const std::string& socket_path) {
  try {
    RedisClient c(socket_path, std::chrono::milliseconds(500));
    Reply r = c.try_command({"PING"});
    return r.type == Reply::Type::kStatus && r.str == "PONG" ? Probe::kReady : Probe::kNotYet;
  } catch (const std::exception&) {
    return Probe::kNotYet;  // socket not there yet, connection refused, LOADING...
  }
}

}  // namespace

int pick_free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    throw std::runtime_error(std::string("cannot pick a free port: ") + std::strerror(err));
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

RedisServer::RedisServer(RedisServerOptions options) : options_(std::move(options)) {
  if (socket_path().size() >= sizeof(sockaddr_un{}.sun_path)) {
    throw std::runtime_error("unix socket path too long (set TMPDIR shorter): " + socket_path());
  }
}

RedisServer::~RedisServer() { kill9(); }

std::string RedisServer::socket_path() const { return dir_.file("redis.sock"); }
std::string RedisServer::url() const { return "unix://" + socket_path(); }
std::string RedisServer::log_path() const { return dir_.file("redis.log"); }

std::string RedisServer::tcp_url() const {
  if (!options_.tcp) throw std::logic_error("RedisServer::tcp_url: started without options.tcp");
  return "redis://127.0.0.1:" + std::to_string(port_) + "/0";
}

RedisClient RedisServer::client() const { return RedisClient(socket_path()); }

std::string RedisServer::log_tail(std::size_t lines) const {
  return "--- " + log_path() + " ---\n" + tail_file(log_path(), lines) + "\n--- " +
         dir_.file("redis.out") + " ---\n" + tail_file(dir_.file("redis.out"), lines);
}

std::vector<std::string> RedisServer::command_line() const {
  std::vector<std::string> argv = options_.command_prefix;
  argv.insert(argv.end(), {"redis-server", "--port", std::to_string(port_)});
  if (options_.tcp) {
    argv.insert(argv.end(), {"--bind", "127.0.0.1"});
  }
  argv.insert(argv.end(),
              {"--unixsocket", socket_path(), "--unixsocketperm", "700", "--dir", dir_.path(),
               "--save", "", "--appendonly", options_.appendonly ? "yes" : "no", "--daemonize",
               "no", "--logfile", log_path()});
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

void RedisServer::start() {
  if (is_running()) throw std::logic_error("RedisServer::start: already running in " + dir());
  // A fresh port only the first time: restart() must keep the URL the daemon was configured with.
  const bool may_change_port = options_.tcp && port_ == 0;
  const int attempts = may_change_port ? 3 : 1;
  std::string failure;
  for (int attempt = 0; attempt < attempts; ++attempt) {
    if (may_change_port) port_ = pick_free_tcp_port();
    ::unlink(socket_path().c_str());  // a stale socket from a killed server must not fool us
    process_.spawn(command_line(), {}, dir_.file("redis.out"));
    const auto deadline = Clock::now() + kStartTimeout;
    auto interval = std::chrono::milliseconds(1);
    for (;;) {
      if (probe(socket_path()) == Probe::kReady) return;
      if (!process_.is_running()) {
        failure = "redis-server exited with status " +
                  std::to_string(process_.exit_status().value_or(-1)) + " during startup";
        break;
      }
      if (Clock::now() >= deadline) {
        process_.kill9();
        failure = "redis-server did not answer PING within 10 s";
        break;
      }
      std::this_thread::sleep_for(interval);
      interval = std::min(interval * 2, std::chrono::milliseconds(20));
    }
    // Only a lost race for the port is worth another attempt.
    if (read_file(log_path()).find("Address already in use") == std::string::npos) break;
  }
  throw std::runtime_error(failure + " (dir " + dir() + ")\n" + log_tail());
}

void RedisServer::stop() {
  if (!process_.is_running()) return;
  process_.signal(SIGTERM);
  if (!process_.wait_exit(kStopTimeout)) {
    const std::string message = "redis-server (pid " + std::to_string(process_.pid()) +
                                ") did not exit within 10 s of SIGTERM; killed it\n" + log_tail();
    process_.kill9();
    throw std::runtime_error(message);
  }
}

void RedisServer::kill9() {
  if (process_.is_running()) process_.kill9();
}

void RedisServer::restart() {
  stop();
  start();
}

bool RedisServer::is_running() { return process_.is_running(); }

}  // namespace switchyard::test
