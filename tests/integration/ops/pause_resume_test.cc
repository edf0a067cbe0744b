// pause_resume_test.cc: `switchyard pause` and `resume` against the real daemon, with exact counts:
// a paused source takes nothing (its workers keep looking, as the daemon's own counter shows) until
// resumed, also across a restart; a paused handler's deliveries wait while the other handler of
// the same event gets them all, and reach it once resumed; unknown names are usage errors.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

class PauseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    plugins_ = ops::make_plugins_dir(
        dir_, {ops::bundled_plugin("user_registered_sink"),
               ops::bundled_plugin("quote_created_sink"), ops::bundled_plugin("jsonl_sink")});
    port_ = pick_free_tcp_port();
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = plugins_;
    spec.database = dir_.file("analytics.db");
    spec.source_extra = "batch: 50";
    // A second handler of user.registered.
    spec.extra_handlers =
        "audit:\n  plugin: jsonl_sink\n  config: { path: \"" + dir_.file("audit.jsonl") + "\" }";
    spec.extra_routes = "\"user.*\": [audit]";
    spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port_) + "\" }";
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
  }

  void start() {
    daemon_ = SwitchyardProcess::run(config_, dir_.file("switchyard.log"));
    ASSERT_TRUE(wait_until(
        [&] {
          return metric("switchyard_paused", {{"source", "events"}}).has_value();
        },
        20s, "the daemon to read the pause state"))
        << daemon_.log_tail();
  }

  CommandResult cli(std::vector<std::string> args) {
    args.push_back("-c");
    args.push_back(config_);
    return SwitchyardProcess::exec(args);
  }

  // A sample of the daemon's /metrics, nullopt when absent or not scraped.
  std::optional<double> metric(const std::string& name,
                               const std::map<std::string, std::string>& labels) {
    ops::HttpResult r = ops::http_get(port_, "/metrics");
    ops::Exposition e;
    if (r.status != 200 || !ops::parse_prometheus(r.body, &e).empty()) return std::nullopt;
    return e.value(name, labels);
  }
  double metric_or_0(const std::string& name, const std::map<std::string, std::string>& labels) {
    return metric(name, labels).value_or(0);
  }

  // Waits until the workers of the paused source looked at least `looks` more times.
  void watch_it_look(int looks) {
    const double before =
        metric_or_0("switchyard_source_paused_waits_total", {{"source", "events"}});
    ASSERT_TRUE(wait_until(
        [&] {
          return metric_or_0("switchyard_source_paused_waits_total", {{"source", "events"}}) >=
                 before + looks;
        },
        20s, "the paused source's worker to look " + std::to_string(looks) + " more times"))
        << daemon_.log_tail();
  }

  int64_t users() { return count_rows(dir_.file("analytics.db"), "user_registrations"); }
  int64_t quotes() { return count_rows(dir_.file("analytics.db"), "quotes"); }

  RedisServer redis_;
  TempDir dir_;
  std::string plugins_;
  int port_ = 0;
  std::string config_;
  SwitchyardProcess daemon_;
};

TEST_F(PauseTest, APausedSourceTakesNothingEvenAfterARestartUntilResumed) {
  constexpr int kEvents = 400;
  start();
  CommandResult r = cli({"pause", "events"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("paused source events (events:paused)"), std::string::npos) << r;
  EXPECT_NE(r.out.find("resume with: switchyard resume events"), std::string::npos) << r;
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_paused", {{"source", "events"}}) == 1.0;
      },
      10s, "switchyard_paused{source=\"events\"} to be 1"))
      << daemon_.log_tail();

  // The worker may be blocked in a take when the pause lands (that batch is still handled):
  // once it looked at the pause, it takes nothing.
  watch_it_look(1);
  RedisClient client = redis_.client();
  client.rpush_many("events", mixed_events(kEvents), 100);
  watch_it_look(10);  // a second of looks with the messages waiting
  EXPECT_EQ(metric_or_0("switchyard_events_received_total", {{"source", "events"}}), 0.0);
  EXPECT_EQ(client.llen("events"), kEvents);
  EXPECT_EQ(users() + quotes(), 0);

  r = cli({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("PAUSED source events since "), std::string::npos) << r;
  r = cli({"stats", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("\"paused\":{\"source\":\""), std::string::npos) << r;
  r = cli({"pause", "events"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("already paused: source events"), std::string::npos) << r;

  // The pause is in Redis: a restarted daemon obeys it from its first look.
  ASSERT_EQ(daemon_.stop(), 0);
  start();
  EXPECT_EQ(metric("switchyard_paused", {{"source", "events"}}), 1.0);
  watch_it_look(10);
  EXPECT_EQ(metric_or_0("switchyard_events_received_total", {{"source", "events"}}), 0.0);
  EXPECT_EQ(client.llen("events"), kEvents);
  EXPECT_EQ(users() + quotes(), 0);

  r = cli({"resume", "events"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("resumed source events"), std::string::npos) << r;
  ASSERT_TRUE(wait_until(
      [&] {
        return users() == kEvents / 2 && quotes() == kEvents / 2 && client.llen("events") == 0 &&
               client.keys("events:inflight:*").empty();
      },
      30s, "every event to be handled after resume"))
      << daemon_.log_tail();
  EXPECT_EQ(metric_or_0("switchyard_events_received_total", {{"source", "events"}}), kEvents);
  EXPECT_EQ(file_lines(dir_.file("audit.jsonl")).size(), static_cast<size_t>(kEvents / 2));
  EXPECT_EQ(metric("switchyard_paused", {{"source", "events"}}), 0.0);
  EXPECT_EQ(client.llen("events:dead"), 0);
  r = cli({"resume", "events"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("was not paused: source events"), std::string::npos) << r;
}

TEST_F(PauseTest, APausedHandlersDeliveriesWaitWhileTheOtherHandlerGetsThemAll) {
  constexpr int kUsers = 300;
  start();
  CommandResult r = cli({"pause", "--handler", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("paused handler audit for source events"), std::string::npos) << r;
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_paused", {{"handler", "audit"}}) == 1.0;
      },
      10s, "switchyard_paused{handler=\"audit\"} to be 1"))
      << daemon_.log_tail();
  EXPECT_EQ(metric("switchyard_paused", {{"handler", "users_db"}}), 0.0);

  RedisClient client = redis_.client();
  std::vector<std::string> events;
  for (int i = 1; i <= kUsers; ++i) events.push_back(user_registered(i));
  client.rpush_many("events", events, 100);
  ASSERT_TRUE(wait_until(
      [&] {
        return users() == kUsers &&
               metric_or_0("switchyard_handler_parked_total", {{"handler", "audit"}}) == kUsers &&
               client.llen("events") == 0 && client.keys("events:inflight:*").empty();
      },
      30s, "users_db to get every event and audit's to be parked"))
      << daemon_.log_tail();
  EXPECT_TRUE(file_lines(dir_.file("audit.jsonl")).empty());
  EXPECT_EQ(client.zcard("events:retry"), kUsers);
  EXPECT_EQ(metric_or_0("switchyard_events_handled_total", {{"handler", "audit"}}), 0.0);
  r = cli({"stats"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("PAUSED handler audit since "), std::string::npos) << r;

  // Still parked across a restart: a new daemon neither calls audit nor parks them again.
  ASSERT_EQ(daemon_.stop(), 0);
  start();
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_paused", {{"handler", "audit"}}) == 1.0;
      },
      10s, "the restarted daemon to see audit paused"))
      << daemon_.log_tail();
  EXPECT_TRUE(file_lines(dir_.file("audit.jsonl")).empty());
  EXPECT_EQ(client.zcard("events:retry"), kUsers);

  r = cli({"resume", "--handler", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("resumed handler audit for source events"), std::string::npos) << r;
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(dir_.file("audit.jsonl")).size() >= kUsers &&
               client.zcard("events:retry") == 0;
      },
      30s, "audit to get every parked delivery"))
      << daemon_.log_tail();
  const std::vector<std::string> lines = file_lines(dir_.file("audit.jsonl"));
  EXPECT_EQ(lines.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(users(), kUsers);  // the sibling is not run again
  EXPECT_EQ(
      metric_or_0("switchyard_events_handled_total", {{"handler", "audit"}, {"outcome", "ok"}}),
      kUsers);
  EXPECT_EQ(metric("switchyard_paused", {{"handler", "audit"}}), 0.0);
  EXPECT_EQ(client.llen("events:dead"), 0);
}

TEST_F(PauseTest, UnknownNamesAreUsageErrors) {
  CommandResult r = cli({"pause", "nosuch"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("no source named \"nosuch\""), std::string::npos) << r;
  EXPECT_NE(r.err.find("its sources are: events"), std::string::npos) << r;
  r = cli({"resume", "--handler", "nosuch"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("no handler named \"nosuch\""), std::string::npos) << r;
  EXPECT_NE(r.err.find("users_db"), std::string::npos) << r;
  r = cli({"pause"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("pause needs a SOURCE or --handler NAME"), std::string::npos) << r;
  RedisClient client = redis_.client();
  EXPECT_TRUE(client.keys("*").empty());  // nothing was written
}

// A handler paused, then removed from routes.yaml by a reload: its parked deliveries do not wait
// forever at the never-due score; they become dead letters naming the handler (to replay once it
// is back), and `resume --handler` still clears the pause of the handler that is gone.
TEST_F(PauseTest, AHandlerRemovedWhilePausedHasItsParkedDeliveriesDeadLettered) {
  constexpr int kUsers = 40;
  start();
  CommandResult r = cli({"pause", "--handler", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r;
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_paused", {{"handler", "audit"}}) == 1.0;
      },
      10s, "switchyard_paused{handler=\"audit\"} to be 1"))
      << daemon_.log_tail();
  RedisClient client = redis_.client();
  std::vector<std::string> events;
  for (int i = 1; i <= kUsers; ++i) events.push_back(user_registered(i));
  client.rpush_many("events", events, 100);
  ASSERT_TRUE(
      wait_until([&] { return users() == kUsers && client.zcard("events:retry") == kUsers; }, 30s,
                 "users_db to get every event and audit's to be parked"))
      << daemon_.log_tail();

  RoutesYaml spec;
  spec.redis_url = redis_.url();
  spec.plugins_dir = plugins_;
  spec.database = dir_.file("analytics.db");
  spec.source_extra = "batch: 50";
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port_) + "\" }";
  ops::write_atomically(config_, routes_yaml(spec));  // audit is gone
  ASSERT_TRUE(daemon_.reload());
  ASSERT_TRUE(wait_until(
      [&] { return client.zcard("events:retry") == 0 && client.llen("events:dead") == kUsers; },
      30s, "the deliveries parked for the removed handler to be dead-lettered"))
      << daemon_.log_tail();
  const std::string letter = client.command({"LINDEX", "events:dead", "0"}).str;
  EXPECT_NE(letter.find("handler audit is no longer in"), std::string::npos) << letter;
  EXPECT_NE(letter.find("\"handler\":\"audit\""), std::string::npos) << letter;
  EXPECT_NE(daemon_.log().find("pauses 1 handler(s) not in"), std::string::npos)
      << daemon_.log_tail();
  EXPECT_TRUE(file_lines(dir_.file("audit.jsonl")).empty());

  r = cli({"resume", "--handler", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("resumed handler audit for source events"), std::string::npos) << r;
  EXPECT_EQ(client.command({"HLEN", "events:paused"}).integer, 0);
  r = cli({"resume", "--handler", "audit"});  // nothing paused, not configured: a usage error
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(users(), kUsers);
}

// The daemon killed (SIGKILL) while a handler's deliveries are parked, the handler resumed while
// no daemon runs: the next daemon makes them due at its first look, and each reaches the handler
// once.
TEST_F(PauseTest, AResumeWhileTheDaemonIsDownIsObeyedByTheNextOne) {
  constexpr int kUsers = 60;
  start();
  ASSERT_EQ(cli({"pause", "--handler", "audit"}).exit_code, 0);
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_paused", {{"handler", "audit"}}) == 1.0;
      },
      10s, "switchyard_paused{handler=\"audit\"} to be 1"))
      << daemon_.log_tail();
  RedisClient client = redis_.client();
  std::vector<std::string> events;
  for (int i = 1; i <= kUsers; ++i) events.push_back(user_registered(i));
  client.rpush_many("events", events, 100);
  ASSERT_TRUE(
      wait_until([&] { return users() == kUsers && client.zcard("events:retry") == kUsers; }, 30s,
                 "audit's deliveries to be parked"))
      << daemon_.log_tail();
  daemon_.kill9();
  CommandResult r = cli({"resume", "--handler", "audit"});
  ASSERT_EQ(r.exit_code, 0) << r;
  start();
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(dir_.file("audit.jsonl")).size() >= kUsers &&
               client.zcard("events:retry") == 0;
      },
      30s, "audit to get every parked delivery after the restart"))
      << daemon_.log_tail();
  const std::vector<std::string> lines = file_lines(dir_.file("audit.jsonl"));
  EXPECT_EQ(lines.size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()).size(), static_cast<size_t>(kUsers));
  EXPECT_EQ(client.llen("events:dead"), 0);
}

// K:paused replaced by a string: the command names the key and says what to do, and changes it not.
TEST_F(PauseTest, APausedKeyOfAnotherTypeIsNamedWithWhatToDo) {
  RedisClient client = redis_.client();
  client.command({"SET", "events:paused", "junk"});
  CommandResult r = cli({"pause", "events"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("events:paused is not a hash"), std::string::npos) << r;
  EXPECT_NE(r.err.find("DEL it"), std::string::npos) << r;
  EXPECT_EQ(client.command({"GET", "events:paused"}).str, "junk");
}

}  // namespace
}  // namespace switchyard::test
