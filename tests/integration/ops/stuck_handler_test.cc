// stuck_handler_test.cc: the stuck-handler watchdog on the real daemon, with a test plugin that
// sleeps past its handler_timeout: /healthz fails with the reason, the log line appears once, the
// metrics count it, systemd's watchdog is no longer fed (a real notify socket), and the messages
// of the wedged call are handled after the daemon is killed and started again.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// routes.yaml with the handler `slow` (slow_sink: sleeps sleep_ms per call, then appends each
// message to out) for events job.*, with a 1 s handler_timeout, and the HTTP endpoint on port.
std::string watchdog_config(const RedisServer& redis, const std::string& plugins,
                            const TempDir& dir, int port, int sleep_ms) {
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.source_extra = "batch: 16";
  spec.extra_handlers = "slow:\n  plugin: slow_sink\n  handler_timeout: 1s\n  config: { path: \"" +
                        dir.file("out.jsonl") + "\", sleep_ms: " + std::to_string(sleep_ms) + " }";
  spec.extra_routes = "\"job.*\": [slow]";
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port) + "\" }";
  return dir.write("routes.yaml", routes_yaml(spec));
}

std::vector<std::string> jobs(int n) {
  std::vector<std::string> out;
  for (int i = 1; i <= n; ++i)
    out.push_back(envelope("job.run", "{\"id\":" + std::to_string(i) + "}"));
  return out;
}

// The seconds in "stuck for N s" of a /healthz body, or -1.
double stuck_seconds(const std::string& body) {
  const size_t at = body.find("stuck for ");
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + 10));
}

std::optional<double> metric(int port, const std::string& name, const std::string& handler) {
  ops::HttpResult r = ops::http_get(port, "/metrics");
  ops::Exposition e;
  if (r.status != 200 || !ops::parse_prometheus(r.body, &e).empty()) return std::nullopt;
  return e.value(name, {{"handler", handler}});
}

TEST(StuckHandlerTest, AStuckCallFailsHealthzOnceAndItsMessagesAreHandledAfterARestart) {
  constexpr int kJobs = 5;
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("slow_sink")});
  const int port = pick_free_tcp_port();
  // The handler hangs (10 minutes per call).
  std::string config = watchdog_config(redis, plugins, dir, port, 600000);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until([&] { return ops::http_get(port, "/healthz").status == 200; }, 20s,
                         "/healthz to answer 200"))
      << daemon.log_tail();
  EXPECT_EQ(metric(port, "switchyard_handler_stuck", "slow"), 0.0);
  EXPECT_EQ(metric(port, "switchyard_handler_timeouts_total", "slow"), 0.0);

  RedisClient client = redis.client();
  client.rpush_many("events", jobs(kJobs), 100);
  ops::HttpResult health;
  ASSERT_TRUE(wait_until(
      [&] {
        health = ops::http_get(port, "/healthz");
        return health.status == 503;
      },
      20s, "/healthz to fail"))
      << daemon.log_tail();
  EXPECT_NE(health.body.find("unhealthy: handler slow stuck for "), std::string::npos)
      << health.body;
  EXPECT_NE(health.body.find("(handler_timeout 1 s) on event job.run, source events"),
            std::string::npos)
      << health.body;
  EXPECT_EQ(ops::http_get(port, "/readyz").status, 200);  // Redis is fine: only health fails
  EXPECT_EQ(metric(port, "switchyard_handler_stuck", "slow"), 1.0);
  EXPECT_EQ(metric(port, "switchyard_handler_timeouts_total", "slow"), 1.0);

  // The watchdog keeps looking (the reported time grows by 2 s); the line is still logged once.
  const double first = stuck_seconds(health.body);
  ASSERT_TRUE(
      wait_until([&] { return stuck_seconds(ops::http_get(port, "/healthz").body) >= first + 2; },
                 20s, "the stuck time in /healthz to grow by 2 s"));
  const std::string log = daemon.log();
  EXPECT_EQ(ops::count_of(log, "handler slow stuck: one call has been running for"), 1u) << log;
  const std::vector<std::string> lines = ops::lines_with(log, "handler slow stuck: one call");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("event=job.run"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("source=events"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("handler_timeout of 1 s"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("systemd restarts switchyard"), std::string::npos) << lines[0];
  EXPECT_EQ(metric(port, "switchyard_handler_timeouts_total", "slow"), 1.0);
  EXPECT_TRUE(file_lines(dir.file("out.jsonl")).empty());

  // What systemd does to a wedged daemon; the handler's remote end has recovered meanwhile.
  daemon.kill9();
  config = watchdog_config(redis, plugins, dir, port, 0);
  daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(dir.file("out.jsonl")).size() >= kJobs && client.llen("events") == 0 &&
               client.keys("events:inflight:*").empty();
      },
      30s, "every job to be handled after the restart"))
      << daemon.log_tail();
  const std::vector<std::string> out = file_lines(dir.file("out.jsonl"));
  EXPECT_EQ(out.size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(std::set<std::string>(out.begin(), out.end()).size(), static_cast<size_t>(kJobs));
  EXPECT_EQ(client.llen("events:dead"), 0);
  EXPECT_EQ(ops::http_get(port, "/healthz").status, 200);
}

// A datagram socket standing in for systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof addr.sun_path) throw std::runtime_error("notify socket");
    std::strcpy(addr.sun_path, path.c_str());
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      throw std::runtime_error("bind " + path + ": " + std::strerror(errno));
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  // The next datagram, waiting at most timeout; nullopt when none came.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    ssize_t n = recv(fd_, buffer, sizeof buffer, 0);
    if (n < 0) return std::nullopt;
    return std::string(buffer, static_cast<size_t>(n));
  }

 private:
  std::string path_;
  int fd_ = -1;
};

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(StuckHandlerTest, SystemdsWatchdogIsNotFedWhileACallIsStuck) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("slow_sink")});
  const int port = pick_free_tcp_port();
  // One call of 5 s: stuck from 1 s (its handler_timeout) until it returns.
  const std::string config = watchdog_config(redis, plugins, dir, port, 5000);
  NotifySocket notify(dir.file("notify.sock"));
  // WatchdogSec=0.3s: the daemon sends WATCHDOG=1 every 150 ms while healthy.
  SwitchyardProcess daemon = SwitchyardProcess::run(
      config, dir.file("switchyard.log"), {},
      {{"NOTIFY_SOCKET", dir.file("notify.sock")}, {"WATCHDOG_USEC", "300000"}});
  int fed = 0;
  bool ready = false;
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<std::string> m = notify.receive(100ms);
        if (m && contains(*m, "READY=1")) ready = true;
        if (m && contains(*m, "WATCHDOG=1")) ++fed;
        return ready && fed >= 3;
      },
      20s, "READY=1 and three WATCHDOG=1"))
      << daemon.log_tail();

  redis.client().rpush("events", envelope("job.run", "{\"id\":1}"));
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<std::string> m = notify.receive(100ms);
        return m && contains(*m, "STATUS=stuck: handler slow stuck for");
      },
      20s, "STATUS=stuck: ..."))
      << daemon.log_tail();
  const auto stuck_at = std::chrono::steady_clock::now();
  // Until the call returns (STATUS= again, empty), nothing feeds the watchdog.
  std::vector<std::string> while_stuck;
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<std::string> m = notify.receive(100ms);
        if (!m) return false;
        if (contains(*m, "STATUS=") && !contains(*m, "STATUS=stuck")) return true;
        while_stuck.push_back(*m);
        return false;
      },
      30s, "the call to return (STATUS= cleared)"))
      << daemon.log_tail();
  const auto stuck_for = std::chrono::steady_clock::now() - stuck_at;
  for (const std::string& m : while_stuck) EXPECT_FALSE(contains(m, "WATCHDOG=1")) << m;
  // Stuck for about 4 s: many watchdog intervals (150 ms) went unfed.
  EXPECT_GE(stuck_for, 2s);
  // Healthy again: fed again.
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<std::string> m = notify.receive(100ms);
        return m && contains(*m, "WATCHDOG=1");
      },
      10s, "WATCHDOG=1 after the call returned"))
      << daemon.log_tail();
  EXPECT_EQ(file_lines(dir.file("out.jsonl")).size(), 1u);
  EXPECT_EQ(daemon.stop(), 0);
}

// A handler added by a reload exposes its stuck gauge and timeouts counter at 0 at once (an alert
// on them must see the series before the first timeout), and a handler removed by a reload loses
// every series labelled with it.
TEST(StuckHandlerTest, EveryConfiguredHandlerHasItsSeriesFromTheStartAndARemovedOneLosesThem) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("slow_sink"), ops::bundled_plugin("jsonl_sink")});
  const int port = pick_free_tcp_port();
  const std::string config = watchdog_config(redis, plugins, dir, port, 0);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until([&] { return metric(port, "switchyard_handler_stuck", "slow") == 0.0; },
                         20s, "switchyard_handler_stuck{handler=\"slow\"} at 0"))
      << daemon.log_tail();
  RedisClient client = redis.client();
  client.rpush_many("events", jobs(3));
  ASSERT_TRUE(wait_until([&] { return file_lines(dir.file("out.jsonl")).size() == 3; }, 20s,
                         "slow to handle 3 jobs"))
      << daemon.log_tail();
  EXPECT_EQ(metric(port, "switchyard_events_handled_total", "slow"), 3.0);

  // Reload: `slow` goes, `audit` comes.
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.source_extra = "batch: 16";
  spec.extra_handlers =
      "audit:\n  plugin: jsonl_sink\n  config: { path: \"" + dir.file("audit.jsonl") + "\" }";
  spec.extra_routes = "\"job.*\": [audit]";
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port) + "\" }";
  ops::write_atomically(config, routes_yaml(spec));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return metric(port, "switchyard_handler_stuck", "audit") == 0.0; },
                         20s, "switchyard_handler_stuck{handler=\"audit\"} at 0 after the reload"))
      << daemon.log_tail();
  EXPECT_EQ(metric(port, "switchyard_handler_timeouts_total", "audit"), 0.0);
  ASSERT_TRUE(wait_until([&] { return metric(port, "switchyard_paused", "audit") == 0.0; }, 10s,
                         "switchyard_paused{handler=\"audit\"} at 0"))
      << daemon.log_tail();
  const ops::HttpResult r = ops::http_get(port, "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.body.find("handler=\"slow\""), std::string::npos) << r.body;
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace switchyard::test
