// redis_ops_test.cc: Redis operations under a draining daemon, for every source kind: CLIENT KILL,
// DEBUG RELOAD, FLUSHALL, a kill -9 of Redis with appendfsync everysec, an older RDB restored.
// What each test can promise is stated above it; nothing may wedge.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

class RedisOpsTest : public FaultTest {};

// A backlog that small batches drain for several seconds, so each operation lands mid-drain.
constexpr size_t kEvents = 20'000;
constexpr const char* kSource = "batch: 20\nworkers: 2\nmax_deliveries: 5\nreclaim_after: 2s";

// Fails the test unless messages are still pending or in flight (the operation is mid-drain).
void expect_mid_drain(Rig& rig, const std::string& before) {
  ASSERT_GT(rig.pending() + rig.inflight_total(), 0)
      << "the backlog drained before " << before << ": " << rig.describe();
}

// Every message of the source held by Redis right now: K (and, for lists, every in-flight list);
// for streams every entry still in the stream (handled or not).
std::set<std::string> messages_in_redis(Rig& rig) {
  std::set<std::string> out;
  if (rig.is_stream()) {
    for (const Reply& e : rig.client().command({"XRANGE", rig.key(), "-", "+"}).elements) {
      const Reply& fields = e.elements.at(1);
      for (size_t f = 0; f + 1 < fields.elements.size(); f += 2)
        if (fields.elements[f].str == "message") out.insert(fields.elements[f + 1].str);
    }
    return out;
  }
  for (const auto& m : rig.client().lrange(rig.key())) out.insert(m);
  for (const auto& k : rig.client().keys(rig.key() + ":inflight:*"))
    for (const auto& m : rig.client().lrange(k)) out.insert(m);
  return out;
}

// The messages the audit handler (routed the good events) saw, at least once each.
std::set<std::string> audited(Rig& rig) {
  const std::vector<std::string> lines = file_lines(rig.file("audit.out"));
  return {lines.begin(), lines.end()};
}

bool includes(const std::set<std::string>& all, const std::set<std::string>& part) {
  return std::includes(all.begin(), all.end(), part.begin(), part.end());
}

// The source with an audit handler that sees every good event (the bad ones stay unrouted).
RoutesYaml audited_spec(Rig& rig) {
  RoutesYaml spec = fault_spec(kSource);
  spec.extra_handlers = audit_handler(rig.file("audit.out"));
  spec.extra_routes = "\"user.*\": [audit]\n\"quote.*\": [audit]";
  return spec;
}

// Waits until every message of `must` was handled (audited), the source is drained and the dead
// letters are exactly `bad` (as a set: at-least-once allows a dead letter twice after a crash).
void expect_settled(Rig& rig, SwitchyardProcess& daemon, const std::set<std::string>& must,
                    const std::vector<std::string>& bad) {
  const std::set<std::string> bad_set(bad.begin(), bad.end());
  auto dead_set = [&] {
    std::multiset<std::string> m = rig.dead_messages();
    return std::set<std::string>(m.begin(), m.end());
  };
  ASSERT_TRUE(wait_until(
      [&] { return rig.drained() && includes(audited(rig), must) && dead_set() == bad_set; }, 60s,
      "every surviving message handled or dead-lettered"))
      << rig.describe() << "; handled " << audited(rig).size() << " of " << must.size()
      << " required\n"
      << daemon.log_tail();
  ASSERT_TRUE(daemon.is_running()) << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
  const std::vector<std::string> lines = file_lines(rig.file("audit.out"));
  std::cout << "[ fault    ] " << kind_name(rig.kind()) << ": " << lines.size() << " handlings of "
            << distinct_count(lines) << " distinct messages, " << must.size()
            << " of them required\n";
}

// CLIENT KILL of every connection the daemon has, three times mid-drain. Redis keeps all data:
// every message handled exactly once in SQLite, the bad ones dead-lettered exactly once.
TEST_P(RedisOpsTest, ClientKillOfTheDaemonsConnectionsMidDrain) {
  Rig rig(kind(), {}, durable_redis());
  rig.write_config(fault_spec(kSource));
  const std::vector<std::string> bad = bad_messages();
  rig.publish(mixed_events(kEvents));
  rig.publish(bad);
  SwitchyardProcess daemon = rig.start();
  for (int kill = 1; kill <= 3; ++kill) {
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= kill * 2'000; }, 30s,
                           "progress before CLIENT KILL #" + std::to_string(kill)))
        << daemon.log_tail();
    ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "CLIENT KILL"));
    rig.client().command({"CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"});
  }
  const int64_t half = kEvents / 2;
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 60s,
                         "every event handled after the kills"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
  rig.expect_dead_exactly(bad);
}

// DEBUG RELOAD (save, empty, load) twice mid-drain: the data survives it, so counts are exact.
TEST_P(RedisOpsTest, DebugReloadMidDrain) {
  RedisServerOptions options = durable_redis();
  options.extra_args.insert(options.extra_args.end(), {"--enable-debug-command", "yes"});
  Rig rig(kind(), {}, options);
  rig.write_config(fault_spec(kSource));
  const std::vector<std::string> bad = bad_messages();
  rig.publish(mixed_events(kEvents));
  rig.publish(bad);
  SwitchyardProcess daemon = rig.start();
  for (int reload = 1; reload <= 2; ++reload) {
    ASSERT_TRUE(wait_until([&] { return rig.rows() >= reload * 3'000; }, 30s,
                           "progress before DEBUG RELOAD #" + std::to_string(reload)))
        << daemon.log_tail();
    ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "DEBUG RELOAD"));
    rig.client().command({"DEBUG", "RELOAD"});
  }
  const int64_t half = kEvents / 2;
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half, bad.size()); }, 60s,
                         "every event handled after the reloads"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
  rig.expect_dead_exactly(bad);
}

// FLUSHALL mid-drain deletes the backlog by the operator's choice: those messages are gone.
// What must hold: the daemon does not wedge, and handles everything published afterwards.
TEST_P(RedisOpsTest, FlushallMidDrainThenEverythingPublishedAfterIsHandled) {
  Rig rig(kind());
  rig.write_config(audited_spec(rig));
  rig.publish(mixed_events(kEvents));
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 2'000; }, 30s, "progress before FLUSHALL"))
      << daemon.log_tail();
  ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "FLUSHALL"));
  rig.client().command({"FLUSHALL"});
  const std::vector<std::string> after = mixed_events(2'000, 1'000'000);
  const std::vector<std::string> bad = bad_messages();
  rig.publish(after);
  rig.publish(bad);
  std::set<std::string> must(after.begin(), after.end());
  expect_settled(rig, daemon, must, bad);
}

// kill -9 of Redis with appendfsync everysec mid-drain: up to a second of writes is lost, pushes
// and acks alike. What holds: every message Redis still has after its restart, and everything
// published afterwards, is handled (at least once) or dead-lettered; nothing wedges.
TEST_P(RedisOpsTest, AofEverysecKill9MidDrain) {
  RedisServerOptions options;
  options.appendonly = true;
  options.extra_args = {"--appendfsync", "everysec"};
  Rig rig(kind(), {}, options);
  rig.write_config(audited_spec(rig));
  Feed feed(rig, mixed_events(kEvents));
  feed.push(kEvents / 2);
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 2'000; }, 30s, "progress before kill -9"))
      << daemon.log_tail();
  feed.push(kEvents / 4);  // pushes in the last second may be lost with the crash
  ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "kill -9 of Redis"));
  rig.redis().kill9();
  rig.redis().start();
  rig.client() = rig.redis().client();
  std::set<std::string> must = messages_in_redis(rig);
  const std::vector<std::string> rest = mixed_events(kEvents / 4, 1'000'000);
  const std::vector<std::string> bad = bad_messages();
  rig.publish(rest);
  rig.publish(bad);
  must.insert(rest.begin(), rest.end());
  expect_settled(rig, daemon, must, bad);
}

// An older RDB restored under the running daemon (Redis killed, its dump.rdb replaced by one saved
// earlier, Redis started): messages handled since that save come back and are handled again
// (at-least-once); everything in the restored data and published afterwards is handled.
TEST_P(RedisOpsTest, OlderRdbRestoredUnderARunningDaemon) {
  namespace fs = std::filesystem;
  Rig rig(kind());
  rig.write_config(audited_spec(rig));
  rig.publish(mixed_events(kEvents));
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 2'000; }, 30s, "progress before SAVE"))
      << daemon.log_tail();
  ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "SAVE"));
  rig.client().command({"SAVE"});
  const std::string dump = rig.redis().dir() + "/dump.rdb", older = rig.file("older.rdb");
  fs::copy_file(dump, older);
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 5'000; }, 30s, "progress after SAVE"))
      << daemon.log_tail();
  ASSERT_NO_FATAL_FAILURE(expect_mid_drain(rig, "the restore"));
  rig.redis().kill9();
  fs::copy_file(older, dump, fs::copy_options::overwrite_existing);
  rig.redis().start();
  rig.client() = rig.redis().client();
  std::set<std::string> must = messages_in_redis(rig);
  ASSERT_FALSE(must.empty()) << "the restored RDB holds no backlog";
  const std::vector<std::string> rest = mixed_events(2'000, 1'000'000);
  const std::vector<std::string> bad = bad_messages();
  rig.publish(rest);
  rig.publish(bad);
  must.insert(rest.begin(), rest.end());
  expect_settled(rig, daemon, must, bad);
}

INSTANTIATE_FAULT_SUITE(RedisOpsTest);

}  // namespace
}  // namespace switchyard::test::fault
