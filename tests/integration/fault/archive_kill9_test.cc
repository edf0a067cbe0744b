// archive_kill9_test.cc: with `archive:` on, SIGKILLs while a backlog drains never leave a message
// acknowledged but not archived, or archived twice, for each source kind: the archive is written
// by the ack script itself.
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"
#include "support/archive.h"

namespace switchyard::test::fault {
namespace {

class ArchiveKill9Test : public FaultTest {};

TEST_P(ArchiveKill9Test, EveryHandledMessageIsArchivedExactlyOnce) {
  constexpr size_t kEvents = 20'000;  // 10,000 users + 10,000 quotes
  constexpr int kKills = 8;
  Rig rig(kind());
  rig.write_config(
      fault_spec("batch: 256\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s\n"
                 "archive: { retention: 1d, max_len: 1000000 }"));
  std::mt19937_64 rng = seeded_rng();

  std::vector<std::string> messages = mixed_events(kEvents);
  const std::vector<std::string> bad = bad_messages();
  for (size_t i = 0; i < bad.size(); ++i)
    messages.insert(messages.begin() + static_cast<long>((i + 1) * kEvents / (bad.size() + 1)),
                    bad[i]);
  rig.publish(messages);

  // Each run makes progress, then dies at a moment a batch is held when one can be caught (the
  // window between a batch's handling and its ack is where an archive written apart would
  // diverge).
  int kills_mid_batch = 0;
  int64_t rows_at_last_kill = 0;
  std::uniform_int_distribution<int> delay_ms(0, 40);
  for (int kill = 0; kill < kKills; ++kill) {
    SwitchyardProcess daemon = rig.start();
    ASSERT_TRUE(wait_until(
        [&] {
          return rig.rows() > rows_at_last_kill ||
                 (rig.pending() == 0 && rig.inflight_total() == 0);
        },
        30s, "progress after restart #" + std::to_string(kill)))
        << daemon.log_tail();
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
    const auto until = std::chrono::steady_clock::now() + 200ms;
    while (rig.inflight_total() == 0 && rig.pending() > 0 &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
    ASSERT_TRUE(daemon.is_running()) << "the daemon exited by itself:\n" << daemon.log_tail();
    daemon.kill9();
    if (rig.inflight_total() > 0) ++kills_mid_batch;
    try {
      rows_at_last_kill = rig.rows();
    } catch (const std::exception& e) {
      std::cout << "[ fault    ] rows unreadable after kill " << kill + 1 << ": " << e.what()
                << "\n";
    }
  }
  std::cout << "[ fault    ] " << kKills << " SIGKILLs, " << kills_mid_batch
            << " holding a batch\n";

  SwitchyardProcess daemon = rig.start("switchyard-last.log");
  const int64_t half = static_cast<int64_t>(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 90s,
                         "all events handled and the queue drained"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
  rig.expect_dead_exactly(bad);

  // Every message that left the source (handled, or dead-lettered) is in the archive once.
  std::map<std::string, int> times;
  for (const std::string& m : archived_messages(rig.client(), rig.key() + ":archive")) ++times[m];
  size_t missing = 0, twice = 0, foreign = 0;
  std::map<std::string, int> published;
  for (const std::string& m : messages) ++published[m];
  for (const auto& [m, n] : published) {
    const auto it = times.find(m);
    if (it == times.end()) {
      if (++missing <= 3) ADD_FAILURE() << "not archived: " << m;
    } else if (it->second != n) {
      if (++twice <= 3) ADD_FAILURE() << "archived " << it->second << " times: " << m;
    }
  }
  for (const auto& [m, n] : times)
    if (!published.count(m) && ++foreign <= 3) ADD_FAILURE() << "archived, never published: " << m;
  EXPECT_EQ(missing, 0u);
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(foreign, 0u);
  EXPECT_EQ(times.size(), published.size());
}

INSTANTIATE_FAULT_SUITE(ArchiveKill9Test);

}  // namespace
}  // namespace switchyard::test::fault
