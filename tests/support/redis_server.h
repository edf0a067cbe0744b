// redis_server.h: a real redis-server (from $PATH) private to one test, in its own TempDir.
#ifndef SWITCHYARD_TESTS_SUPPORT_REDIS_SERVER_H_
#define SWITCHYARD_TESTS_SUPPORT_REDIS_SERVER_H_

#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/redis_client.h"
#include "support/temp_dir.h"

namespace switchyard::test {

struct RedisServerOptions {
  // --appendonly yes: data survives stop()/restart() (and kill9() up to appendfsync's window;
  // add {"--appendfsync", "always"} to extra_args for none).
  bool appendonly = false;
  // Also listen on TCP 127.0.0.1:PORT (a free port picked once, kept across restarts).
  bool tcp = false;
  // Appended verbatim to the command line, e.g. {"--maxmemory", "10mb"}.
  std::vector<std::string> extra_args;
  // Put in front of the command line, e.g. HostNetwork::exec_prefix(ns) to run it in a network
  // namespace (the prefix must exec redis-server, so that the pid is the server's).
  std::vector<std::string> command_prefix = {};
};

// One redis-server process:
//   redis-server --port 0|N [--bind 127.0.0.1] --unixsocket DIR/redis.sock --unixsocketperm 700
//                --dir DIR --save "" --appendonly yes|no --daemonize no --logfile DIR/redis.log
// Ownership: owns the process and the directory; the destructor SIGKILLs and reaps the server,
// then removes the directory (kept when $SWITCHYARD_KEEP_TEST_DIRS is set). The server also dies
// with the test process (PR_SET_PDEATHSIG). Not copyable or movable.
// Thread safety: not thread-safe; drive it from the test's main thread (see ChildProcess).
// Errors: start()/restart() throw std::runtime_error with the tail of redis.log (gtest reports it
// and ends the test); stop() kills the server and throws std::runtime_error when it ignores
// SIGTERM for 10 s.
// Part of the test kit (no GTest), used by the tests and the bench.
class RedisServer {
 public:
  // Creates the directory; does not start the server.
  explicit RedisServer(RedisServerOptions options = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  // Spawns redis-server and waits (bounded: 10 s) until PING over the unix socket answers PONG
  // (not LOADING). Throws std::logic_error if already running; std::runtime_error (with the log
  // tail) if it exits or does not answer in time, in which case it is killed.
  void start();
  // SIGTERM, then waits (bounded: 10 s, else SIGKILL and throw) and reaps. No-op if stopped.
  // With appendonly, the AOF is flushed, so restart() finds the data.
  void stop();
  // SIGKILL and reap: a crash. No-op if stopped.
  void kill9();
  // stop() if running, then start() on the same directory, socket and TCP port.
  void restart();
  // True while the process has not exited.
  bool is_running();

  // The server's directory (holds redis.sock, redis.log, the AOF).
  const std::string& dir() const { return dir_.path(); }
  // DIR/redis.sock.
  std::string socket_path() const;
  // "unix://" + socket_path().
  std::string url() const;
  // "redis://127.0.0.1:PORT/0"; throws std::logic_error unless options.tcp.
  std::string tcp_url() const;
  // The TCP port, or 0 unless options.tcp.
  int port() const { return port_; }
  // The server's pid (e.g. to read its CPU time in /proc), -1 before start().
  pid_t pid() const { return process_.pid(); }
  // DIR/redis.log.
  std::string log_path() const;
  // The last `lines` lines of redis.log and of the process' stdout/stderr, for messages.
  std::string log_tail(std::size_t lines = 40) const;
  // A new RedisClient connected to the unix socket (throws if it cannot connect).
  RedisClient client() const;

 private:
  std::vector<std::string> command_line() const;

  RedisServerOptions options_;
  TempDir dir_;
  int port_ = 0;
  ChildProcess process_;
};

// Picks a currently free TCP port on 127.0.0.1 (bind to port 0, read it, close). Another process
// may take it before it is used; RedisServer retries with a new port in that case.
// Thread safety: reentrant. Throws std::runtime_error if no socket can be bound.
int pick_free_tcp_port();

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_REDIS_SERVER_H_
