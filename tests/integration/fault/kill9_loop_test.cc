// kill9_loop_test.cc: >= 40 SIGKILLs (30 of them mid-publishing) while 100,000 events are
// published, for each source kind; every event lands exactly once in SQLite, every bad message
// exactly once in K:dead.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <iostream>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

class Kill9LoopTest : public FaultTest {};

// The same loop for every kind: each drains some 30,000 events/s here, so 100,000 events under
// 40+ SIGKILLs take seconds per kind.
TEST_P(Kill9LoopTest, EveryEventSurvivesRepeatedSigkill) {
  constexpr size_t kEvents = 100'000;  // 50,000 users + 50,000 quotes
  constexpr size_t kChunk = 2'000;
  constexpr size_t kChunks = kEvents / kChunk;
  constexpr int kKillsWhilePublishing = 30;
  constexpr int kMinKills = 40;
  constexpr int kMaxKills = 80;
  // Kills that find the daemon holding a batch: typically 5 to 35 (the bound only catches a loop
  // that never kills mid-batch; it is set low so as not to be flaky).
  // A worker drains a chunk in a few tens of ms (lease: one worker, holding its window less often
  // than two workers do), so a random moment after progress can find it idle every time. Every
  // other kill after progress is therefore aimed, for every kind, and every one until
  // kMinKillsMidBatch landed: at the first moment a batch is held while messages are pending
  // (waiting at most kAimFor; a kill that finds nothing pending is not aimed). Lease: typically
  // 12 to 25 of them land mid-batch.
  const int kMinKillsMidBatch = kind() == SourceKind::kLease ? 5 : 2;
  constexpr auto kAimFor = 200ms;

  Rig rig(kind());
  rig.write_config(fault_spec("batch: 256\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s"));
  std::mt19937_64 rng = seeded_rng();

  // The stream: mixed events in chunks, the ten bad messages spread over it at random places.
  const std::vector<std::string> events = mixed_events(kEvents);
  const std::vector<std::string> bad = bad_messages();
  std::vector<std::vector<std::string>> chunks(kChunks);
  for (size_t c = 0; c < kChunks; ++c) {
    chunks[c].assign(events.begin() + static_cast<long>(c * kChunk),
                     events.begin() + static_cast<long>((c + 1) * kChunk));
  }
  for (size_t i = 0; i < bad.size(); ++i) {
    auto& chunk = chunks[(i * kChunks) / bad.size() + 1 < kChunks ? (i * kChunks) / bad.size() + 1
                                                                  : kChunks - 1];
    std::uniform_int_distribution<size_t> at(0, chunk.size());
    chunk.insert(chunk.begin() + static_cast<long>(at(rng)), bad[i]);
  }

  // The producer: its own connection and thread; it never waits for the daemon, only paces
  // itself so that its chunks are spread over the first kKillsWhilePublishing kills.
  std::atomic<int> kills{0};
  std::atomic<size_t> published{0};
  std::atomic<bool> stop_publisher{false};
  std::mutex error_mutex;
  std::string publisher_error;
  RedisClient producer = rig.redis().client();
  const uint64_t publisher_seed = rng();
  std::thread publisher([&, producer = std::move(producer)]() mutable {
    std::mt19937_64 prng(publisher_seed);
    std::uniform_int_distribution<int> pause_ms(5, 40);
    try {
      for (size_t c = 0; c < kChunks && !stop_publisher; ++c) {
        while (!stop_publisher &&
               static_cast<size_t>(kills.load()) < c * (kKillsWhilePublishing + 1) / kChunks) {
          std::this_thread::sleep_for(std::chrono::milliseconds(2));
        }
        rig.publish(producer, chunks[c]);
        published = c + 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(prng)));
      }
    } catch (const std::exception& e) {
      std::lock_guard<std::mutex> lock(error_mutex);
      publisher_error = e.what();
    }
  });
  struct JoinOnExit {
    std::thread& t;
    std::atomic<bool>& stop;
    ~JoinOnExit() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_on_exit{publisher, stop_publisher};

  std::uniform_int_distribution<int> delay_ms(0, 120);
  std::uniform_int_distribution<int> early_kill(0, 4);
  std::uniform_int_distribution<int> early_delay_ms(0, 30);
  const auto started = std::chrono::steady_clock::now();
  int early_kills = 0;
  int64_t rows_at_last_kill = 0;
  int kills_while_publishing = 0;
  int kills_mid_batch = 0;
  while (kills < kMaxKills && (kills < kMinKills || published < kChunks)) {
    SwitchyardProcess daemon = rig.start();
    if (early_kill(rng) == 0) {
      // A moment during start-up: identity, recovery of the predecessor's in-flight lists.
      std::this_thread::sleep_for(std::chrono::milliseconds(early_delay_ms(rng)));
      ++early_kills;
    } else {
      // Wait until this run made progress (or has nothing to do), then a random moment later.
      ASSERT_TRUE(wait_until(
          [&] {
            return rig.rows() > rows_at_last_kill ||
                   (rig.pending() == 0 && rig.inflight_total() == 0);
          },
          30s, "progress after restart #" + std::to_string(kills.load())))
          << daemon.log_tail();
      if (kills % 2 == 1 || kills_mid_batch < kMinKillsMidBatch) {
        const auto until = std::chrono::steady_clock::now() + kAimFor;
        while (rig.inflight_total() == 0 && rig.pending() > 0 &&
               std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::microseconds(100));
        }
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(rng)));
      }
    }
    ASSERT_TRUE(daemon.is_running()) << "the daemon exited by itself:\n" << daemon.log_tail();
    if (published < kChunks) ++kills_while_publishing;
    daemon.kill9();
    // Killed holding a batch: its messages are in flight (in-flight lists, or the group's
    // pending entries) until the next run takes them back.
    if (rig.inflight_total() > 0) ++kills_mid_batch;
    try {
      rows_at_last_kill = rig.rows();
    } catch (const std::exception& e) {
      // A killed writer leaves a WAL a read-only reader cannot recover; the next run does.
      std::cout << "[ fault    ] rows unreadable after kill " << kills + 1 << ": " << e.what()
                << "\n";
    }
    ++kills;
  }
  publisher.join();  // no longer gated: kills >= kKillsWhilePublishing
  {
    std::lock_guard<std::mutex> lock(error_mutex);
    ASSERT_TRUE(publisher_error.empty()) << "the producer failed: " << publisher_error;
  }
  ASSERT_EQ(published.load(), kChunks);
  const auto kill_phase = std::chrono::steady_clock::now() - started;
  std::cout << "[ fault    ] " << kills << " SIGKILLs (" << kills_while_publishing
            << " while publishing, " << kills_mid_batch << " holding a batch, " << early_kills
            << " during start-up) in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(kill_phase).count()
            << " ms; rows at the last kill: " << rows_at_last_kill << "\n";
  EXPECT_GE(kills.load(), kMinKills);
  EXPECT_GE(kills_while_publishing, kKillsWhilePublishing);
  EXPECT_GE(kills_mid_batch, kMinKillsMidBatch);

  // A last run drains the backlog (its own log: it is stopped with SIGTERM, so wait until it
  // serves signals, which it does before it connects; the backlog may be gone already).
  SwitchyardProcess daemon = rig.start("switchyard-last.log");
  ASSERT_TRUE(
      wait_until([&] { return daemon.log().find("connected to Redis") != std::string::npos; }, 10s,
                 "the last run to connect"))
      << daemon.log_tail();
  const int64_t half = static_cast<int64_t>(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 90s,
                         "all events handled and the queue drained"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  rig.expect_drained_state();
  // K:dead holds exactly the ten bad messages, each once, dead-lettered before routing.
  for (const auto& d : rig.dead_letters()) {
    EXPECT_FALSE(d.handler.has_value()) << d.raw;
    EXPECT_EQ(d.source, "events") << d.raw;
    EXPECT_EQ(d.attempts, 1) << d.raw;
    EXPECT_EQ(d.reason.find("exceeded max deliveries"), std::string::npos)
        << "a good message was dead-lettered as a poison message: " << d.raw;
  }
  rig.expect_dead_exactly(bad);
  // One consumer name only: nobody else may take its in-flight lists (a worker recovering a
  // sibling's fresh batch at start-up shows up as this warning).
  const std::string log = read_file(rig.file("switchyard.log")) + daemon.log();
  EXPECT_EQ(occurrences(log, kLateAckRefused), 0u);
}

INSTANTIATE_FAULT_SUITE(Kill9LoopTest);

}  // namespace
}  // namespace switchyard::test::fault
