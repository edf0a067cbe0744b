// pace_test.cc: max_rate, max_in_flight and dedup through the real daemon, real plugins and a
// real redis-server: a paced handler does not slow an unpaced one on the same events; at most
// max_in_flight calls overlap across two instances; dedup skips a duplicate and keeps the
// distinct, yet a delivery whose handler failed is handled on its retry; a message without the
// dedup key is handled, counted and logged once.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "integration/pace/pace_fixture.h"
#include "support/events.h"
#include "support/lua_eval.h"
#include "support/wait.h"

namespace switchyard::test::pace {
namespace {

using namespace std::chrono_literals;

class PaceTest : public PaceFixture {};

std::vector<std::string> users(int first, int n) {
  std::vector<std::string> out;
  for (int i = first; i < first + n; ++i) out.push_back(user_registered(i));
  return out;
}

TEST_F(PaceTest, APacedHandlerDoesNotSlowTheUnpacedHandlerOfTheSameEvents) {
  constexpr int kEvents = 100;
  const std::string fast = dir_.file("fast.jsonl"), paced = dir_.file("paced.jsonl");
  write_config(0, "batch: 20",
               "fast:\n  plugin: jsonl_sink\n  config: { path: \"" + fast +
                   "\" }\npaced:\n  plugin: jsonl_sink\n  max_rate: 20/s\n  config: { path: \"" +
                   paced + "\" }",
               "user.registered: [fast, paced]");
  start(0);
  RedisClient client = redis_.client();
  client.rpush_many("events", users(1, kEvents), 100);
  ASSERT_TRUE(wait_until(
      [&] {
        return lines(fast).size() == static_cast<size_t>(kEvents) && client.llen("events") == 0;
      },
      20s, "the unpaced handler to get every event"))
      << logs();
  // Held to 20/s (a bucket of 2), the paced handler needs about 5 s for all of them: had the
  // fast one waited for it, it could not have finished first.
  const size_t paced_then = lines(paced).size();
  EXPECT_LT(paced_then, static_cast<size_t>(kEvents))
      << "the unpaced handler finished only when the paced one did";
  EXPECT_GT(client.zcard("events:retry"), 0) << "the paced handler's share waits in K:retry";
  EXPECT_GT(counter(0, "switchyard_handler_rate_limited_total", "handler", "paced"), 0);
  ASSERT_TRUE(wait_until(
      [&] {
        return distinct_lines(paced).size() == static_cast<size_t>(kEvents) &&
               client.zcard("events:retry") == 0;
      },
      60s, "the paced handler to get every event, at its pace"))
      << logs();
  EXPECT_EQ(lines(fast).size(), static_cast<size_t>(kEvents));  // never run again
  EXPECT_EQ(client.llen("events:dead"), 0);
  CommandResult r = SwitchyardProcess::exec({"stats", "-c", configs_[0]});
  EXPECT_NE(r.out.find("limits: handler paced, max_rate 20/s per source"), std::string::npos) << r;
}

// The most [start, end] intervals of `calls` (lines "<start ns> <end ns>") that overlap at once.
int most_overlapping(const std::vector<std::string>& calls) {
  std::vector<std::pair<int64_t, int>> edges;
  for (const std::string& line : calls) {
    const size_t space = line.find(' ');
    edges.emplace_back(std::stoll(line.substr(0, space)), 1);
    edges.emplace_back(std::stoll(line.substr(space + 1)), -1);
  }
  std::sort(edges.begin(), edges.end());  // at a tie an end (-1) comes before a start
  int now = 0, most = 0;
  for (const auto& [t, d] : edges) most = std::max(most, now += d);
  return most;
}

TEST_F(PaceTest, MaxInFlightHoldsAcrossTwoInstances) {
  constexpr int kEvents = 120;
  const std::string sink = dir_.file("slow.jsonl"), calls = dir_.file("calls.txt");
  const std::string handler =
      "slow:\n  plugin: overlap_sink\n  max_in_flight: 1\n"
      "  config: { path: \"" +
      sink + "\", calls: \"" + calls + "\", sleep_ms: 40 }";
  write_config(0, "batch: 4\nworkers: 2", handler, "user.registered: [slow]");
  write_config(1, "batch: 4\nworkers: 2", handler, "user.registered: [slow]");
  start(0);
  start(1);
  RedisClient client = redis_.client();
  client.rpush_many("events", users(1, kEvents), 10);
  ASSERT_TRUE(wait_until(
      [&] {
        return distinct_lines(sink).size() == static_cast<size_t>(kEvents) &&
               client.zcard("events:retry") == 0 && client.llen("events") == 0;
      },
      90s, "every event to be handled"))
      << logs();
  const std::vector<std::string> call_lines = lines(calls);
  EXPECT_GE(call_lines.size(), static_cast<size_t>(kEvents / 4));
  EXPECT_EQ(most_overlapping(call_lines), 1) << "max_in_flight: 1 let calls overlap";
  // Both instances took events, and some calls had to wait for the slot.
  EXPECT_GT(counter(0, "switchyard_events_received_total", "source", "events"), 0) << logs();
  EXPECT_GT(counter(1, "switchyard_events_received_total", "source", "events"), 0) << logs();
  EXPECT_GT(counter(0, "switchyard_handler_in_flight_waits_total", "handler", "slow") +
                counter(1, "switchyard_handler_in_flight_waits_total", "handler", "slow"),
            0);
  EXPECT_EQ(client.llen("events:dead"), 0);
}

TEST_F(PaceTest, DedupSkipsTheDuplicateAndKeepsTheDistinct) {
  const std::string sink = dir_.file("dedup.jsonl"), audit = dir_.file("audit.jsonl");
  write_config(0, "batch: 50",
               "once:\n  plugin: jsonl_sink\n  dedup: { key: /payload/user_id, window: 1h }\n"
               "  config: { path: \"" +
                   sink +
                   "\" }\n"
                   "audit:\n  plugin: jsonl_sink\n  config: { path: \"" +
                   audit + "\" }",
               "user.registered: [once, audit]");
  start(0);
  RedisClient client = redis_.client();
  // 1 and 2 twice in one batch, 3 once; then 1 again in a later batch.
  client.rpush_many("events",
                    {user_registered(1), user_registered(2), user_registered(1), user_registered(3),
                     user_registered(2)},
                    5);
  ASSERT_TRUE(wait_until([&] { return lines(audit).size() == 5; }, 20s, "audit to get all 5"))
      << logs();
  client.rpush("events", user_registered(1));
  ASSERT_TRUE(wait_until([&] { return lines(audit).size() == 6; }, 20s, "audit to get the 6th"))
      << logs();
  ASSERT_TRUE(wait_until(
      [&] { return counter(0, "switchyard_handler_deduplicated_total", "handler", "once") == 3; },
      10s, "3 duplicates to be counted"))
      << logs();
  const std::vector<std::string> handled = lines(sink);
  EXPECT_EQ(handled,
            (std::vector<std::string>{user_registered(1), user_registered(2), user_registered(3)}));
  EXPECT_EQ(client.command({"EXISTS", "events:dedup:once:=1"}).integer, 1);
  EXPECT_GT(pttl(client, "events:dedup:once:=1"), 3000 * 1000);
  EXPECT_EQ(counter(0, "switchyard_handler_deduplicated_total", "handler", "audit"), 0);
}

TEST_F(PaceTest, ADeliveryWhoseHandlerFailedIsHandledOnItsRetryNotDeduplicatedAway) {
  const std::string sink = dir_.file("flaky.jsonl");
  write_config(0, "",
               "flaky:\n  plugin: flaky_sink\n  dedup: { key: /payload/user_id }\n"
               "  config: { path: \"" +
                   sink + "\", fail_times: 1 }",
               "user.registered: [flaky]");
  start(0);
  RedisClient client = redis_.client();
  client.rpush("events", user_registered(7));
  ASSERT_TRUE(
      wait_until([&] { return lines(sink).size() == 1 && client.zcard("events:retry") == 0; }, 20s,
                 "the retry to be handled"))
      << logs();
  EXPECT_EQ(counter(0, "switchyard_handler_deduplicated_total", "handler", "flaky"), 0);
  // Handled once: now a copy is a duplicate.
  client.rpush("events", user_registered(7));
  ASSERT_TRUE(wait_until(
      [&] { return counter(0, "switchyard_handler_deduplicated_total", "handler", "flaky") == 1; },
      20s, "the copy to be skipped"))
      << logs();
  EXPECT_EQ(lines(sink), std::vector<std::string>{user_registered(7)});
  EXPECT_EQ(client.llen("events:dead"), 0);
}

TEST_F(PaceTest, AMessageWithoutTheDedupKeyIsHandledCountedAndLoggedOnce) {
  const std::string sink = dir_.file("sink.jsonl");
  write_config(0, "",
               "once:\n  plugin: jsonl_sink\n  dedup: { key: /payload/event_id }\n"
               "  config: { path: \"" +
                   sink + "\" }",
               "user.registered: [once]");
  start(0);
  RedisClient client = redis_.client();
  const std::string no_key = user_registered(1);  // has no event_id
  const std::string object_key =
      R"({"event":"user.registered","payload":{"event_id":{"a":1}}})";  // not a string/number
  client.rpush_many("events", {no_key, no_key, object_key}, 1);
  ASSERT_TRUE(wait_until([&] { return lines(sink).size() == 3; }, 20s, "all three handled"))
      << logs();
  ASSERT_TRUE(wait_until(
      [&] { return counter(0, "switchyard_handler_dedup_unkeyed_total", "handler", "once") == 3; },
      10s, "3 unkeyed deliveries to be counted"))
      << logs();
  EXPECT_EQ(counter(0, "switchyard_handler_deduplicated_total", "handler", "once"), 0);
  const std::string log = daemons_[0].log();
  size_t count = 0;
  for (size_t at = log.find("dedup key /payload/event_id"); at != std::string::npos;
       at = log.find("dedup key /payload/event_id", at + 1))
    ++count;
  EXPECT_EQ(count, 1u) << logs();
}

}  // namespace
}  // namespace switchyard::test::pace
