// graceful_shutdown_test.cc: SIGTERM/SIGINT exit 0 within shutdown_timeout; nothing is lost.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
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

TEST(GracefulShutdownTest, SignalMidStreamExitsZeroWithinTimeoutAndLosesNothing) {
  constexpr size_t kEvents = 60'000;
  constexpr int kCycles = 4;
  constexpr auto kShutdownTimeout = 3s;
  Rig rig;
  RoutesYaml spec;
  spec.source_extra = "batch: 256\nworkers: 2\nreclaim_after: 1s";
  spec.extra_yaml =
      "retry: {max_attempts: 5, initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: 3s";
  rig.write_config(spec);
  std::mt19937_64 rng = seeded_rng();

  const std::vector<std::string> events = mixed_events(kEvents);
  size_t pushed = 0;
  auto push = [&](size_t n) {
    n = std::min(n, events.size() - pushed);
    rig.client().rpush_many(rig.key(),
                            {events.begin() + static_cast<long>(pushed),
                             events.begin() + static_cast<long>(pushed + n)},
                            50);
    pushed += n;
  };
  push(kEvents / 2);

  for (int cycle = 0; cycle < kCycles; ++cycle) {
    SwitchyardProcess daemon = rig.start();
    const int64_t before = rig.rows();
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= before + 1'000; }, 30s,
                           "progress in run " + std::to_string(cycle)))
        << daemon.log_tail();
    // The producer keeps going: a chunk arrives just before the signal, so that it lands
    // mid-stream however fast this machine drains the backlog.
    push(kEvents / (2 * kCycles));
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 10)(rng)));
    if (rig.client().llen(rig.key()) == 0) push(2'000);
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
    std::cout << "[ fault    ] " << strsignal(sig) << " with " << rig.client().llen(rig.key())
              << " pending: exit " << *status << " after " << took << " ms\n";
  }
  push(kEvents);

  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == static_cast<int64_t>(kEvents / 2) &&
               rig.quotes() == static_cast<int64_t>(kEvents / 2) && rig.drained();
      },
      60s, "every event handled"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(rig.users(), static_cast<int64_t>(kEvents / 2));
  EXPECT_EQ(rig.quotes(), static_cast<int64_t>(kEvents / 2));
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

TEST(GracefulShutdownTest, SigtermWhileRedisIsDownExitsWithinTimeoutAndLosesNothing) {
  constexpr size_t kEvents = 20'000;
  constexpr auto kShutdownTimeout = 3s;
  RedisServerOptions durable;
  durable.appendonly = true;
  durable.extra_args = {"--appendfsync", "always"};
  Rig rig({}, durable);
  RoutesYaml spec;
  spec.source_extra = "batch: 100\nworkers: 2\nreclaim_after: 1s";
  spec.extra_yaml =
      "retry: {max_attempts: 5, initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: 3s";
  rig.write_config(spec);
  std::mt19937_64 rng = seeded_rng();
  rig.client().rpush_many(rig.key(), mixed_events(kEvents), 50);

  SwitchyardProcess daemon = rig.start();
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
  daemon = rig.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == static_cast<int64_t>(kEvents / 2) &&
               rig.quotes() == static_cast<int64_t>(kEvents / 2) && rig.drained();
      },
      60s, "every event handled after the outage"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(rig.dead_count(), 0);
  rig.expect_drained_state();
}

}  // namespace
}  // namespace switchyard::test::fault
