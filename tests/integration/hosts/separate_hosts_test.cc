// separate_hosts_test.cc: three Switchyard instances on separate hosts (each its own network
// namespace, joined by veth pairs to a Redis in a fourth), sharing one key: competing consumers,
// a host cut off from the network mid-drain, and a host frozen mid-drain. Exact counts after each.
// The hosts share this machine's filesystem (one SQLite file) and hostname (so each daemon is
// named with --instance). Needs root (network namespaces); skips with a message otherwise.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/fault/fault_support.h"
#include "support/netns.h"

namespace switchyard::test::fault {
namespace {

constexpr int kHosts = 3;
constexpr int kRedisPort = 6379;
// Each batch (of kBatch) takes this long in the share handler: an instance holds messages in
// flight most of the time while there is a backlog (a cut or a freeze then catches it holding
// some), and three hosts drain about 1,200 events/s, so a backlog of thousands lasts seconds.
constexpr int kHandlerSleepMs = 100;
constexpr int kBatch = 20;

// The host i's daemon consumer name (--instance).
std::string host_name(int i) { return "host" + std::to_string(i); }

// The world of one test: the network, Redis in its namespace (TCP 10.77.0.1:6379 for the hosts;
// the test itself uses the unix socket, which no cut affects), and one daemon per host with its
// own config (its own share file), runtime directory and --instance name.
class Hosts {
 public:
  explicit Hosts(SourceKind kind)
      : net_(kHosts),
        rig_(kind, {"slow_sink"},
             RedisServerOptions{
                 .extra_args = {"--port", std::to_string(kRedisPort), "--bind",
                                HostNetwork::redis_address(), "--protected-mode", "no"},
                 .command_prefix = HostNetwork::exec_prefix(net_.redis_ns())}) {
    for (int i = 0; i < kHosts; ++i) {
      // One Redis round trip is a few ms at most; a cut host's heartbeat lapses after 2 s.
      RoutesYaml spec = fault_spec("batch: " + std::to_string(kBatch) +
                                   "\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 2s");
      spec.extra_handlers =
          "share:\n  plugin: slow_sink\n  config: { path: " + json_string(share_path(i)) +
          ", sleep_ms: " + std::to_string(kHandlerSleepMs) + " }\n";
      spec.extra_routes = "\"*\": [share]";
      const std::string written = rig_.write_config(spec);
      configs_.push_back(rig_.dir().write("routes-" + host_name(i) + ".yaml", read_file(written)));
      std::filesystem::create_directories(rig_.dir().file("run-" + host_name(i)));
    }
  }

  Rig& rig() { return rig_; }
  HostNetwork& net() { return net_; }
  SwitchyardProcess& daemon(int i) { return daemons_.at(i); }
  std::string redis_url() const {
    return "redis://" + HostNetwork::redis_address() + ":" + std::to_string(kRedisPort) + "/0";
  }
  // The file host i's share handler appends each message it handled to.
  std::string share_path(int i) const { return rig_.dir().file("share-" + host_name(i) + ".txt"); }
  // Messages host i handled (each delivery a line; a message handled twice counts twice).
  size_t share(int i) const { return file_lines(share_path(i)).size(); }

  // Starts the daemons, one at a time, each in its host's namespace, and waits until each
  // consumes (list, stream: its heartbeat or group consumer shows; lease: host0 holds the lease,
  // the others stand by).
  void start_all() {
    for (int i = 0; i < kHosts; ++i) {
      daemons_.push_back(SwitchyardProcess::run(
          configs_[i], rig_.dir().file("switchyard-" + host_name(i) + ".log"),
          {"--redis", redis_url(), "--instance", host_name(i)},
          {{"RUNTIME_DIRECTORY", rig_.dir().file("run-" + host_name(i))}},
          HostNetwork::exec_prefix(net_.host_ns(i))));
      SwitchyardProcess& d = daemons_.back();
      ASSERT_TRUE(wait_until(
          [&] {
            if (!rig_.is_lease()) {
              if (rig_.is_stream()) return consumer_name_in_log(d.log()) == host_name(i);
              const auto names = rig_.consumers();
              return std::find(names.begin(), names.end(), host_name(i)) != names.end();
            }
            return i == 0 ? rig_.lease_holder() == host_name(0)
                          : d.log().find("standing by: consumer " + host_name(0) + " holds") !=
                                std::string::npos;
          },
          20s, host_name(i) + " to consume from Redis across its veth"))
          << d.log_tail();
    }
  }

  // Waits until host i holds messages in flight (it takes part in the drain).
  bool wait_holding(int i) {
    const bool holding = wait_until([&] { return rig_.inflight_of(host_name(i)) > 0; }, 30s,
                                    host_name(i) + " to hold messages in flight");
    if (!holding) ADD_FAILURE() << daemon(i).log_tail();
    return holding;
  }

  // Stops every daemon still running (exit 0 expected) and returns their logs.
  std::vector<std::string> stop_all() {
    std::vector<std::string> logs;
    for (auto& d : daemons_) {
      EXPECT_EQ(d.stop(20s), 0) << d.log_tail();
      logs.push_back(d.log());
    }
    return logs;
  }

 private:
  HostNetwork net_;
  Rig rig_;
  std::vector<std::string> configs_;
  std::vector<SwitchyardProcess> daemons_;
};

class SeparateHostsTest : public FaultTest {
 protected:
  void SetUp() override {
    const std::string why = HostNetwork::unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << "network namespaces unavailable: " << why;
  }
};

// The kinds whose consumers share a key: with delivery: lease one host is active and the others
// stand by, so there is no sharing to show (it is not instantiated for lease).
class SharingHostsTest : public SeparateHostsTest {};

// Three hosts compete for one key: every message is handled exactly once (nobody was cut off, so
// nothing is handled twice), and every host handled a share.
TEST_P(SharingHostsTest, CompetingConsumersShareTheKey) {
  constexpr size_t kEvents = 6'000;
  Hosts hosts(kind());
  ASSERT_NO_FATAL_FAILURE(hosts.start_all());
  Rig& rig = hosts.rig();
  rig.publish(mixed_events(kEvents));

  constexpr int64_t half = kEvents / 2;
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half); }, 120s, "every event handled"))
      << rig.describe();
  std::vector<std::string> logs = hosts.stop_all();

  size_t total = 0;
  std::set<std::string> distinct;
  for (int i = 0; i < kHosts; ++i) {
    std::cout << "[ hosts    ] " << host_name(i) << " handled " << hosts.share(i) << " of "
              << kEvents << "\n";
    EXPECT_GT(hosts.share(i), 0u) << host_name(i) << " handled nothing:\n" << logs[i];
    total += hosts.share(i);
    for (auto& line : file_lines(hosts.share_path(i))) distinct.insert(line);
    EXPECT_EQ(occurrences(logs[i], kLateAckRefused), 0u) << logs[i];
  }
  EXPECT_EQ(distinct.size(), kEvents);
  EXPECT_EQ(total, kEvents) << "a message was handled twice although no host failed";
  EXPECT_EQ(rig.users(), half);
  EXPECT_EQ(rig.quotes(), half);
  rig.expect_drained_state();
  EXPECT_EQ(rig.dead_count(), 0) << rig.describe();
}

// How a host is taken away mid-drain, and given back:
// kLinkDown   its eth0 down, given back once the others took its messages over (seconds);
// kFrozen     SIGSTOP, then SIGCONT at the same moment;
// kPartition  its link down at the Redis end (the host's own link stays up, so its packets
//             vanish unanswered and its reconnects fail only after seconds, not at once), given
//             back only once it has found Redis unreachable: its reads timed out, it reconnects.
enum class Outage { kLinkDown, kFrozen, kPartition };

// host0 is taken away while it holds messages in flight (lease: it is the active instance); the
// others reclaim them after reclaim_after (lease: one takes the lease and the window over). Then
// host0 comes back: its late ack is refused (lists, lease), nothing is written twice in Redis,
// and it goes on consuming (lease: it stands by). A second wave of events follows; at the end
// every event is a row exactly once, nothing is left anywhere and nothing is dead.
void run_outage(SourceKind kind, Outage outage) {
  // Lease: one active instance drains (a third of the rate): fewer events for the same duration.
  const size_t events = kind == SourceKind::kLease ? 2'400 : 8'000;
  Hosts hosts(kind);
  Rig& rig = hosts.rig();
  ASSERT_NO_FATAL_FAILURE(hosts.start_all());
  // Two waves: users and quotes 1..events/4, then events/4+1..events/2.
  const std::vector<std::string> first = mixed_events(events / 2, 1);
  const std::vector<std::string> second = mixed_events(events / 2, events / 4 + 1);
  rig.publish(first);
  // Mid-drain: past the first single-message takes of idle workers (BLMOVE), into full batches.
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 400; }, 60s, "the hosts to get going"))
      << rig.describe();
  ASSERT_TRUE(hosts.wait_holding(0));
  const std::string victim = host_name(0);
  SwitchyardProcess& d = hosts.daemon(0);

  // Take it away at a moment it holds messages in flight (it may be between batches: then give
  // it back and try again).
  int64_t held = 0;
  for (int attempt = 0; attempt < 50 && held == 0; ++attempt) {
    if (outage != Outage::kFrozen) {
      if (outage == Outage::kLinkDown) {
        hosts.net().cut(0);
      } else {
        hosts.net().cut_at_redis(0);
      }
      // Nothing host0 sends reaches Redis any more: what Redis holds for it now is reclaimed.
      held = rig.inflight_of(victim);
      if (held > 0) break;
      hosts.net().restore(0);
    } else {
      ASSERT_TRUE(d.signal(SIGSTOP));
      ASSERT_TRUE(
          wait_until([&] { return all_threads_stopped(d.pid()); }, 10s, victim + " to stop"));
      held = rig.inflight_of(victim);
      // Frozen inside a SQLite write, it would stall every other sink for their busy timeout.
      if (held > 0 && database_writable(rig.db(), 500ms)) break;
      held = 0;
      ASSERT_TRUE(d.signal(SIGCONT));
    }
    ASSERT_TRUE(hosts.wait_holding(0));
  }
  ASSERT_GT(held, 0) << "never caught " << victim << " holding messages in flight";
  std::cout << "[ hosts    ] " << (outage == Outage::kFrozen ? "froze " : "cut off ") << victim
            << " holding " << held << " message(s) in flight\n";

  // The others take over what it held once its heartbeat (lease: its lease) lapses.
  ASSERT_TRUE(wait_until([&] { return rig.inflight_of(victim) == 0; }, 30s,
                         "the other hosts to reclaim " + victim + "'s in-flight messages"))
      << rig.describe() << "\n"
      << hosts.daemon(1).log_tail();
  if (rig.is_lease()) {
    ASSERT_TRUE(wait_until([&] { return rig.lease_holder() != victim; }, 30s,
                           "another host to take the lease over"));
  }

  if (outage == Outage::kPartition) {
    // Its blocked reads end at their timeout (15 s), not never.
    ASSERT_TRUE(wait_until([&] { return d.log().find(" unreachable: ") != std::string::npos; }, 40s,
                           victim + " to find Redis unreachable"))
        << d.log_tail();
    // The outage itself lasts 5 s more (an input, not a wait for anything): its reconnects meet
    // the partition (each bounded by the connect timeout) and the workers' reads time out too.
    std::this_thread::sleep_for(5s);
  }

  // Give it back.
  if (outage == Outage::kFrozen) {
    ASSERT_TRUE(d.signal(SIGCONT));
  } else {
    hosts.net().restore(0);
  }
  std::cout << "[ hosts    ] " << victim << " is back\n";
  if (outage == Outage::kPartition) {
    // Reconnecting is bounded too: the backoff (at most 5 s) plus the connect timeout (3 s).
    ASSERT_TRUE(wait_until([&] { return d.log().find("reachable again") != std::string::npos; },
                           30s, victim + " to reconnect"))
        << d.log_tail();
  }
  // Lists and lease: it handled its batch while away; its ack is refused once Redis hears it.
  if (kind != SourceKind::kStream) {
    ASSERT_TRUE(wait_until([&] { return occurrences(d.log(), kLateAckRefused) > 0; }, 60s,
                           victim + " to find its batch taken over (its late ack refused)"))
        << d.log_tail();
  }
  const size_t share_before = hosts.share(0);
  rig.publish(second);
  const int64_t users = static_cast<int64_t>(events / 2);  // as many quotes
  ASSERT_TRUE(
      wait_until([&] { return rig.all_handled(users, users); }, 120s, "every event handled"))
      << rig.describe();
  if (rig.is_lease()) {
    EXPECT_NE(d.log().find("standing by: consumer"), std::string::npos) << d.log_tail();
  } else {
    EXPECT_GT(hosts.share(0), share_before) << victim << " took no part after it came back\n"
                                            << d.log_tail();
  }
  std::vector<std::string> logs = hosts.stop_all();

  int64_t reclaimed = 0;
  size_t takeovers = 0;
  for (int i = 1; i < kHosts; ++i) {
    reclaimed += rig.reclaimed_in(logs[i]);
    takeovers += Rig::takeovers_in(logs[i]);
    EXPECT_EQ(occurrences(logs[i], kLateAckRefused), 0u) << logs[i];
  }
  const size_t refused = occurrences(logs[0], kLateAckRefused);
  std::cout << "[ hosts    ] reclaimed by the others: " << reclaimed
            << ", lease takeovers: " << takeovers << ", late acks refused on " << victim << ": "
            << refused << "\n";
  if (rig.is_lease()) {
    EXPECT_EQ(takeovers, 1u);
    EXPECT_EQ(refused, 1u) << logs[0];
  } else {
    // Exactly what it held was handed over, once.
    EXPECT_EQ(reclaimed, held);
    // At most two late acks per worker (workers: 2): its batch and the one it took ahead.
    EXPECT_LE(refused, 4u) << logs[0];
  }
  EXPECT_EQ(rig.users(), users);
  EXPECT_EQ(rig.quotes(), users);
  rig.expect_drained_state();
  EXPECT_EQ(rig.dead_count(), 0) << rig.describe();
  // It is back and stopped cleanly: it holds nothing (lease: the lease stayed with the other).
  EXPECT_EQ(rig.inflight_of(victim), 0);
  if (rig.is_lease()) {
    EXPECT_NE(rig.lease_holder(), victim);
  }
}

TEST_P(SeparateHostsTest, HostCutOffMidDrainIsReclaimedAndFenced) {
  run_outage(kind(), Outage::kLinkDown);
}

TEST_P(SeparateHostsTest, HostFrozenMidDrainIsReclaimedAndFenced) {
  run_outage(kind(), Outage::kFrozen);
}

// A partition longer than the read timeout, for delivery: inflight (the timeouts and the
// reconnect are the same for every kind).
class LongPartitionTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string why = HostNetwork::unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << "network namespaces unavailable: " << why;
  }
};

TEST_F(LongPartitionTest, HostPartitionedPastItsReadTimeoutReconnectsAndIsFenced) {
  run_outage(SourceKind::kList, Outage::kPartition);
}

INSTANTIATE_TEST_SUITE_P(, SeparateHostsTest,
                         testing::Values(SourceKind::kList, SourceKind::kLease,
                                         SourceKind::kStream),
                         kind_param_name);
INSTANTIATE_TEST_SUITE_P(, SharingHostsTest,
                         testing::Values(SourceKind::kList, SourceKind::kStream), kind_param_name);

}  // namespace
}  // namespace switchyard::test::fault
