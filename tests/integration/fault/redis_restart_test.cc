// redis_restart_test.cc: Redis restarted twice under load; the daemon survives, counts exact.
#include <gtest/gtest.h>

#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

class RedisRestartTest : public FaultTest {};

TEST_P(RedisRestartTest, DaemonSurvivesTwoRestartsUnderLoad) {
  constexpr size_t kEvents = 40'000;
  constexpr int kRestarts = 2;
  Rig rig(kind(), {}, durable_redis());
  rig.write_config(fault_spec("batch: 100\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 2s"));
  std::mt19937_64 rng = seeded_rng();

  Feed feed(rig, mixed_events(kEvents));
  const std::vector<std::string> bad = bad_messages();
  feed.push(kEvents / 2);
  rig.publish({bad.begin(), bad.begin() + 5});

  SwitchyardProcess daemon = rig.start();
  const pid_t pid = daemon.pid();
  for (int restart = 1; restart <= kRestarts; ++restart) {
    // Under load: the daemon is busy with a backlog when Redis goes away.
    const int64_t before = rig.rows();
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= before + 2'000; }, 30s,
                           "progress before Redis restart #" + std::to_string(restart)))
        << daemon.log_tail();
    if (rig.pending() < 2'000) feed.push(kEvents / 8);  // keep it under load
    if (restart == 1) {
      rig.redis().restart();  // SIGTERM (the AOF is flushed), then the same socket again
    } else {
      // A longer outage: the daemon notices, backs off, and keeps its batches in hand.
      rig.redis().stop();
      ASSERT_TRUE(wait_until(
          [&] { return occurrences(daemon.log(), "unreachable") >= static_cast<size_t>(restart); },
          10s, "the daemon to notice outage #" + std::to_string(restart)))
          << daemon.log_tail();
      std::this_thread::sleep_for(
          std::chrono::milliseconds(std::uniform_int_distribution<int>(100, 1'500)(rng)));
      rig.redis().start();
    }
    ASSERT_TRUE(daemon.is_running()) << daemon.log_tail();
    // Producers carry on once Redis is back.
    ASSERT_TRUE(wait_until([&] { return rig.client().ping(); }, 10s, "the test client"));
    feed.push(kEvents / 4);
    if (restart == kRestarts) rig.publish({bad.begin() + 5, bad.end()});
    const int64_t after = rig.rows();
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= after + 1'000; }, 30s,
                           "progress after Redis restart #" + std::to_string(restart)))
        << daemon.log_tail();
  }
  feed.push_rest();
  ASSERT_EQ(feed.pushed(), kEvents);

  const int64_t half = static_cast<int64_t>(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 60s,
                         "every event handled after the restarts"))
      << rig.describe() << "\n"
      << daemon.log_tail();

  // The same process, still running, that noticed each outage and recovered from it.
  ASSERT_TRUE(daemon.is_running()) << daemon.log_tail();
  EXPECT_EQ(daemon.pid(), pid);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  const std::string log = daemon.log();
  EXPECT_GE(occurrences(log, "unreachable"), static_cast<size_t>(kRestarts)) << log;
  EXPECT_GE(occurrences(log, "reachable again"), static_cast<size_t>(kRestarts)) << log;
  // Logged once per change of state, not once per reconnect attempt or per thread.
  EXPECT_LE(occurrences(log, "unreachable"), static_cast<size_t>(3 * kRestarts)) << log;

  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  rig.expect_drained_state();
  rig.expect_dead_exactly(bad);
}

INSTANTIATE_FAULT_SUITE(RedisRestartTest);

}  // namespace
}  // namespace switchyard::test::fault
