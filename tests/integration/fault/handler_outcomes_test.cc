// handler_outcomes_test.cc: retry, reject, throw and crash outcomes end exactly as specified.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

constexpr int64_t kGood = 1'000;  // 500 users + 500 quotes flowing alongside the failures
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
      [&] { return rig.all_handled(kGood / 2, kGood / 2) && rig.dead_count() == dead && extra(); },
      30s, "the good messages handled, the failures settled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
}

class HandlerOutcomesTest : public FaultTest {};

TEST_P(HandlerOutcomesTest, TransientFailuresAreRetriedUntilTheyPass) {
  Rig rig(kind(), {"flaky_sink"});
  RoutesYaml spec = fault_spec("batch: 64\nworkers: 2\nreclaim_after: 1s", "5s", 5);
  spec.extra_handlers = flaky_handler(rig.file("flaky.out"), 2);
  spec.extra_routes = "flaky.job: [flaky]";
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 200);
  rig.publish(interleave(mixed_events(kGood), flaky));

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

TEST_P(HandlerOutcomesTest, TransientFailuresPastMaxAttemptsAreDeadLettered) {
  Rig rig(kind(), {"flaky_sink"});
  RoutesYaml spec = fault_spec("batch: 64\nworkers: 2\nreclaim_after: 1s", "5s", 2);
  spec.extra_handlers = flaky_handler(rig.file("flaky.out"), 3);
  spec.extra_routes = "flaky.job: [flaky]";
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 50);
  rig.publish(interleave(mixed_events(kGood), flaky));

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 50);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  for (const auto& d : rig.dead_letters()) {
    EXPECT_EQ(d.handler, std::optional<std::string>("flaky")) << d.raw;
    EXPECT_NE(d.reason.find("gave up after 2 attempts"), std::string::npos) << d.raw;
    EXPECT_NE(d.reason.find("transient failure 2 of 3"), std::string::npos) << d.raw;
    EXPECT_EQ(d.attempts, 2) << d.raw;
    EXPECT_EQ(d.source, "events") << d.raw;
    EXPECT_FALSE(d.failed_at.empty()) << d.raw;
    EXPECT_FALSE(d.instance.empty()) << d.raw;
  }
  rig.expect_dead_exactly(flaky);
  EXPECT_TRUE(file_lines(rig.file("flaky.out")).empty());
  EXPECT_EQ(query_int(rig.file("flaky.out") + ".attempts.db",
                      "SELECT count(*) FROM attempts WHERE failures = 2"),
            50);
  rig.expect_drained_state();
}

// One handler that answers REJECT or throws: every routed message dead-lettered at once, with
// the handler's name and its reason, the first time.
void expect_permanent_failures(SourceKind kind, const std::string& plugin,
                               const std::string& reason) {
  Rig rig(kind, {plugin});
  RoutesYaml spec = fault_spec("batch: 64\nworkers: 2\nreclaim_after: 1s", "5s", 5);
  spec.extra_handlers = "failing:\n  plugin: " + plugin;
  spec.extra_routes = "doomed.job: [failing]";
  rig.write_config(spec);
  const std::vector<std::string> doomed = numbered("doomed.job", 30);
  rig.publish(interleave(mixed_events(kGood), doomed));

  SwitchyardProcess daemon = rig.start();
  wait_settled(rig, daemon, 30);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  for (const auto& d : rig.dead_letters()) {
    EXPECT_EQ(d.handler, std::optional<std::string>("failing")) << d.raw;
    EXPECT_EQ(d.reason, reason) << d.raw;
    EXPECT_EQ(d.attempts, 1) << d.raw;
  }
  rig.expect_dead_exactly(doomed);
  EXPECT_EQ(rig.users(), kGood / 2);
  EXPECT_EQ(rig.quotes(), kGood / 2);
  rig.expect_drained_state();
}

TEST_P(HandlerOutcomesTest, RejectIsDeadLetteredAtOnceWithHandlerAndReason) {
  expect_permanent_failures(kind(), "reject_sink", "rejected by reject_sink");
}

TEST_P(HandlerOutcomesTest, ExceptionIsARejectWithItsText) {
  expect_permanent_failures(kind(), "throwing_sink", "boom from throwing_sink");
}

TEST_P(HandlerOutcomesTest, MessageThatCrashesTheProcessIsDeadLetteredAfterMaxDeliveries) {
  constexpr int kMaxDeliveries = 3;
  Rig rig(kind(), {"crash_sink"});
  RoutesYaml spec =
      fault_spec("batch: 32\nworkers: 1\nmax_deliveries: " + std::to_string(kMaxDeliveries) +
                     "\nreclaim_after: 1s",
                 "5s", 5);
  // Every event also goes to crash_sink, which aborts the process on the marked one.
  spec.extra_handlers =
      "crasher:\n  plugin: crash_sink\n  config: { path: \"" + rig.file("crash.out") + "\" }";
  spec.extra_routes = "\"*\": [crasher]";
  rig.write_config(spec);
  const std::string poison = envelope("poison.pill", "{\"crash\":true,\"n\":1}");
  const std::vector<std::string> good = mixed_events(kGood);
  rig.publish(interleave(good, {poison}));

  // Restart the daemon whenever it dies, as systemd (Restart=on-failure) would; bounded.
  SwitchyardProcess daemon = rig.start();
  std::vector<int> exits;
  auto settled = [&] { return rig.all_handled(kGood / 2, kGood / 2) && rig.dead_count() == 1; };
  for (int runs = 0; runs < 3 * kMaxDeliveries; ++runs) {
    ASSERT_TRUE(wait_until([&] { return !daemon.is_running() || settled(); }, 30s,
                           "the daemon to crash or to finish"))
        << daemon.log_tail();
    if (daemon.is_running()) break;
    exits.push_back(daemon.process().exit_status().value_or(-1));
    daemon = rig.start();
  }
  ASSERT_TRUE(wait_until(settled, 30s, "the stream settled")) << rig.describe() << "\n"
                                                              << daemon.log_tail();
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

TEST_P(HandlerOutcomesTest, RetriesWaitDurablyInTheScheduleWhileOthersFlow) {
  Rig rig(kind(), {"flaky_sink"});
  RoutesYaml spec = fault_spec("batch: 64\nworkers: 2\nreclaim_after: 1s");
  // flaky never recovers; its retry waits 2..4 s, far longer than the good stream needs.
  spec.extra_handlers = flaky_handler(rig.file("flaky.out"), 1000);
  spec.extra_routes = "flaky.job: [flaky]";
  spec.extra_yaml =
      "retry: {max_attempts: 2, initial_backoff: 4s, max_backoff: 4s}\nshutdown_timeout: 5s\n";
  rig.write_config(spec);
  const std::vector<std::string> flaky = numbered("flaky.job", 50);
  rig.publish(interleave(mixed_events(kGood), flaky));

  SwitchyardProcess daemon = rig.start();
  // The good messages are all handled while the failed ones wait in K:retry (in Redis, not in
  // memory nor in the in-flight list).
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == kGood / 2 && rig.quotes() == kGood / 2 && rig.pending() == 0 &&
               rig.inflight_total() == 0;
      },
      30s, "the good messages handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(rig.retrying(), 50);
  EXPECT_EQ(rig.dead_count(), 0);

  // A crash while they wait loses none of them, and does not run them early or twice.
  daemon.kill9();
  daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.drained() && rig.dead_count() == 50; }, 30s,
                         "the retries to run out"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  for (const auto& d : rig.dead_letters()) {
    EXPECT_EQ(d.handler, std::optional<std::string>("flaky")) << d.raw;
    EXPECT_NE(d.reason.find("gave up after 2 attempts"), std::string::npos) << d.raw;
    EXPECT_EQ(d.attempts, 2) << d.raw;
  }
  rig.expect_dead_exactly(flaky);
  EXPECT_EQ(query_int(rig.file("flaky.out") + ".attempts.db",
                      "SELECT count(*) FROM attempts WHERE failures = 2"),
            50);
  rig.expect_drained_state();
}

TEST_P(HandlerOutcomesTest, FanOutRetriesOnlyTheFailingHandler) {
  Rig rig(kind(), {"flaky_sink"});
  RoutesYaml spec = fault_spec("batch: 64\nworkers: 2\nreclaim_after: 1s", "5s", 5);
  spec.extra_handlers =
      audit_handler(rig.file("audit.jsonl")) + flaky_handler(rig.file("flaky.out"), 2);
  // quote.created goes to quotes_db (exact route) and to audit + flaky (glob route).
  spec.extra_routes = "\"quote.*\": [audit, flaky]";
  rig.write_config(spec);
  const std::vector<std::string> events = mixed_events(kGood);
  rig.publish(events);
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

INSTANTIATE_FAULT_SUITE(HandlerOutcomesTest);

}  // namespace
}  // namespace switchyard::test::fault
