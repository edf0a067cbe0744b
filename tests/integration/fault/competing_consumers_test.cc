// competing_consumers_test.cc: 2 and 3 instances on one source (for a stream: consumers of one
// group), one SIGKILLed or frozen; the survivors reclaim exactly what it held. For delivery:
// lease these are failover tests: one instance is active (it holds K:lease) and is the one
// killed or frozen; a standby takes over once its lease expires and handles its window again.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

// SIGSTOPs `daemon` (consumer `name`) at a random moment when it holds messages in flight and
// returns how many it holds, once every thread has stopped (0, with a failure, if it never did).
// refill() runs between attempts to keep the stream going.
// not_in_a_write: also skip moments when the frozen daemon holds the SQLite write lock (a sink in
// mid-transaction). For a stream the survivors' workers claim the frozen consumer's entries
// between batches, and with the lock held by a frozen process every batch they handle waits out
// the sinks' busy timeout (5 s per handler) instead: the claim would come late, then not at all
// until the victim wakes. (List in-flight lists are reclaimed by the housekeeping thread, which
// does not wait for the database.)
int64_t freeze_holding_messages(Rig& rig, SwitchyardProcess& daemon, const std::string& name,
                                std::mt19937_64& rng, const std::function<void()>& refill,
                                bool not_in_a_write = false) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 15)(rng)));
    if (!daemon.signal(SIGSTOP)) break;
    // kill() returns before the signal takes effect: wait until every thread has stopped.
    if (!wait_until([&] { return all_threads_stopped(daemon.pid()); }, 5s, "the victim to stop"))
      break;
    const int64_t held = rig.inflight_of(name);
    if (held > 0 && (!not_in_a_write || database_writable(rig.db(), 1s))) return held;
    daemon.signal(SIGCONT);
    refill();
  }
  ADD_FAILURE() << "never caught " << name << " with messages in flight\n" << daemon.log_tail();
  return 0;
}

// The producer while the victim is being caught: keeps a backlog (the victim holds messages only
// while there is one) by publishing 4,000 more messages whenever fewer than 2,000 are pending.
// They come from the feed; once it runs short, fresh mixed events (ids from *next_id on) are
// added to it, and *extra counts them.
void keep_a_backlog(Rig& rig, Feed& feed, int64_t* next_id, size_t* extra) {
  constexpr size_t kTopUp = 4'000;
  if (rig.pending() >= 2'000) return;
  if (feed.size() - feed.pushed() < kTopUp) {
    feed.append(mixed_events(kTopUp, *next_id));
    *next_id += kTopUp / 2;
    *extra += kTopUp;
  }
  feed.push(kTopUp);
}

// Starts `instances` daemons on one config, publishes `events` mixed events, freezes (SIGSTOP)
// the first one at a moment it holds messages in flight, SIGKILLs it, and checks that the others
// reclaim exactly those messages after reclaim_after and that every event lands exactly once.
// Lists: the survivors' housekeeping returns the victim's in-flight lists to K once its heartbeat
// expires. Streams: the survivors' workers XAUTOCLAIM the victim's pending entries once they have
// been idle for reclaim_after (several consumers in one group). Lease: the victim is the active
// instance (the others stand by); exactly one standby takes the lease over once it expires and
// takes the victim's window, left at the head of K, one message at a time.
void run_competing_consumers(SourceKind kind, int instances) {
  constexpr size_t kEvents = 30'000;
  Rig rig(kind);
  rig.write_config(fault_spec("batch: 100\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s"));
  std::mt19937_64 rng = seeded_rng();

  // Start one at a time so that each has its consumer name (and heartbeat) before the next.
  Instances in;
  ASSERT_NO_FATAL_FAILURE(start_instances(rig, instances, &in));
  const std::string victim = in.names[0];  // in.daemons[0]'s consumer name
  // Lease: the first instance is the active one, the only one that takes.
  if (rig.is_lease()) {
    ASSERT_EQ(rig.lease_holder(), victim);
  }

  // The stream arrives in chunks while the instances compete for it.
  Feed feed(rig, mixed_events(kEvents));
  feed.push(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 1'000; }, 30s, "the instances to get going"));

  // Freeze the victim while it holds messages in flight (SIGSTOP makes the moment observable),
  // then kill it: what it holds in flight is exactly what it leaves behind.
  int64_t next_id = kEvents / 2 + 1;
  size_t extra = 0;
  const int64_t held = freeze_holding_messages(
      rig, in.daemons[0], victim, rng, [&] { keep_a_backlog(rig, feed, &next_id, &extra); });
  ASSERT_GT(held, 0) << "never caught the victim with messages in flight";
  // What it leaves behind is counted once Redis has read everything it sent: an ack written just
  // before the SIGSTOP may reach Redis after the count above. Redis drops a client only after
  // reading its last command, so once none of the victim's connections is listed, it is final.
  const std::string prefix = "name=switchyard:" + victim + ":";
  ASSERT_NE(rig.client().command({"CLIENT", "LIST"}).str.find(prefix), std::string::npos)
      << "no Redis connection named " << prefix;
  in.daemons[0].kill9();
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.client().command({"CLIENT", "LIST"}).str.find(prefix) == std::string::npos;
      },
      5s, "Redis to drop the killed victim's connections"));
  const int64_t orphaned = rig.inflight_of(victim);
  ASSERT_GT(orphaned, 0) << "the victim acked all it held (" << held << ") as it was frozen";
  std::cout << "[ fault    ] killed " << victim << " with " << orphaned
            << " message(s) in flight after " << feed.pushed() << " of " << feed.size()
            << " events were published; survivors: " << instances - 1 << "\n";
  // Nothing reclaims them while the victim may still be alive (its heartbeat, its entries' idle
  // time, or its lease, is younger than reclaim_after: 1s).
  EXPECT_EQ(rig.inflight_of(victim), orphaned);
  if (rig.is_lease()) {
    EXPECT_EQ(rig.lease_holder(), victim);
  }

  // The rest of the stream arrives after the kill; the survivors handle it and the orphans.
  feed.push_rest();
  ASSERT_TRUE(wait_until([&] { return rig.inflight_of(victim) == 0; }, 15s,
                         "the survivors to reclaim the victim's in-flight messages"));
  const int64_t half = static_cast<int64_t>((kEvents + extra) / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half); }, 60s,
                         "every event handled by the survivors"))
      << rig.describe();

  // Lease: one survivor holds the lease now, the others still stand by.
  std::string new_holder;
  if (rig.is_lease()) {
    new_holder = rig.lease_holder();
    EXPECT_NE(std::find(in.names.begin() + 1, in.names.end(), new_holder), in.names.end())
        << "the lease is held by " << new_holder << ", not by a survivor";
  }
  int64_t reclaimed = 0;
  size_t takeovers = 0;
  for (int i = 1; i < instances; ++i) {
    ASSERT_TRUE(in.daemons[i].is_running()) << in.daemons[i].log_tail();
    EXPECT_EQ(in.daemons[i].stop(10s), 0) << in.daemons[i].log_tail();
    const std::string log = in.daemons[i].log();
    reclaimed += rig.reclaimed_in(log);
    takeovers += Rig::takeovers_in(log);
    if (rig.is_lease()) {
      // Each survivor stood by; the new holder took over exactly once, the others never.
      EXPECT_NE(log.find("standing by: consumer " + victim + " holds"), std::string::npos) << log;
      EXPECT_EQ(Rig::takeovers_in(log), in.names[i] == new_holder ? 1u : 0u) << log;
    }
    EXPECT_EQ(occurrences(log, kLateAckRefused), 0u) << log;
  }
  if (rig.is_lease()) {
    // Nothing is handed over in lease mode (no "reclaimed" line): the window stayed at the head
    // of K, and the new holder took it over; the exact counts below show it was handled.
    EXPECT_EQ(takeovers, 1u);
    std::cout << "[ fault    ] " << new_holder << " took over the lease and " << victim
              << "'s window of " << orphaned << "\n";
  } else {
    // Exactly the victim's in-flight messages were reclaimed, once (two survivors may race).
    EXPECT_EQ(reclaimed, orphaned);
  }

  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  rig.expect_drained_state();
  EXPECT_EQ(rig.dead_count(), 0) << rig.describe();
  // Nothing is registered to (lists) or pending for (streams) the dead instance any more.
  rig.expect_nothing_held_by(victim);
}

class CompetingConsumersTest : public FaultTest {};

TEST_P(CompetingConsumersTest, TwoInstancesOneKilled) { run_competing_consumers(kind(), 2); }

TEST_P(CompetingConsumersTest, ThreeInstancesOneKilled) { run_competing_consumers(kind(), 3); }

// A frozen (not dead) instance: the survivor reclaims its in-flight messages after
// reclaim_after. When it wakes up it either finds its batch gone before reading it, or handles
// it and its late ack is refused: either way nothing is acknowledged, dead-lettered or
// scheduled twice. Lease: the frozen one is the active instance; the standby takes the lease
// over when it expires, and with it the frozen one's window; the woken one's ack is refused (its
// lease is gone) and it stands by.
TEST_P(CompetingConsumersTest, FrozenInstanceIsReclaimedAndNothingIsWrittenTwice) {
  constexpr size_t kEvents = 20'000;
  constexpr size_t kBadEvery = 50;
  Rig rig(kind());
  rig.write_config(fault_spec("batch: 100\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s"));
  std::mt19937_64 rng = seeded_rng();

  Instances in;
  ASSERT_NO_FATAL_FAILURE(start_instances(rig, 2, &in));
  const std::string victim = in.names[0];
  if (rig.is_lease()) {
    ASSERT_EQ(rig.lease_holder(), victim);
  }

  // Invalid JSON sprinkled in: a batch in the frozen instance's hands likely holds some, and
  // each must be dead-lettered exactly once.
  std::vector<std::string> stream, bad;
  for (const auto& e : mixed_events(kEvents)) {
    stream.push_back(e);
    if (stream.size() % kBadEvery == 0) {
      bad.push_back("{broken #" + std::to_string(bad.size()));
      stream.push_back(bad.back());
    }
  }
  Feed feed(rig, stream);
  feed.push(stream.size() / 2);
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 1'000; }, 30s, "the instances to get going"));

  int64_t next_id = kEvents / 2 + 1;
  size_t extra = 0;
  const int64_t held = freeze_holding_messages(
      rig, in.daemons[0], victim, rng, [&] { keep_a_backlog(rig, feed, &next_id, &extra); },
      /*not_in_a_write=*/rig.is_stream());
  ASSERT_GT(held, 0);
  feed.push_rest();
  // The survivor reclaims them once the frozen instance's heartbeat (lists) or the entries'
  // idle time (streams) passes reclaim_after.
  ASSERT_TRUE(wait_until([&] { return rig.inflight_of(victim) == 0; }, 15s,
                         "the survivor to reclaim the frozen instance's in-flight messages"))
      << in.daemons[1].log_tail();
  ASSERT_TRUE(in.daemons[0].signal(SIGCONT));
  std::cout << "[ fault    ] froze " << victim << " holding " << held
            << " message(s); reclaimed, then woke it up\n";

  const int64_t half = static_cast<int64_t>((kEvents + extra) / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 60s,
                         "every event handled"))
      << rig.describe();
  if (rig.is_lease()) {
    // The woken instance finds the lease taken: it stands by and the survivor stays active.
    ASSERT_TRUE(wait_until(
        [&] {
          return in.daemons[0].log().find("standing by: consumer " + in.names[1] + " holds") !=
                 std::string::npos;
        },
        10s, "the woken instance to stand by"))
        << in.daemons[0].log_tail();
    EXPECT_EQ(rig.lease_holder(), in.names[1]);
  }
  for (auto& d : in.daemons) EXPECT_EQ(d.stop(10s), 0) << d.log_tail();

  // Which way the woken instance went (it depends on where SIGSTOP caught it).
  const size_t refused = occurrences(in.daemons[0].log(), kLateAckRefused);
  std::cout << "[ fault    ] late acks refused: " << refused
            << (refused ? "" : " (it was frozen before reading its batch)") << "\n";
  if (rig.is_lease()) {
    // Its one window: refused at most once; the survivor took the lease over once, and was never
    // refused an ack.
    EXPECT_LE(refused, 1u) << in.daemons[0].log();
    EXPECT_EQ(Rig::takeovers_in(in.daemons[1].log()), 1u) << in.daemons[1].log();
    EXPECT_EQ(occurrences(in.daemons[1].log(), kLateAckRefused), 0u) << in.daemons[1].log();
  } else {
    EXPECT_EQ(rig.reclaimed_in(in.daemons[1].log()), held);
  }
  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  rig.expect_drained_state();
  rig.expect_dead_exactly(bad);
}

INSTANTIATE_FAULT_SUITE(CompetingConsumersTest);

}  // namespace
}  // namespace switchyard::test::fault
