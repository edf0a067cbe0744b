// dlq_replay_test.cc: dlq list/show/purge, and replay that runs only the handler that failed.
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

// Two attempts, 10 ms to 100 ms apart: failures reach K:dead fast.
RoutesYaml dlq_spec(const std::string& source_extra) {
  return fault_spec(source_extra, "5s", /*max_attempts=*/2);
}

// Lines of `text` starting with a dead-letter id (one per dead letter in `dlq list`).
size_t listed(const std::string& text) {
  size_t n = 0;
  for (const auto& line : split_lines(text))
    if (line.size() > kDeadLetterIdDigits &&
        line.find_first_not_of("0123456789abcdef") == kDeadLetterIdDigits)
      ++n;
  return n;
}

class DlqReplayTest : public FaultTest {};

TEST_P(DlqReplayTest, ReplayOfAFanOutFailureRunsOnlyTheFailedHandler) {
  constexpr int64_t kEvents = 600;  // 300 users + 300 quotes
  Rig rig(kind(), {"flaky_sink"});
  RoutesYaml spec = dlq_spec("batch: 64\nworkers: 2\nreclaim_after: 1s");
  // flaky fails twice per message and max_attempts is 2: every quote is dead-lettered for flaky
  // alone; afterwards flaky is "fixed" (its failures for those messages are used up).
  spec.extra_handlers =
      audit_handler(rig.file("audit.jsonl")) + flaky_handler(rig.file("flaky.out"), 2);
  spec.extra_routes = "\"quote.*\": [audit, flaky]";
  rig.write_config(spec);
  const std::vector<std::string> events = mixed_events(kEvents);
  std::multiset<std::string> quotes;
  for (size_t i = 1; i < events.size(); i += 2) quotes.insert(events[i]);
  rig.publish(events);

  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until(
      [&] { return rig.all_handled(kEvents / 2, kEvents / 2) && rig.dead_count() == kEvents / 2; },
      30s, "every quote dead-lettered for flaky"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  for (const auto& d : rig.dead_letters()) {
    EXPECT_EQ(d.handler, std::optional<std::string>("flaky")) << d.raw;
    EXPECT_NE(d.reason.find("gave up after 2 attempts"), std::string::npos) << d.raw;
  }
  std::vector<std::string> audit = file_lines(rig.file("audit.jsonl"));
  EXPECT_EQ(audit.size(), quotes.size());
  EXPECT_TRUE(file_lines(rig.file("flaky.out")).empty());

  // list: a header with the total, 20 letters by default; --handler and --limit select.
  CommandResult list = rig.cli({"dlq", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_NE(list.out.find(rig.dead_key() + ": 300 dead letter(s)"), std::string::npos) << list;
  EXPECT_EQ(listed(list.out), 20u) << list;
  EXPECT_NE(list.out.find("handler=flaky"), std::string::npos) << list;
  EXPECT_NE(list.out.find("event=quote.created"), std::string::npos) << list;
  EXPECT_NE(list.out.find("attempts=2"), std::string::npos) << list;
  EXPECT_NE(list.out.find("gave up after 2 attempts"), std::string::npos) << list;
  list = rig.cli({"dlq", "list", "--handler", "flaky", "--limit", "3"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_EQ(listed(list.out), 3u) << list;
  list = rig.cli({"dlq", "list", "--handler", "audit"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_EQ(listed(list.out), 0u) << list;

  // show: the whole record of one letter, message verbatim.
  const DeadLetterView first = rig.dead_letters().at(0);
  const std::string id = dead_letter_id(first.raw);
  CommandResult show = rig.cli({"dlq", "show", id});
  ASSERT_EQ(show.exit_code, 0) << show;
  EXPECT_EQ(show.out.rfind(id + " ", 0), 0u) << show;
  const DeadLetterView shown = read_dead_letter(show.out.substr(id.size() + 1));
  EXPECT_EQ(shown.message, first.message) << show;
  EXPECT_EQ(shown.handler, first.handler) << show;
  EXPECT_EQ(shown.reason, first.reason) << show;
  EXPECT_EQ(shown.attempts, 2) << show;

  // replay: back to flaky only; audit (which succeeded) must not run again.
  CommandResult replay = rig.cli({"dlq", "replay", "--handler", "flaky"});
  ASSERT_EQ(replay.exit_code, 0) << replay;
  EXPECT_NE(replay.out.find("replayed 300 dead letter(s)"), std::string::npos) << replay;
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(rig.file("flaky.out")).size() >= quotes.size() && rig.drained() &&
               rig.dead_count() == 0;
      },
      30s, "the replayed letters handled by flaky"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  const std::vector<std::string> flaky = file_lines(rig.file("flaky.out"));
  EXPECT_EQ(std::multiset<std::string>(flaky.begin(), flaky.end()), quotes);
  audit = file_lines(rig.file("audit.jsonl"));
  EXPECT_EQ(std::multiset<std::string>(audit.begin(), audit.end()), quotes)
      << "the sibling that had succeeded ran again on replay";
  EXPECT_EQ(rig.quotes(), kEvents / 2);
  EXPECT_EQ(rig.users(), kEvents / 2);
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

TEST_P(DlqReplayTest, ReplayOfAnUnroutedMessageGoesBackToItsRoutes) {
  Rig rig(kind());
  RoutesYaml spec = dlq_spec("batch: 64\nreclaim_after: 1s");
  spec.extra_handlers = audit_handler(rig.file("audit.jsonl"));
  rig.write_config(spec);
  const std::vector<std::string> late = numbered("late.event", 25);
  rig.publish(late);
  rig.publish(mixed_events(100));

  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(
      wait_until([&] { return rig.rows() == 100 && rig.drained() && rig.dead_count() == 25; }, 30s,
                 "the unrouted events dead-lettered"))
      << daemon.log_tail();
  for (const auto& d : rig.dead_letters()) {
    EXPECT_FALSE(d.handler.has_value()) << d.raw;
    EXPECT_NE(d.reason.find("no route for event \"late.event\""), std::string::npos) << d.raw;
  }
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // The operator adds the missing route, restarts, and replays the letters that failed before
  // routing (--handler -).
  spec.extra_routes = "late.event: [audit]";
  rig.write_config(spec);
  daemon = rig.start();
  CommandResult replay = rig.cli({"dlq", "replay", "--handler", "-"});
  ASSERT_EQ(replay.exit_code, 0) << replay;
  EXPECT_NE(replay.out.find("replayed 25 dead letter(s)"), std::string::npos) << replay;
  ASSERT_TRUE(wait_until(
      [&] { return file_lines(rig.file("audit.jsonl")).size() >= late.size() && rig.drained(); },
      30s, "the replayed events handled by their new route"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  const std::vector<std::string> audit = file_lines(rig.file("audit.jsonl"));
  EXPECT_EQ(std::multiset<std::string>(audit.begin(), audit.end()),
            std::multiset<std::string>(late.begin(), late.end()));
  EXPECT_EQ(rig.dead_count(), 0);
  EXPECT_EQ(rig.rows(), 100);
  rig.expect_drained_state();
}

TEST_P(DlqReplayTest, PurgeSelectsByHandlerIdOrEverything) {
  Rig rig(kind(), {"reject_sink", "throwing_sink"});
  RoutesYaml spec = dlq_spec("batch: 64\nreclaim_after: 1s");
  spec.extra_handlers = "rejecter:\n  plugin: reject_sink\nthrower:\n  plugin: throwing_sink";
  spec.extra_routes = "bad.a: [rejecter]\nbad.b: [thrower]";
  rig.write_config(spec);
  rig.publish(numbered("bad.a", 10));
  rig.publish(numbered("bad.b", 7));
  rig.publish(numbered("bad.c", 3));  // no route

  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(
      wait_until([&] { return rig.drained() && rig.dead_count() == 20; }, 30s, "20 dead letters"))
      << daemon.log_tail();

  CommandResult r = rig.cli({"dlq", "list", "--handler", "rejecter", "--limit", "100"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(listed(r.out), 10u) << r;
  r = rig.cli({"dlq", "list", "--handler", "-", "--limit", "100"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(listed(r.out), 3u) << r;

  // Replaying to a handler that still rejects puts the letters back, never loses them.
  r = rig.cli({"dlq", "replay", "--handler", "rejecter", "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("replayed 2 dead letter(s)"), std::string::npos) << r;
  ASSERT_TRUE(wait_until([&] { return rig.drained() && rig.dead_count() == 20; }, 30s,
                         "the replayed letters rejected again"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  r = rig.cli({"dlq", "purge", "--handler", "rejecter"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 10 dead letter(s)"), std::string::npos) << r;
  std::multiset<std::string> handlers;
  for (const auto& d : rig.dead_letters()) handlers.insert(d.handler.value_or("-"));
  EXPECT_EQ(handlers, (std::multiset<std::string>{"thrower", "thrower", "thrower", "thrower",
                                                  "thrower", "thrower", "thrower", "-", "-", "-"}));

  r = rig.cli({"dlq", "purge", "--handler", "-"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 3 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(rig.dead_count(), 7);

  const std::string second = rig.client().lrange(rig.dead_key(), 1, 1).at(0);
  r = rig.cli({"dlq", "purge", dead_letter_id(rig.client().lrange(rig.dead_key(), 0, 0).at(0))});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 1 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(rig.dead_count(), 6);
  EXPECT_EQ(rig.client().lrange(rig.dead_key(), 0, 0).at(0), second);

  r = rig.cli({"dlq", "purge"});
  EXPECT_EQ(r.exit_code, 2) << "every letter, without --yes: " << r;
  EXPECT_EQ(rig.dead_count(), 6);
  r = rig.cli({"dlq", "purge", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 6 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

INSTANTIATE_FAULT_SUITE(DlqReplayTest);

}  // namespace
}  // namespace switchyard::test::fault
