// graceful_shutdown_test.cc: SIGTERM/SIGINT exit 0 within shutdown_timeout; nothing is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

using Clock = std::chrono::steady_clock;

int64_t ms_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count();
}

class GracefulShutdownTest : public FaultTest {};

// Starts a daemon with a log file of its own: every run of a rig appends to one log otherwise,
// where started() would find an earlier run's line.
SwitchyardProcess start(Rig& rig) {
  static int runs = 0;
  return rig.start("switchyard-" + std::to_string(++runs) + ".log");
}

// Waits until `daemon` (from start()) has logged that it consumes.
bool started(SwitchyardProcess& daemon) {
  return wait_until([&] { return daemon.log().find(": consuming ") != std::string::npos; }, 30s,
                    "the daemon to start consuming");
}

TEST_P(GracefulShutdownTest, SignalMidStreamExitsZeroWithinTimeoutAndLosesNothing) {
  constexpr size_t kEvents = 60'000;
  constexpr int kCycles = 4;
  constexpr auto kShutdownTimeout = 3s;
  Rig rig(kind());
  rig.write_config(fault_spec("batch: 256\nworkers: 2\nreclaim_after: 1s", "3s"));
  std::mt19937_64 rng = seeded_rng();

  Feed feed(rig, mixed_events(kEvents));
  feed.push(kEvents / 2);

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SwitchyardProcess daemon = start(rig);
    const int64_t before = rig.rows();
    ASSERT_TRUE(started(daemon)) << daemon.log_tail();
    // Progress, or nothing left to make progress on (an earlier run drained the backlog).
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= before + 1'000 || rig.pending() == 0; }, 30s,
                           "progress in run " + std::to_string(cycle)))
        << daemon.log_tail();
    // The producer keeps going: a chunk arrives just before the signal, so that it lands
    // mid-stream however fast this machine drains the backlog.
    feed.push(kEvents / (2 * kCycles));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 10)(rng)));
    if (rig.pending() == 0) feed.push(2'000);
    const int sig = cycle % 2 == 0 ? SIGTERM : SIGINT;
    const auto signalled = Clock::now();
    ASSERT_TRUE(daemon.signal(sig));
    const std::optional<int> status = daemon.wait_exit(kShutdownTimeout + 5s);
    const int64_t took = ms_since(signalled);
    ASSERT_TRUE(status.has_value()) << "no exit after " << strsignal(sig) << "\n"
                                    << daemon.log_tail();
    EXPECT_EQ(*status, 0) << strsignal(sig) << "\n" << daemon.log_tail();
    EXPECT_LE(took, std::chrono::duration_cast<std::chrono::milliseconds>(kShutdownTimeout).count())
        << strsignal(sig);
    // What was in hand was finished (or returned), not left in flight.
    EXPECT_EQ(rig.inflight_total(), 0) << "after " << strsignal(sig) << "\n" << daemon.log_tail();
    std::cout << "[ fault    ] " << strsignal(sig) << " with " << rig.pending() << " pending: exit "
              << *status << " after " << took << " ms\n";
  }
  feed.push_rest();

  const int64_t half = static_cast<int64_t>(kEvents / 2);
  SwitchyardProcess daemon = start(rig);
  ASSERT_TRUE(started(daemon)) << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half); }, 60s, "every event handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

TEST_P(GracefulShutdownTest, SigtermWhileRedisIsDownExitsWithinTimeoutAndLosesNothing) {
  constexpr size_t kEvents = 20'000;
  constexpr auto kShutdownTimeout = 3s;
  Rig rig(kind(), {}, durable_redis());
  rig.write_config(fault_spec("batch: 100\nworkers: 2\nreclaim_after: 1s", "3s"));
  std::mt19937_64 rng = seeded_rng();
  rig.publish(mixed_events(kEvents));

  SwitchyardProcess daemon = start(rig);
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 1'000; }, 30s, "progress"))
      << daemon.log_tail();
  rig.redis().stop();
  ASSERT_TRUE(wait_until([&] { return daemon.log().find("unreachable") != std::string::npos; }, 10s,
                         "the daemon to notice the outage"))
      << daemon.log_tail();
  // A random moment of the outage: the workers sleep in a reconnect backoff that grows to 5 s.
  std::this_thread::sleep_for(
      std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 2'500)(rng)));
  const auto signalled = Clock::now();
  ASSERT_TRUE(daemon.signal(SIGTERM));
  const std::optional<int> status = daemon.wait_exit(kShutdownTimeout + 10s);
  const int64_t took = ms_since(signalled);
  ASSERT_TRUE(status.has_value()) << daemon.log_tail();
  EXPECT_EQ(*status, 0) << daemon.log_tail();
  EXPECT_LE(took,
            std::chrono::duration_cast<std::chrono::milliseconds>(kShutdownTimeout).count() + 500)
      << daemon.log_tail();
  std::cout << "[ fault    ] SIGTERM during a Redis outage: exit " << *status << " after " << took
            << " ms\n";

  // Redis back, daemon restarted: the unacknowledged batches are redelivered, nothing is lost.
  rig.redis().start();
  daemon = start(rig);
  ASSERT_TRUE(started(daemon)) << daemon.log_tail();
  const int64_t half = static_cast<int64_t>(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half); }, 60s,
                         "every event handled after the outage"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

INSTANTIATE_FAULT_SUITE(GracefulShutdownTest);

// systemd may stop the service the moment it started: SIGTERM while the daemon is still starting
// (loading plugins, connecting to Redis) is a clean stop, exit 0, like any other. (stop() sends it
// once main() has blocked the served signals; before that the process has taken nothing, and the
// default action ends it.)
TEST(GracefulShutdownAtStartTest, SigtermRightAfterStartExitsZero) {
  Rig rig(SourceKind::kList);
  rig.write_config(fault_spec("batch: 16"));
  for (int run = 0; run < 5; ++run) {
    SwitchyardProcess daemon = start(rig);
    EXPECT_EQ(daemon.stop(10s), 0) << "run " << run << ":\n" << daemon.log_tail();
  }
}

}  // namespace
}  // namespace switchyard::test::fault
