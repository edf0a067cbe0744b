// redis_ops_stream_test.cc: Redis operations on a stream source that Switchyard did not make
// itself (the group destroyed, pending entries deleted or trimmed, foreign entries, batches slower
// than reclaim_after, a poison entry among a silent consumer's entries): each is healed or
// dead-lettered with a reason; nothing is lost, nothing wedges.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "fault_support.h"

namespace switchyard::test::fault {
namespace {

constexpr const char* kDeletedReason = "entry deleted before it was acknowledged";

// XADDs one entry with these field/value pairs; returns its id.
std::string xadd(Rig& rig, const std::vector<std::string>& fields) {
  std::vector<std::string> argv = {"XADD", rig.key(), "*"};
  argv.insert(argv.end(), fields.begin(), fields.end());
  return rig.client().command(argv).str;
}

// The ids of the stream's entries, oldest first.
std::vector<std::string> entry_ids(Rig& rig) {
  std::vector<std::string> ids;
  for (const Reply& e : rig.client().command({"XRANGE", rig.key(), "-", "+"}).elements)
    ids.push_back(e.elements.at(0).str);
  return ids;
}

// The dead letters whose reason says their entry was deleted, and the ids those reasons name.
std::set<std::string> deleted_ids_in_dead_letters(Rig& rig, const std::vector<std::string>& ids) {
  std::set<std::string> named;
  for (const DeadLetterView& d : rig.dead_letters()) {
    if (d.reason.find(kDeletedReason) == std::string::npos) continue;
    EXPECT_EQ(d.message, "") << d.raw;
    EXPECT_EQ(d.source, "events") << d.raw;
    for (const std::string& id : ids)
      if (d.reason.find(id) != std::string::npos) named.insert(id);
  }
  return named;
}

TEST(RedisOpsStreamTest, GroupDestroyedMidDrainIsRecreatedAndEverythingIsHandled) {
  constexpr size_t kEvents = 6'000;
  Rig rig(SourceKind::kStream, {}, durable_redis());
  rig.write_config(fault_spec("batch: 50\nworkers: 2\nreclaim_after: 2s"));
  Feed feed(rig, mixed_events(kEvents));
  feed.push(kEvents / 2);
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.rows() >= 500; }, 30s, "progress before XGROUP DESTROY"))
      << daemon.log_tail();
  rig.client().command({"XGROUP", "DESTROY", rig.key(), kStreamGroup});
  feed.push_rest();  // published while the group is gone

  const int64_t half = static_cast<int64_t>(kEvents / 2);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(half, half); }, 60s,
                         "every event handled after the group was destroyed"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  const std::string log = daemon.log();
  EXPECT_NE(log.find("recreated consumer group " + std::string(kStreamGroup)), std::string::npos)
      << log;
  // An operator sees it in K:alerts (switchyard stats) until they clear it.
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "group_lost"});
  EXPECT_NE(alert.str.find("recreated consumer group " + std::string(kStreamGroup) + " on stream " +
                           rig.key()),
            std::string::npos)
      << alert.describe();
  rig.expect_drained_state();
  EXPECT_EQ(rig.dead_count(), 0);
}

TEST(RedisOpsStreamTest, StreamDeletedWhileTheDaemonIsDownIsHandledFromItsFirstEntry) {
  // The group is gone (the stream was deleted, as FLUSHALL or a restore would), and the producer
  // recreated the stream while the daemon was down: its entries are handled after restart.
  Rig rig(SourceKind::kStream);
  RoutesYaml spec = fault_spec("batch: 50\nworkers: 1\nreclaim_after: 2s");
  rig.write_config(spec);
  SwitchyardProcess daemon = rig.start();
  rig.publish(mixed_events(100));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(50, 50); }, 30s, "first drain"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.client().del(rig.key());
  rig.publish(mixed_events(100, 1'000));
  daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(100, 100); }, 30s,
                         "the entries published while the daemon was down"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, KeyReplacedByAnotherTypeIsRefusedNamingItThenHealsOnceFixed) {
  Rig rig(SourceKind::kStream);
  rig.write_config(fault_spec("batch: 50\nworkers: 1\nreclaim_after: 2s"));
  SwitchyardProcess daemon = rig.start();
  rig.publish(mixed_events(100));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(50, 50); }, 30s, "first drain"))
      << daemon.log_tail();
  // An operator replaces the stream by a string, then notices and deletes it.
  rig.client().command(
      {"EVAL", "redis.call('DEL', KEYS[1]); redis.call('SET', KEYS[1], 'x')", "1", rig.key()});
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string log = daemon.log();
        return log.find("WRONGTYPE") != std::string::npos &&
               log.find("key " + rig.key() +
                        " of source events holds something other than a "
                        "stream") != std::string::npos;
      },
      10s, "the daemon to refuse the key, naming it"))
      << daemon.log_tail();
  rig.client().del(rig.key());
  rig.publish(mixed_events(100, 1'000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(100, 100); }, 30s,
                         "the entries published once the key was fixed"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  ASSERT_TRUE(daemon.is_running()) << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, EntriesDeletedFromASilentConsumerAreDeadLetteredWithTheirIds) {
  Rig rig(SourceKind::kStream);
  rig.write_config(fault_spec("batch: 50\nworkers: 1\nreclaim_after: 1s"));
  rig.client().command({"XGROUP", "CREATE", rig.key(), kStreamGroup, "0", "MKSTREAM"});
  rig.publish(mixed_events(20));
  // A consumer that read 6 entries and died; then an operator deleted 3 and trimmed 1 of them.
  rig.client().command(
      {"XREADGROUP", "GROUP", kStreamGroup, "ghost", "COUNT", "6", "STREAMS", rig.key(), ">"});
  const std::vector<std::string> ids = entry_ids(rig);
  rig.client().command({"XDEL", rig.key(), ids[1], ids[3], ids[5]});
  rig.client().command({"XTRIM", rig.key(), "MINID", ids[1]});  // removes ids[0]
  const std::vector<std::string> deleted = {ids[0], ids[1], ids[3], ids[5]};

  SwitchyardProcess daemon = rig.start();
  // 16 good events remain (8 users, 8 quotes: mixed_events alternates).
  ASSERT_TRUE(wait_until([&] { return rig.rows() == 16 && rig.drained() && rig.dead_count() == 4; },
                         30s, "the silent consumer's entries claimed or dead-lettered"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(deleted_ids_in_dead_letters(rig, deleted),
            std::set<std::string>(deleted.begin(), deleted.end()));
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, OwnPendingEntriesDeletedBeforeTheAckAreDeadLetteredWithTheirIds) {
  Rig rig(SourceKind::kStream, {"crash_sink"});
  RoutesYaml spec = fault_spec("batch: 20\nworkers: 1\nmax_deliveries: 2\nreclaim_after: 1s");
  spec.extra_handlers =
      "crasher:\n  plugin: crash_sink\n  config: { path: \"" + rig.file("crash.out") + "\" }";
  spec.extra_routes = "\"*\": [crasher]";
  rig.write_config(spec);
  const std::string poison = envelope("poison.pill", "{\"crash\":true,\"n\":1}");
  std::vector<std::string> messages = mixed_events(10);
  messages.push_back(poison);
  rig.publish(messages);

  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return !daemon.is_running(); }, 30s, "the poison to crash it"))
      << daemon.log_tail();
  // Its whole batch is pending for it; an operator deletes three of those entries.
  const std::vector<std::string> ids = entry_ids(rig);
  ASSERT_EQ(ids.size(), 11u);
  rig.client().command({"XDEL", rig.key(), ids[0], ids[4], ids[9]});
  const std::vector<std::string> deleted = {ids[0], ids[4], ids[9]};

  // The SQLite sinks may have written the batch before crash_sink aborted: rows are not counted.
  auto settled = [&] { return rig.drained() && rig.dead_count() == 4; };
  for (int runs = 0; runs < 4 && !settled(); ++runs) {
    daemon = rig.start();
    ASSERT_TRUE(wait_until([&] { return !daemon.is_running() || settled(); }, 30s,
                           "the daemon to crash or to finish"))
        << daemon.log_tail();
  }
  ASSERT_TRUE(settled()) << rig.describe() << "\n" << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(deleted_ids_in_dead_letters(rig, deleted),
            std::set<std::string>(deleted.begin(), deleted.end()));
  EXPECT_EQ(rig.dead_messages().count(poison), 1u);
  // Every entry that was not deleted reached the handlers.
  std::set<std::string> survivors;
  for (size_t i = 0; i < 10; ++i)
    if (i != 0 && i != 4 && i != 9) survivors.insert(messages[i]);
  const std::vector<std::string> lines = file_lines(rig.file("crash.out"));
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()), survivors);
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, EntryWithoutMessageFieldIsDeadLetteredNamingItsFields) {
  Rig rig(SourceKind::kStream);
  rig.write_config(fault_spec("batch: 50\nworkers: 1\nreclaim_after: 2s"));
  rig.publish(mixed_events(10));
  const std::string id = xadd(rig, {"payload", "{}", "kind", "x"});
  rig.publish(mixed_events(10, 100));
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(10, 10, 1); }, 30s, "the stream drained"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  std::vector<DeadLetterView> dead = rig.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].reason.find("no \"message\" field"), std::string::npos) << dead[0].raw;
  EXPECT_NE(dead[0].reason.find(id), std::string::npos) << dead[0].raw;
  EXPECT_NE(dead[0].reason.find("payload, kind"), std::string::npos) << dead[0].raw;
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, BatchSlowerThanReclaimAfterIsNotClaimedWhileBeingHandled) {
  constexpr int kEvents = 10;
  Rig rig(SourceKind::kStream, {"slow_sink"});
  // Two workers take a batch each and handle it for 2.5 s; the third is idle and claims entries
  // idle longer than reclaim_after (1 s) unless their owners keep them.
  RoutesYaml spec = fault_spec("batch: 5\nworkers: 3\nreclaim_after: 1s");
  spec.extra_handlers = "slow:\n  plugin: slow_sink\n  config: { path: \"" + rig.file("slow.out") +
                        "\", sleep_ms: 2500 }";
  spec.extra_routes = "\"*\": [slow]";
  rig.write_config(spec);
  const std::vector<std::string> events = mixed_events(kEvents);
  rig.publish(events);
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(kEvents / 2, kEvents / 2); }, 30s,
                         "the slow batches handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  const std::vector<std::string> lines = file_lines(rig.file("slow.out"));
  EXPECT_EQ(lines.size(), static_cast<size_t>(kEvents)) << "handled more than once";
  EXPECT_EQ(std::set<std::string>(lines.begin(), lines.end()),
            std::set<std::string>(events.begin(), events.end()));
  EXPECT_EQ(rig.reclaimed_in(daemon.log()), 0) << daemon.log();
  EXPECT_EQ(occurrences(daemon.log(), kLateAckRefused), 0u) << daemon.log();
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, ConsumerDeletedWhileHandlingStillWritesItsBatchAndAlerts) {
  Rig rig(SourceKind::kStream, {"slow_sink"});
  RoutesYaml spec = fault_spec("batch: 20\nworkers: 1\nreclaim_after: 10s");
  spec.extra_handlers = "slow:\n  plugin: slow_sink\n  config: { path: \"" + rig.file("slow.out") +
                        "\", sleep_ms: 1500 }";
  spec.extra_routes = "\"user.*\": [slow]\n\"quote.*\": [slow]";
  rig.write_config(spec);
  const std::vector<std::string> bad = {"{not json #1", "{not json #2", "{not json #3"};
  std::vector<std::string> messages = mixed_events(6);
  messages.insert(messages.end(), bad.begin(), bad.end());
  rig.publish(messages);
  SwitchyardProcess daemon = rig.start();
  // While the batch is in the slow handler, an operator deletes the consumer holding it.
  std::string consumer;
  ASSERT_TRUE(wait_until(
      [&] {
        Reply r = rig.client().try_command({"XINFO", "CONSUMERS", rig.key(), kStreamGroup});
        for (const Reply& c : r.elements) {
          std::map<std::string, Reply> m = flat_map(c);
          if (m["pending"].integer == static_cast<int64_t>(messages.size()))
            consumer = m["name"].str;
        }
        return !consumer.empty();
      },
      10s, "the daemon to hold the batch"))
      << daemon.log_tail();
  rig.client().command({"XGROUP", "DELCONSUMER", rig.key(), kStreamGroup, consumer});
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(3, 3, bad.size()); }, 30s,
                         "the batch acked with its dead letters"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  rig.expect_dead_exactly(bad);
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "consumer_deleted"});
  EXPECT_NE(alert.str.find("consumer " + consumer + " was deleted from group"), std::string::npos)
      << alert.describe();
  rig.expect_drained_state();
}

TEST(RedisOpsStreamTest, PoisonAmongASilentConsumersEntriesDoesNotDeadLetterItsNeighbours) {
  Rig rig(SourceKind::kStream, {"crash_sink"});
  RoutesYaml spec = fault_spec("batch: 20\nworkers: 1\nmax_deliveries: 2\nreclaim_after: 1s");
  spec.extra_handlers =
      "crasher:\n  plugin: crash_sink\n  config: { path: \"" + rig.file("crash.out") + "\" }";
  spec.extra_routes = "\"*\": [crasher]";
  rig.write_config(spec);
  const std::string poison = envelope("poison.pill", "{\"crash\":true,\"n\":1}");
  std::vector<std::string> good = mixed_events(8);
  std::vector<std::string> messages = good;
  messages.insert(messages.begin() + 3, poison);
  rig.client().command({"XGROUP", "CREATE", rig.key(), kStreamGroup, "0", "MKSTREAM"});
  rig.publish(messages);
  // A consumer read all nine and died: its entries are claimed after reclaim_after.
  rig.client().command(
      {"XREADGROUP", "GROUP", kStreamGroup, "ghost", "COUNT", "9", "STREAMS", rig.key(), ">"});

  auto settled = [&] { return rig.rows() == 8 && rig.drained() && rig.dead_count() == 1; };
  SwitchyardProcess daemon = rig.start();
  for (int runs = 0; runs < 4; ++runs) {
    ASSERT_TRUE(wait_until([&] { return !daemon.is_running() || settled(); }, 30s,
                           "the daemon to crash or to finish"))
        << daemon.log_tail();
    if (daemon.is_running()) break;
    daemon = rig.start();
  }
  ASSERT_TRUE(wait_until(settled, 30s, "the stream settled")) << rig.describe() << "\n"
                                                              << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  std::vector<DeadLetterView> dead = rig.dead_letters();
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].message, poison);
  EXPECT_EQ(dead[0].reason, "exceeded max deliveries (2)");
  rig.expect_drained_state();
}

}  // namespace
}  // namespace switchyard::test::fault
