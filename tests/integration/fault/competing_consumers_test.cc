// competing_consumers_test.cc: 2 and 3 instances on one key, one SIGKILLed; survivors reclaim.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

// True when every thread of `pid` is in the stopped state ('T' in /proc/PID/task/TID/stat).
bool all_threads_stopped(pid_t pid) {
  namespace fs = std::filesystem;
  int threads = 0;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
    const std::string stat = read_file(task.path().string() + "/stat");
    const size_t paren = stat.rfind(')');  // the command name may contain spaces
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') return false;
    ++threads;
  }
  return threads > 0;
}

// SIGSTOPs `daemon` (consumer `name`) at a random moment when it holds messages in flight and
// returns how many it holds, once every thread has stopped (0, with a failure, if it never did).
// refill() runs between attempts to keep the stream going.
int64_t freeze_holding_messages(Rig& rig, SwitchyardProcess& daemon, const std::string& name,
                                std::mt19937_64& rng, const std::function<void()>& refill) {
  for (int attempt = 0; attempt < 500; ++attempt) {
    std::this_thread::sleep_for(
        std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 15)(rng)));
    if (!daemon.signal(SIGSTOP)) break;
    // kill() returns before the signal takes effect: wait until every thread has stopped.
    if (!wait_until([&] { return all_threads_stopped(daemon.pid()); }, 5s, "the victim to stop"))
      break;
    const int64_t held = rig.inflight_of(name);
    if (held > 0) return held;
    daemon.signal(SIGCONT);
    refill();
  }
  ADD_FAILURE() << "never caught " << name << " with messages in flight\n" << daemon.log_tail();
  return 0;
}

// Starts `instances` daemons on one config, publishes `events` mixed events, freezes (SIGSTOP)
// the first one at a moment it holds messages in flight, SIGKILLs it, and checks that the others
// reclaim exactly those messages after reclaim_after and that every event lands exactly once.
void run_competing_consumers(int instances) {
  constexpr size_t kEvents = 30'000;
  Rig rig;
  RoutesYaml spec;
  spec.source_extra = "batch: 100\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s";
  spec.extra_yaml =
      "retry: {max_attempts: 5, initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: 5s";
  rig.write_config(spec);
  std::mt19937_64 rng = seeded_rng();

  // Start one at a time so that each has its consumer name (and heartbeat) before the next.
  std::vector<SwitchyardProcess> daemons;
  std::vector<std::string> names;
  for (int i = 0; i < instances; ++i) {
    daemons.push_back(rig.start("switchyard-" + std::to_string(i) + ".log"));
    ASSERT_TRUE(wait_until([&] { return rig.live_consumers().size() == names.size() + 1; }, 10s,
                           "instance " + std::to_string(i) + " to send its first heartbeat"))
        << daemons.back().log_tail();
    for (const auto& n : rig.live_consumers())
      if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  ASSERT_EQ(names.size(), static_cast<size_t>(instances));
  const std::string victim = names[0];  // daemons[0]'s consumer name

  // The stream arrives in chunks while the instances compete for it.
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
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 1'000; }, 30s, "the instances to get going"));

  // Freeze the victim while it holds messages in flight (SIGSTOP makes the moment observable),
  // then kill it: what is in its in-flight lists is exactly what it leaves behind.
  const int64_t orphaned = freeze_holding_messages(rig, daemons[0], victim, rng, [&] {
    if (rig.client().llen(rig.key()) < 1'000) push(2'000);
  });
  ASSERT_GT(orphaned, 0) << "never caught the victim with messages in flight";
  daemons[0].kill9();
  std::cout << "[ fault    ] killed " << victim << " with " << orphaned
            << " message(s) in flight after " << pushed << " of " << kEvents
            << " events were published; survivors: " << instances - 1 << "\n";
  // Nothing reclaims them while the victim's heartbeat (reclaim_after: 1s) may still be alive.
  EXPECT_EQ(rig.inflight_of(victim), orphaned);

  // The rest of the stream arrives after the kill; the survivors handle it and the orphans.
  push(kEvents);
  ASSERT_TRUE(wait_until([&] { return rig.inflight_of(victim) == 0; }, 15s,
                         "the survivors to reclaim the victim's in-flight lists"));
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == static_cast<int64_t>(kEvents / 2) &&
               rig.quotes() == static_cast<int64_t>(kEvents / 2) && rig.drained();
      },
      60s, "every event handled by the survivors"))
      << "users " << rig.users() << ", quotes " << rig.quotes() << ", pending "
      << rig.client().llen(rig.key()) << ", in flight " << rig.inflight_total();

  int64_t reclaimed = 0;
  for (int i = 1; i < instances; ++i) {
    ASSERT_TRUE(daemons[i].is_running()) << daemons[i].log_tail();
    EXPECT_EQ(daemons[i].stop(10s), 0) << daemons[i].log_tail();
    const std::string log = daemons[i].log();
    reclaimed += sum_of_numbers_after(log, "reclaimed ");
    EXPECT_EQ(occurrences(log, "is no longer in this worker's in-flight list"), 0u) << log;
  }
  // Exactly the victim's in-flight messages were reclaimed, once (two survivors may race).
  EXPECT_EQ(reclaimed, orphaned);

  EXPECT_EQ(rig.users(), static_cast<int64_t>(kEvents / 2));
  EXPECT_EQ(rig.quotes(), static_cast<int64_t>(kEvents / 2));
  rig.expect_drained_state();
  EXPECT_EQ(rig.dead_count(), 0) << rig.client().lrange(rig.key() + ":dead", 0, 5).size();
  // The victim's in-flight lists are no longer registered to it.
  for (const auto& [list, owner] : [&] {
         std::vector<std::pair<std::string, std::string>> out;
         Reply r = rig.client().command({"HGETALL", rig.key() + ":inflight"});
         for (size_t i = 0; i + 1 < r.elements.size(); i += 2)
           out.emplace_back(r.elements[i].str, r.elements[i + 1].str);
         return out;
       }()) {
    EXPECT_NE(owner, victim) << list << " is still registered to the dead instance";
  }
}

TEST(CompetingConsumersTest, TwoInstancesOneKilled) { run_competing_consumers(2); }

TEST(CompetingConsumersTest, ThreeInstancesOneKilled) { run_competing_consumers(3); }

// A frozen (not dead) instance: the survivor reclaims its in-flight messages after
// reclaim_after. When it wakes up it either finds its batch gone before reading it, or handles
// it and its late ack is refused: either way nothing is acknowledged, dead-lettered or
// scheduled twice.
TEST(CompetingConsumersTest, FrozenInstanceIsReclaimedAndNothingIsWrittenTwice) {
  constexpr size_t kEvents = 20'000;
  constexpr size_t kBadEvery = 50;
  Rig rig;
  RoutesYaml spec;
  spec.source_extra = "batch: 100\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 1s";
  spec.extra_yaml =
      "retry: {max_attempts: 5, initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: 5s";
  rig.write_config(spec);
  std::mt19937_64 rng = seeded_rng();

  std::vector<SwitchyardProcess> daemons;
  daemons.push_back(rig.start("switchyard-0.log"));
  ASSERT_TRUE(wait_until([&] { return rig.live_consumers().size() == 1; }, 10s, "instance 0"));
  const std::string victim = rig.live_consumers().at(0);
  daemons.push_back(rig.start("switchyard-1.log"));
  ASSERT_TRUE(wait_until([&] { return rig.live_consumers().size() == 2; }, 10s, "instance 1"));

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
  size_t pushed = 0;
  auto push = [&](size_t n) {
    n = std::min(n, stream.size() - pushed);
    rig.client().rpush_many(rig.key(),
                            {stream.begin() + static_cast<long>(pushed),
                             stream.begin() + static_cast<long>(pushed + n)},
                            50);
    pushed += n;
  };
  push(stream.size() / 2);
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 1'000; }, 30s, "the instances to get going"));

  const int64_t held = freeze_holding_messages(rig, daemons[0], victim, rng, [&] {
    if (rig.client().llen(rig.key()) < 1'000) push(2'000);
  });
  ASSERT_GT(held, 0);
  push(stream.size());
  // The survivor reclaims them once the frozen instance's heartbeat expires.
  ASSERT_TRUE(wait_until([&] { return rig.inflight_of(victim) == 0; }, 15s,
                         "the survivor to reclaim the frozen instance's in-flight lists"))
      << daemons[1].log_tail();
  ASSERT_TRUE(daemons[0].signal(SIGCONT));
  std::cout << "[ fault    ] froze " << victim << " holding " << held
            << " message(s); reclaimed, then woke it up\n";

  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == static_cast<int64_t>(kEvents / 2) &&
               rig.quotes() == static_cast<int64_t>(kEvents / 2) && rig.drained() &&
               rig.dead_count() >= static_cast<int64_t>(bad.size());
      },
      60s, "every event handled"))
      << "users " << rig.users() << ", quotes " << rig.quotes() << ", pending "
      << rig.client().llen(rig.key()) << ", in flight " << rig.inflight_total() << ", dead "
      << rig.dead_count();
  for (auto& d : daemons) EXPECT_EQ(d.stop(10s), 0) << d.log_tail();

  // Which way the woken instance went (it depends on where SIGSTOP caught it).
  const size_t refused = occurrences(daemons[0].log(), "is no longer in this worker's in-flight list");
  std::cout << "[ fault    ] late acks refused: " << refused
            << (refused ? "" : " (it was frozen before reading its batch)") << "\n";
  EXPECT_EQ(sum_of_numbers_after(daemons[1].log(), "reclaimed "), held);
  EXPECT_EQ(rig.users(), static_cast<int64_t>(kEvents / 2));
  EXPECT_EQ(rig.quotes(), static_cast<int64_t>(kEvents / 2));
  rig.expect_drained_state();
  std::multiset<std::string> dead_messages;
  for (const auto& d : rig.dead_letters()) dead_messages.insert(d.message);
  EXPECT_EQ(dead_messages, std::multiset<std::string>(bad.begin(), bad.end()));
}

}  // namespace
}  // namespace switchyard::test::fault
