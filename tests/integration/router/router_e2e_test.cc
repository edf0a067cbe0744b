// router_e2e_test.cc: 10,000 mixed events through the real daemon and plugins into SQLite, then
// the same 10,000 again (idempotent), nothing left in flight, clean exit on SIGTERM.
#include <csignal>

#include "router_fixture.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

TEST_F(RouterTest, TenThousandMixedEventsEndToEndAndIdempotent) {
  start_daemon(write_config(base_spec()));
  const std::vector<std::string> events = mixed_events(10'000);

  const auto t0 = std::chrono::steady_clock::now();
  client().rpush_many(kKey, events);  // (its length reply races with the consuming daemon)
  ASSERT_TRUE(wait_drained(40s, "10,000 events drained"));
  const auto first_pass = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(rows("user_registrations"), 5'000);
  EXPECT_EQ(rows("quotes"), 5'000);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0) << diagnostics();

  // The same 10,000 again: every insert is a duplicate, the counts do not move.
  client().rpush_many(kKey, events);  // (its length reply races with the consuming daemon)
  ASSERT_TRUE(wait_drained(40s, "the same 10,000 events drained again"));
  EXPECT_EQ(rows("user_registrations"), 5'000);
  EXPECT_EQ(rows("quotes"), 5'000);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0);
  EXPECT_EQ(client().zcard(std::string(kKey) + ":retry"), 0) << "nothing should be retrying";

  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0) << daemon_.log_tail();
  EXPECT_EQ(inflight_lists(), std::vector<std::string>{}) << "in-flight lists left behind";
  EXPECT_EQ(client().llen(kKey), 0);
  std::cout << "[ router    ] 10,000 events drained in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(first_pass).count() << " ms\n";
}

}  // namespace
}  // namespace switchyard::test
