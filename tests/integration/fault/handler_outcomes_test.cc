// handler_outcomes_test.cc: retry, reject, throw and crash outcomes end exactly as specified.
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

constexpr int64_t kGood = 1'000;  // 500 users + 500 quotes flowing alongside the failures
const char* kFastRetry = "retry: {max_attempts: %d, initial_backoff: 10ms, max_backoff: 100ms}\n";

std::string retry_yaml(int max_attempts) {
  char buf[128];
  std::snprintf(buf, sizeof buf, kFastRetry, max_attempts);
  return std::string(buf) + "shutdown_timeout: 5s\n";
}

// n envelopes of `event`, payload {"n": i}, distinct bytes.
std::vector<std::string> numbered(const std::string& event, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(envelope(event, "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

// Interleaves `special` into the good stream (one every few good messages).
std::vector<std::string> interleave(std::vector<std::string> good,
                                    const std::vector<std::string>& special) {
  std::vector<std::string> out;
  size_t step = special.empty() ? 1 : std::max<size_t>(1, good.size() / special.size());
  size_t s = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    if (i % step == step / 2 && s < special.size()) out.push_back(special[s++]);
    out.push_back(std::move(good[i]));
  }
  while (s < special.size()) out.push_back(special[s++]);
  return out;
}

// Waits until the good messages are in SQLite, the queue is drained and `dead` letters exist.
void wait_settled(
    Rig& rig, SwitchyardProcess& daemon, int64_t dead,
    const std::function<bool()>& extra = [] { return true; }) {
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == kGood / 2 && rig.quotes() == kGood / 2 && rig.drained() &&
               rig.dead_count() == dead && extra();
      },
      30s, "the good messages handled, the failures settled"))
      << "users " << rig.users() << ", quotes " << rig.quotes() << ", pending "
      << rig.client().llen(rig.key()) << ", retrying " << rig.client().zcard(rig.key() + ":retry")
      << ", in flight " << rig.inflight_total() << ", dead " << rig.dead_count() << "\n"
      << daemon.log_tail();
}

TEST(HandlerOutcomesTest, TransientFailuresAreRetriedUntilTheyPass) {
  Rig rig({"flaky_sink"});
  RoutesYaml spec;
  spec.source_extra = "batch: 64\nworkers: 2\nreclaim_after: 1s";
  spec.extra_handlers = "flaky:\n  plugin: flaky_sink\n  config: { path: \"" +
                        rig.file("flaky.out") + "\", fail_times: 2 }";
  spec.extra_routes = "flaky.job: [flaky]";
  spec.extra_yaml = retry_yaml(5);
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 200);
  rig.client().rpush_many(rig.key(), interleave(mixed_events(kGood), flaky), 50);

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 0, [&] { return file_lines(rig.file("flaky.out")).size() >= 200; });
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // Every message handled exactly once, after exactly two transient failures; none dead.
  const std::vector<std::string> lines = file_lines(rig.file("flaky.out"));
  EXPECT_EQ(lines.size(), 200u);
  EXPECT_EQ(distinct_count(lines), 200u);
  EXPECT_EQ(std::multiset<std::string>(lines.begin(), lines.end()),
            std::multiset<std::string>(flaky.begin(), flaky.end()));
  EXPECT_EQ(query_int(rig.file("flaky.out") + ".attempts.db",
                      "SELECT count(*) FROM attempts WHERE failures = 2"),
            200);
  EXPECT_EQ(rig.dead_count(), 0);
  EXPECT_EQ(rig.users(), kGood / 2);
  EXPECT_EQ(rig.quotes(), kGood / 2);
  rig.expect_drained_state();
}

TEST(HandlerOutcomesTest, TransientFailuresPastMaxAttemptsAreDeadLettered) {
  Rig rig({"flaky_sink"});
  RoutesYaml spec;
  spec.source_extra = "batch: 64\nworkers: 2\nreclaim_after: 1s";
  spec.extra_handlers = "flaky:\n  plugin: flaky_sink\n  config: { path: \"" +
                        rig.file("flaky.out") + "\", fail_times: 3 }";
  spec.extra_routes = "flaky.job: [flaky]";
  spec.extra_yaml = retry_yaml(2);
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 50);
  rig.client().rpush_many(rig.key(), interleave(mixed_events(kGood), flaky), 50);

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 50);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  std::multiset<std::string> dead_messages;
  for (const auto& d : rig.dead_letters()) {
    dead_messages.insert(d.message);
    EXPECT_EQ(d.handler, std::optional<std::string>("flaky")) << d.raw;
    EXPECT_NE(d.reason.find("gave up after 2 attempts"), std::string::npos) << d.raw;
    EXPECT_NE(d.reason.find("transient failure 2 of 3"), std::string::npos) << d.raw;
    EXPECT_EQ(d.attempts, 2) << d.raw;
    EXPECT_EQ(d.source, "events") << d.raw;
    EXPECT_FALSE(d.failed_at.empty()) << d.raw;
    EXPECT_FALSE(d.instance.empty()) << d.raw;
  }
  EXPECT_EQ(dead_messages, std::multiset<std::string>(flaky.begin(), flaky.end()));
  EXPECT_TRUE(file_lines(rig.file("flaky.out")).empty());
  EXPECT_EQ(query_int(rig.file("flaky.out") + ".attempts.db",
                      "SELECT count(*) FROM attempts WHERE failures = 2"),
            50);
  rig.expect_drained_state();
}

// One handler that answers REJECT or throws: every routed message dead-lettered at once, with
// the handler's name and its reason, the first time.
void expect_permanent_failures(const std::string& plugin, const std::string& reason) {
  Rig rig({plugin});
  RoutesYaml spec;
  spec.source_extra = "batch: 64\nworkers: 2\nreclaim_after: 1s";
  spec.extra_handlers = "failing:\n  plugin: " + plugin;
  spec.extra_routes = "doomed.job: [failing]";
  spec.extra_yaml = retry_yaml(5);
  rig.write_config(spec);
  const std::vector<std::string> doomed = numbered("doomed.job", 30);
  rig.client().rpush_many(rig.key(), interleave(mixed_events(kGood), doomed), 50);

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 30);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  std::multiset<std::string> dead_messages;
  for (const auto& d : rig.dead_letters()) {
    dead_messages.insert(d.message);
    EXPECT_EQ(d.handler, std::optional<std::string>("failing")) << d.raw;
    EXPECT_EQ(d.reason, reason) << d.raw;
    EXPECT_EQ(d.attempts, 1) << d.raw;
  }
  EXPECT_EQ(dead_messages, std::multiset<std::string>(doomed.begin(), doomed.end()));
  EXPECT_EQ(rig.users(), kGood / 2);
  EXPECT_EQ(rig.quotes(), kGood / 2);
  rig.expect_drained_state();
}

TEST(HandlerOutcomesTest, RejectIsDeadLetteredAtOnceWithHandlerAndReason) {
  expect_permanent_failures("reject_sink", "rejected by reject_sink");
}

TEST(HandlerOutcomesTest, ExceptionIsARejectWithItsText) {
  expect_permanent_failures("throwing_sink", "boom from throwing_sink");
}

TEST(HandlerOutcomesTest, MessageThatCrashesTheProcessIsDeadLetteredAfterMaxDeliveries) {
  constexpr int kMaxDeliveries = 3;
  Rig rig({"crash_sink"});
  RoutesYaml spec;
  spec.source_extra = "batch: 32\nworkers: 1\nmax_deliveries: " + std::to_string(kMaxDeliveries) +
                      "\nreclaim_after: 1s";
  // Every event also goes to crash_sink, which aborts the process on the marked one.
  spec.extra_handlers =
      "crasher:\n  plugin: crash_sink\n  config: { path: \"" + rig.file("crash.out") + "\" }";
  spec.extra_routes = "\"*\": [crasher]";
  spec.extra_yaml = retry_yaml(5);
  rig.write_config(spec);
  const std::string poison = envelope("poison.pill", "{\"crash\":true,\"n\":1}");
  const std::vector<std::string> good = mixed_events(kGood);
  rig.client().rpush_many(rig.key(), interleave(good, {poison}), 50);

  // Restart the daemon whenever it dies, as systemd (Restart=on-failure) would; bounded.
  SwitchyardProcess daemon = rig.start();
  std::vector<int> exits;
  auto settled = [&] {
    return rig.users() == kGood / 2 && rig.quotes() == kGood / 2 && rig.drained() &&
           rig.dead_count() == 1;
  };
  for (int runs = 0; runs < 3 * kMaxDeliveries; ++runs) {
    ASSERT_TRUE(wait_until([&] { return !daemon.is_running() || settled(); }, 30s,
                           "the daemon to crash or to finish"))
        << daemon.log_tail();
    if (daemon.is_running()) break;
    exits.push_back(daemon.process().exit_status().value_or(-1));
    daemon = rig.start();
  }
  ASSERT_TRUE(wait_until(settled, 30s, "the stream settled")) << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // Exactly max_deliveries crashes (SIGABRT), then the poison is dead-lettered by the restart.
  EXPECT_EQ(exits, std::vector<int>(kMaxDeliveries, 128 + SIGABRT));
  std::vector<DeadLetterView> dead = rig.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message, poison);
  EXPECT_EQ(dead[0].reason, "exceeded max deliveries (" + std::to_string(kMaxDeliveries) + ")");
  EXPECT_EQ(dead[0].attempts, kMaxDeliveries);
  EXPECT_EQ(dead[0].source, "events");

  // Unaffected messages: in SQLite exactly once; in crash_sink's output at least once each.
  EXPECT_EQ(rig.users(), kGood / 2);
  EXPECT_EQ(rig.quotes(), kGood / 2);
  const std::vector<std::string> lines = file_lines(rig.file("crash.out"));
  EXPECT_EQ(distinct_count(lines), static_cast<size_t>(kGood));
  EXPECT_GE(lines.size(), static_cast<size_t>(kGood));
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            std::set<std::string>(good.begin(), good.end()));
  rig.expect_drained_state();
}

TEST(HandlerOutcomesTest, RetriesWaitDurablyInTheScheduleWhileOthersFlow) {
  Rig rig({"flaky_sink"});
  RoutesYaml spec;
  spec.source_extra = "batch: 64\nworkers: 2\nreclaim_after: 1s";
  // flaky never recovers; its retry waits 2..4 s, far longer than the good stream needs.
  spec.extra_handlers = "flaky:\n  plugin: flaky_sink\n  config: { path: \"" +
                        rig.file("flaky.out") + "\", fail_times: 1000 }";
  spec.extra_routes = "flaky.job: [flaky]";
  spec.extra_yaml =
      "retry: {max_attempts: 2, initial_backoff: 4s, max_backoff: 4s}\nshutdown_timeout: 5s\n";
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 50);
  rig.client().rpush_many(rig.key(), interleave(mixed_events(kGood), flaky), 50);

  SwitchyardProcess daemon = rig.start();
  // The good messages are all handled while the failed ones wait in K:retry (in Redis, not in
  // memory nor in the in-flight list).
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == kGood / 2 && rig.quotes() == kGood / 2 &&
               rig.client().llen(rig.key()) == 0 && rig.inflight_total() == 0;
      },
      30s, "the good messages handled"))
      << daemon.log_tail();
  EXPECT_EQ(rig.client().zcard(rig.key() + ":retry"), 50);
  EXPECT_EQ(rig.dead_count(), 0);

  // A crash while they wait loses none of them, and does not run them early or twice.
  daemon.kill9();
  daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.drained() && rig.dead_count() == 50; }, 30s,
                         "the retries to run out"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  std::multiset<std::string> dead_messages;
  for (const auto& d : rig.dead_letters()) {
    dead_messages.insert(d.message);
    EXPECT_EQ(d.handler, std::optional<std::string>("flaky")) << d.raw;
    EXPECT_NE(d.reason.find("gave up after 2 attempts"), std::string::npos) << d.raw;
    EXPECT_EQ(d.attempts, 2) << d.raw;
  }
  EXPECT_EQ(dead_messages, std::multiset<std::string>(flaky.begin(), flaky.end()));
  EXPECT_EQ(query_int(rig.file("flaky.out") + ".attempts.db",
                      "SELECT count(*) FROM attempts WHERE failures = 2"),
            50);
  rig.expect_drained_state();
}

TEST(HandlerOutcomesTest, FanOutRetriesOnlyTheFailingHandler) {
  Rig rig({"flaky_sink"});
  RoutesYaml spec;
  spec.source_extra = "batch: 64\nworkers: 2\nreclaim_after: 1s";
  spec.extra_handlers = "audit:\n  plugin: jsonl_sink\n  config: { path: \"" +
                        rig.file("audit.jsonl") + "\" }\n" +
                        "flaky:\n  plugin: flaky_sink\n  config: { path: \"" +
                        rig.file("flaky.out") + "\", fail_times: 2 }";
  // quote.created goes to quotes_db (exact route) and to audit + flaky (glob route).
  spec.extra_routes = "\"quote.*\": [audit, flaky]";
  spec.extra_yaml = retry_yaml(5);
  rig.write_config(spec);
  const std::vector<std::string> events = mixed_events(kGood);
  rig.client().rpush_many(rig.key(), events, 50);
  std::vector<std::string> quotes;
  for (size_t i = 1; i < events.size(); i += 2) quotes.push_back(events[i]);

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 0,
               [&] { return file_lines(rig.file("flaky.out")).size() >= quotes.size(); });
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // quotes_db and audit ran once per quote although flaky failed twice for each of them.
  EXPECT_EQ(rig.quotes(), kGood / 2);
  const std::vector<std::string> audit = file_lines(rig.file("audit.jsonl"));
  EXPECT_EQ(audit.size(), quotes.size()) << "the succeeded sibling ran again";
  EXPECT_EQ(std::multiset<std::string>(audit.begin(), audit.end()),
            std::multiset<std::string>(quotes.begin(), quotes.end()));
  const std::vector<std::string> flaky = file_lines(rig.file("flaky.out"));
  EXPECT_EQ(flaky.size(), quotes.size());
  EXPECT_EQ(std::multiset<std::string>(flaky.begin(), flaky.end()),
            std::multiset<std::string>(quotes.begin(), quotes.end()));
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

}  // namespace
}  // namespace switchyard::test::fault
