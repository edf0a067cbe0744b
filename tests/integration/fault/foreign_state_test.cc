// foreign_state_test.cc: Redis state that Switchyard finds but did not write itself (an older
// state restored after a crash or failover, an operator's command, a second process under one
// consumer name, the other delivery mode) is healed, dead-lettered with a reason, or refused
// with one alert; it never wedges a worker or loses a message. Runs for the list kinds (list,
// laravel, and lease or stream where the state applies to it).
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <filesystem>
#include <string>
#include <vector>

#include "fault_support.h"
#include "records/dead_letter.h"

namespace switchyard::test::fault {
namespace {

class ForeignStateTest : public testing::TestWithParam<SourceKind> {};
class ForeignStateAnyListTest : public testing::TestWithParam<SourceKind> {};
class ForeignStateRetryTest : public testing::TestWithParam<SourceKind> {};

INSTANTIATE_TEST_SUITE_P(, ForeignStateTest,
                         testing::Values(SourceKind::kList, SourceKind::kLaravel), kind_param_name);
INSTANTIATE_TEST_SUITE_P(, ForeignStateAnyListTest,
                         testing::Values(SourceKind::kList, SourceKind::kLaravel,
                                         SourceKind::kLease),
                         kind_param_name);
INSTANTIATE_TEST_SUITE_P(, ForeignStateRetryTest,
                         testing::Values(SourceKind::kList, SourceKind::kLaravel,
                                         SourceKind::kStream),
                         kind_param_name);

// Starts one daemon and returns its consumer name once its heartbeat shows.
std::string start_one(Rig& rig, SwitchyardProcess* daemon) {
  *daemon = rig.start();
  std::string name;
  EXPECT_TRUE(wait_until(
      [&] {
        auto c = rig.consumers();
        if (c.size() != 1) return false;
        name = c[0];
        return true;
      },
      10s, "the daemon to show up as a consumer"))
      << daemon->log_tail();
  return name;
}

// Starts one daemon with one worker and waits until that worker is past its start (which
// recovers its own list as a crashed run's): it has handled a first message. *name is its
// consumer name.
void start_one_worker_past_its_start(Rig& rig, SwitchyardProcess* daemon, std::string* name) {
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 2s"));
  *name = start_one(rig, daemon);
  ASSERT_FALSE(name->empty());
  rig.publish(mixed_events(2, 1000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1, 1); }, 10s, "a first message"))
      << rig.describe() << "\n"
      << daemon->log_tail();
}

TEST_P(ForeignStateTest, StaleElementInALiveWorkersInflightListIsHandledAndNothingWedges) {
  Rig rig(GetParam());
  SwitchyardProcess daemon;
  std::string name;
  ASSERT_NO_FATAL_FAILURE(start_one_worker_past_its_start(rig, &daemon, &name));
  // An element this worker never took appears in its in-flight list (an older in-flight list
  // restored with Redis, or an operator's push) while it waits for work; then a backlog arrives.
  const std::string inflight = rig.key() + ":inflight:" + name + ":0";
  rig.client().rpush(inflight, "not json");
  const std::vector<std::string> events = mixed_events(50);
  rig.publish(events);

  ASSERT_TRUE(wait_until([&] { return rig.all_handled(26, 26, 1); }, 20s,
                         "the backlog and the stale element to be handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_dead_exactly(std::vector<std::string>{"not json"});
  rig.expect_drained_state();
  const std::string log = daemon.log();
  EXPECT_EQ(occurrences(log, kLateAckRefused), 0u) << "an ack was refused:\n" << log;
  // By the take (the worker waits for work: the stale element is found before the backlog) or
  // by the ack (the backlog arrived first).
  EXPECT_TRUE(log.find("in-flight lists " + inflight + " and " + inflight + "b held ") !=
                  std::string::npos ||
              log.find("in-flight list " + inflight + " held ") != std::string::npos)
      << "the healing was not logged:\n"
      << log;
}

// The same while nothing else arrives, in both of the worker's in-flight lists (the second is
// where it takes ahead): an older Redis state restored under an idle daemon must not wait for
// new traffic, nor stay in the take-ahead list for as long as the worker lives.
TEST_P(ForeignStateTest, StaleElementsInAnIdleWorkersInflightListsAreHandledWithoutNewTraffic) {
  Rig rig(GetParam());
  SwitchyardProcess daemon;
  std::string name;
  ASSERT_NO_FATAL_FAILURE(start_one_worker_past_its_start(rig, &daemon, &name));
  const std::vector<std::string> stale = mixed_events(4, 2000);
  const std::string inflight = rig.key() + ":inflight:" + name + ":0";
  rig.client().rpush_many(inflight, {stale[0], stale[1]});
  rig.client().rpush_many(inflight + "b", {stale[2], stale[3]});

  ASSERT_TRUE(wait_until([&] { return rig.all_handled(3, 3); }, 20s,
                         "the stale elements of both lanes to be handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

TEST_P(ForeignStateTest, SecondLiveProcessUnderOneConsumerNameStandsByWithAnAlert) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 2\nreclaim_after: 1s"));
  SwitchyardProcess first;
  const std::string name = start_one(rig, &first);
  ASSERT_FALSE(name.empty());
  // A clone: same hostname, its own lock directory (another VM), so the same consumer name.
  SwitchyardProcess second = SwitchyardProcess::run(rig.config_path(), rig.file("second.log"), {},
                                                    {{"RUNTIME_DIRECTORY", rig.file("clone")}});
  std::filesystem::create_directories(rig.file("clone"));
  ASSERT_TRUE(wait_until(
      [&] { return second.log().find("is in use by another live process") != std::string::npos; },
      10s, "the second process to refuse the name"))
      << second.log_tail();
  EXPECT_EQ(occurrences(second.log(), "is in use by another live process"), 1u)
      << "the refusal is logged once:\n"
      << second.log();
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "consumer_name_taken"});
  ASSERT_FALSE(alert.is_nil()) << "no alert in " << rig.key() << ":alerts";
  EXPECT_NE(alert.str.find(rig.key() + ":heartbeat:" + name), std::string::npos) << alert.str;
  const CommandResult stats = rig.cli({"stats"});
  EXPECT_NE(stats.out.find("ALERT consumer_name_taken"), std::string::npos) << stats;

  const std::vector<std::string> events = mixed_events(2000);
  rig.publish(events);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1000, 1000); }, 30s,
                         "the first process to handle everything"))
      << rig.describe() << "\n"
      << first.log_tail() << second.log_tail();
  EXPECT_EQ(occurrences(first.log() + second.log(), kLateAckRefused), 0u);

  // The first dies: the second takes the name over once its heartbeat expires, and consumes.
  first.kill9();
  rig.publish(mixed_events(200, 5000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1100, 1100); }, 30s,
                         "the second process to take over"))
      << rig.describe() << "\n"
      << second.log_tail();
  rig.expect_drained_state();
}

// delivery: lease: the same for the lease. A second live process under the holder's name does not
// take the lease over (both would take windows in turn, each ack refused, everything handled
// again); it stands by with the alert until the holder is gone.
TEST(ForeignStateLeaseTest, SecondLiveProcessUnderOneConsumerNameLeavesTheLeaseToTheFirst) {
  Rig rig(SourceKind::kLease);
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  SwitchyardProcess first = rig.start();
  std::string holder;
  ASSERT_TRUE(wait_until(
      [&] {
        Reply r = rig.client().command({"GET", rig.key() + ":lease"});
        if (r.is_nil()) return false;
        holder = r.str;
        return true;
      },
      10s, "the first process to hold the lease"))
      << first.log_tail();
  std::filesystem::create_directories(rig.file("clone"));
  // A clone: same hostname, its own lock directory (another VM), so the same consumer name.
  SwitchyardProcess second = SwitchyardProcess::run(rig.config_path(), rig.file("second.log"), {},
                                                    {{"RUNTIME_DIRECTORY", rig.file("clone")}});
  ASSERT_TRUE(wait_until(
      [&] { return second.log().find("is in use by another live process") != std::string::npos; },
      10s, "the second process to refuse the name"))
      << second.log_tail();
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "consumer_name_taken"});
  ASSERT_FALSE(alert.is_nil()) << "no alert in " << rig.key() << ":alerts";
  EXPECT_NE(alert.str.find(rig.key() + ":lease"), std::string::npos) << alert.str;

  const std::vector<std::string> events = mixed_events(2000);
  rig.publish(events);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1000, 1000); }, 30s,
                         "the first process to handle everything"))
      << rig.describe() << "\n"
      << first.log_tail() << second.log_tail();
  EXPECT_EQ(rig.client().command({"GET", rig.key() + ":lease"}).str, holder)
      << "the lease changed hands while its holder was alive\n"
      << second.log_tail();
  EXPECT_EQ(occurrences(second.log(), "now holds the lease"), 0u) << second.log();

  // The first dies: the second, on this host's boot, sees its process gone and takes over.
  first.kill9();
  rig.publish(mixed_events(200, 5000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1100, 1100); }, 30s,
                         "the second process to take over"))
      << rig.describe() << "\n"
      << second.log_tail();
  rig.expect_drained_state();
}

TEST_P(ForeignStateTest, MessageInAnUnregisteredInflightListIsRecovered) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  SwitchyardProcess daemon;
  ASSERT_FALSE(start_one(rig, &daemon).empty());
  // A consumer moved a message into its in-flight list after another instance had reclaimed
  // (and unregistered) that list, then died for good: nothing in K:inflight names the list.
  const std::string orphan = rig.key() + ":inflight:gone:7:0";
  rig.client().rpush(orphan, user_registered(1));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(1, 0); }, 20s,
                         "the orphaned message to be recovered and handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
  EXPECT_NE(daemon.log().find(orphan + " was not registered"), std::string::npos)
      << daemon.log_tail();
}

TEST_P(ForeignStateAnyListTest, DeliveryCountsLeftBehindAreClearedAndTheFastPathReturns) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  const std::vector<std::string> events = mixed_events(100);
  auto sha = [&](const std::string& m) {
    return rig.client().command({"EVAL", "return redis.sha1hex(ARGV[1])", "0", m}).str;
  };
  // Counts an earlier run of the other delivery mode left: one for a message still queued (not
  // first: it is no redelivery of a crash), one for a message an operator removed since.
  rig.client().command({"HSET", rig.key() + ":deliveries", sha(events[50]), "1",
                        sha("removed by an operator"), "2"});
  rig.publish(events);
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.all_handled(50, 50) &&
               rig.client().command({"EXISTS", rig.key() + ":deliveries"}).integer == 0;
      },
      20s, "everything handled and no delivery count left"))
      << rig.describe() << "\n"
      << rig.client().command({"HGETALL", rig.key() + ":deliveries"}).describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
}

TEST_P(ForeignStateRetryTest, SlowRetryRunIsRenewedNotLeasedAgainByAnotherWorker) {
  Rig rig(GetParam(), {"flaky_sink"});
  RoutesYaml spec = fault_spec("batch: 10\nworkers: 2\nmax_deliveries: 2\nreclaim_after: 1s");
  // Fails each job once; its retry then takes 2.5 s, longer than reclaim_after.
  spec.extra_handlers =
      "flaky:\n  plugin: flaky_sink\n  config: { path: " + json_string(rig.file("flaky.out")) +
      ", fail_times: 1, sleep_ms: 2500 }\n";
  spec.extra_routes = "flaky.job: [flaky]";
  rig.write_config(spec);
  const std::vector<std::string> jobs = numbered("flaky.job", 3);
  SwitchyardProcess daemon = rig.start();
  rig.publish(jobs);
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(rig.file("flaky.out")).size() >= 3 && rig.retrying() == 0 &&
               rig.pending() == 0 && rig.inflight_total() == 0;
      },
      40s, "the slow retries to finish"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(rig.dead_count(), 0) << "a slow retry was taken for a crash: "
                                 << (rig.dead_count() ? rig.dead_letters().at(0).reason : "");
  std::vector<std::string> lines = file_lines(rig.file("flaky.out"));
  std::sort(lines.begin(), lines.end());
  std::vector<std::string> expected = jobs;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(lines, expected) << "each retry ran once, by one worker";
  rig.expect_drained_state();
  EXPECT_EQ(rig.client().command({"EXISTS", rig.key() + ":retry:runners"}).integer, 0);
}

TEST_P(ForeignStateAnyListTest, KeysOfAnotherTypeAreMovedAsideWithAnAlertAndNothingWedges) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  // An operator's commands replaced the dead letters, the delivery counts and the lease with
  // values of other types.
  rig.client().command({"SET", rig.dead_key(), "not a list"});
  rig.client().command({"SET", rig.key() + ":deliveries", "not a hash"});
  rig.client().command({"HSET", rig.lease_key(), "not", "a string"});
  SwitchyardProcess daemon = rig.start();
  std::vector<std::string> messages = mixed_events(100);
  messages.push_back("{broken");
  rig.publish(messages);
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(50, 50, 1); }, 20s,
                         "everything handled, the broken message dead-lettered"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_dead_exactly(std::vector<std::string>{"{broken"});
  rig.expect_drained_state();
  // Nothing of what was there is lost: it waits under K:quarantine:..., named by an alert.
  const std::vector<std::string> aside = rig.client().keys(rig.key() + ":quarantine:*");
  EXPECT_EQ(aside.size(), 3u) << testing::PrintToString(aside);
  Reply alerts = rig.client().command({"HGETALL", rig.key() + ":alerts"});
  EXPECT_NE(alerts.describe().find("wrongtype_dead"), std::string::npos) << alerts.describe();
}

// The two delivery modes on one key: whoever consumes first keeps it, the other stands by and
// says so, and nothing waits for ever.
TEST(ForeignStateModesTest, InflightConsumerStartingWhileALeaseIsHeldStandsByAndTheBacklogDrains) {
  Rig rig(SourceKind::kList);
  const std::string inflight_config =
      rig.write_config(fault_spec("batch: 100\nworkers: 2\nreclaim_after: 1s"));
  std::filesystem::copy_file(inflight_config, rig.file("inflight.yaml"));
  rig.write_config(fault_spec("delivery: lease\nbatch: 100\nworkers: 1\nreclaim_after: 1s"));
  SwitchyardProcess lease = rig.start("lease.log");
  ASSERT_TRUE(wait_until([&] { return !rig.lease_holder().empty(); }, 10s, "the lease"))
      << lease.log_tail();
  SwitchyardProcess inflight =
      SwitchyardProcess::run(rig.file("inflight.yaml"), rig.file("inflight.log"), {},
                             {{"RUNTIME_DIRECTORY", rig.file("run")}});
  ASSERT_TRUE(
      wait_until([&] { return inflight.log().find("delivery: lease holds") != std::string::npos; },
                 10s, "the inflight consumer to stand by"))
      << inflight.log_tail();
  rig.publish(mixed_events(2000));
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == 1000 && rig.quotes() == 1000 && rig.client().llen(rig.key()) == 0;
      },
      30s, "the backlog to drain"))
      << rig.describe() << "\n"
      << lease.log_tail() << inflight.log_tail();
  EXPECT_EQ(rig.client().keys(rig.key() + ":inflight*"), std::vector<std::string>())
      << "the standing-by inflight consumer registered in-flight lists";
  EXPECT_EQ(occurrences(inflight.log(), "delivery: lease holds"), 1u)
      << "the refusal is logged once:\n"
      << inflight.log();

  // The lease holder goes away: the inflight consumer takes over once the lease expires.
  lease.kill9();
  rig.publish(mixed_events(200, 5000));
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.users() == 1100 && rig.quotes() == 1100 && rig.client().llen(rig.key()) == 0 &&
               rig.inflight_total() == 0;
      },
      30s, "the inflight consumer to take over"))
      << rig.describe() << "\n"
      << inflight.log_tail();
}

// Switchyard writes K:lease with a TTL: one without (an operator's SET, a restore) would stop
// delivery: inflight consumers for good. It gets reclaim_after (a live holder renews it), with an
// alert, and the consumers take once it expires.
TEST_P(ForeignStateTest, LeaseWithoutTtlExpiresWithAnAlertAndTheBacklogDrains) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  SwitchyardProcess daemon;
  ASSERT_FALSE(start_one(rig, &daemon).empty());
  rig.client().command({"SET", rig.lease_key(), "foo|bar"});
  rig.publish(mixed_events(200));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(100, 100); }, 20s,
                         "the backlog to drain once the foreign lease expires"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
  EXPECT_EQ(rig.client().command({"EXISTS", rig.lease_key()}).integer, 0);
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "lease_without_ttl"});
  ASSERT_FALSE(alert.is_nil()) << "no alert in " << rig.key() << ":alerts";
  EXPECT_NE(alert.str.find(rig.lease_key()), std::string::npos) << alert.str;
}

// A heartbeat without a TTL never expires: the in-flight list of that (dead) consumer would never
// be reclaimed, and a delivery: lease consumer would stand by for ever. It gets reclaim_after.
TEST_P(ForeignStateAnyListTest, HeartbeatWithoutTtlExpiresWithAnAlertAndItsListIsReclaimed) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  const std::string heartbeat = rig.key() + ":heartbeat:ghost2";
  const std::string list = rig.key() + ":inflight:ghost2:0";
  rig.client().command({"SET", heartbeat, "x"});
  rig.client().command({"HSET", rig.key() + ":inflight", list, "ghost2"});
  rig.client().rpush(list, user_registered(1));
  SwitchyardProcess daemon = rig.start();
  rig.publish(mixed_events(100, 1000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(51, 50); }, 20s,
                         "the ghost's message and the backlog to be handled"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
  EXPECT_EQ(rig.client().command({"EXISTS", heartbeat}).integer, 0);
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "heartbeat_without_ttl"});
  ASSERT_FALSE(alert.is_nil()) << "no alert in " << rig.key() << ":alerts";
  EXPECT_NE(alert.str.find(heartbeat), std::string::npos) << alert.str;
}

// A K:window with values out of range (n beyond K, a negative suspect count) is clamped to K:
// it must not keep the lease taking one message at a time for ever.
TEST(ForeignStateLeaseTest, CorruptWindowIsClampedWithAnAlertAndBatchesReturn) {
  Rig rig(SourceKind::kLease);
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nreclaim_after: 1s"));
  rig.client().command(
      {"HSET", rig.window_key(), "n", "999999999", "by", "ghost|tok", "suspect", "-7"});
  rig.publish(mixed_events(20));
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(10, 10); }, 20s, "the first messages"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.publish(mixed_events(200, 1000));
  ASSERT_TRUE(wait_until([&] { return rig.all_handled(110, 110); }, 20s, "the backlog"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  rig.expect_drained_state();
  Reply alert = rig.client().command({"HGET", rig.key() + ":alerts", "window_corrupt"});
  ASSERT_FALSE(alert.is_nil()) << "no alert in " << rig.key() << ":alerts";
  EXPECT_NE(alert.str.find(rig.window_key()), std::string::npos) << alert.str;
}

TEST_P(ForeignStateAnyListTest, NonUtf8MessageOverMaxDeliveriesByCrashRecoveryKeepsItsBytes) {
  Rig rig(GetParam());
  rig.write_config(fault_spec("batch: 100\nworkers: 1\nmax_deliveries: 3\nreclaim_after: 1s"));
  const std::string message = std::string("{\"event\":\"user.registered\",\"x\":\"\xff\xfe", 34) +
                              "\xc3\x28 caf\xc3\xa9\"}";
  const std::string sha =
      rig.client().command({"EVAL", "return redis.sha1hex(ARGV[1])", "0", message}).str;
  // It was delivered twice already and crashed its consumer each time; a dead consumer holds it.
  rig.client().command({"HSET", rig.key() + ":deliveries", sha, "2"});
  if (rig.is_lease()) {
    rig.client().rpush(rig.key(), message);
    rig.client().command({"HSET", rig.window_key(), "n", "1", "by", "dead:0|x", "suspect", "1"});
  } else {
    const std::string list = rig.key() + ":inflight:dead:0:0";
    rig.client().rpush(list, message);
    rig.client().command({"HSET", rig.key() + ":inflight", list, "dead:0"});
  }
  SwitchyardProcess daemon = rig.start();
  ASSERT_TRUE(wait_until([&] { return rig.dead_count() == 1; }, 15s, "the dead letter"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  const std::string raw = rig.client().lrange(rig.dead_key()).at(0);
  rapidjson::Document doc;
  doc.Parse(raw.data(), raw.size());
  ASSERT_FALSE(doc.HasParseError()) << raw;
  ASSERT_TRUE(doc.HasMember("message_base64") && doc["message_base64"].IsString())
      << "a non-UTF-8 message needs message_base64: " << raw;
  ASSERT_TRUE(doc["message"].IsString()) << raw;
  EXPECT_EQ(std::string(doc["message"].GetString()),
            "{\"event\":\"user.registered\",\"x\":\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd( "
            "caf\xc3\xa9\"}")
      << "each invalid byte reads as U+FFFD in \"message\"";
  // Decoded as Switchyard decodes K:dead (dlq replay), the exact bytes come back.
  DeadLetter letter;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(raw, &letter, &error)) << error << ": " << raw;
  EXPECT_EQ(letter.message, message);
  EXPECT_EQ(letter.reason, "exceeded max deliveries (3)");
  EXPECT_EQ(letter.attempts, 3);
  rig.expect_drained_state();
}

}  // namespace
}  // namespace switchyard::test::fault
