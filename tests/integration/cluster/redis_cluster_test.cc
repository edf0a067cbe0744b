// redis_cluster_test.cc: the daemon on a real 6-node Redis Cluster: two sources on different
// shards (and a Laravel queue in Laravel's cluster layout) drain with exact counts; a master killed
// mid-drain (its replica promoted) and a slot migrated mid-drain cost duplicates at most, never a
// message.
#include "support/redis_cluster.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "redis/crc16.h"
#include "support/events.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    cluster_.start();
    // Two hash tags whose slots two different masters serve.
    users_key_ = "{users}";
    for (int i = 0; quotes_key_.empty(); ++i) {
      const std::string key = "{quotes" + std::to_string(i) + "}";
      if (cluster_.master_of_key(key) != cluster_.master_of_key(users_key_)) quotes_key_ = key;
    }
  }

  // laravel: a third source, a Laravel queue in Laravel's own cluster layout (queues:{jobs}).
  std::string config(bool laravel = false) {
    std::string seeds;
    for (const std::string& url : cluster_.seed_urls()) seeds += (seeds.empty() ? "" : ", ") + url;
    const std::string db = dir_.file("sink.db");
    return dir_.write(
        "routes.yaml",
        "version: 1\nredis:\n  cluster: [" + seeds + "]\nplugins_dir: \"" + SWITCHYARD_PLUGIN_DIR +
            "\"\nsources:\n  users:\n    key: \"" + users_key_ +
            "\"\n    batch: 50\n    reclaim_after: 2s\n    max_deliveries: 20\n  quotes:\n    key: "
            "\"" +
            quotes_key_ + "\"\n    batch: 50\n    reclaim_after: 2s\n    max_deliveries: 20\n" +
            (laravel
                 ? "  jobs: { format: laravel, prefix: \"\", key: jobs, cluster_hash_tag: true }\n"
                 : "") +
            "handlers:\n"
            "  users_db: { plugin: user_registered_sink, config: { database: \"" +
            db + "\" } }\n  quotes_db: { plugin: quote_created_sink, config: { database: \"" + db +
            "\" } }\nroutes:\n  user.registered: [users_db]\n  quote.created: [quotes_db]\n");
  }

  // Pushes user ids / quote ids [first, first + n) and waits until a replica holds them, so a
  // failover cannot lose the pushes themselves.
  void push(const std::string& key, bool users, int64_t first, int64_t n) {
    std::vector<std::string> messages;
    for (int64_t i = first; i < first + n; ++i)
      messages.push_back(users ? user_registered(i) : quote_created(i));
    RedisClient c = cluster_.client_for_key(key);
    c.rpush_many(key, messages);
    c.command({"WAIT", "1", "5000"});
  }

  int64_t users() { return count_rows(dir_.file("sink.db"), "user_registrations"); }
  int64_t quotes() { return count_rows(dir_.file("sink.db"), "quotes"); }
  std::string describe() {
    return "users " + std::to_string(users()) + ", quotes " + std::to_string(quotes()) +
           ", {users} pending " +
           std::to_string(cluster_.client_for_key(users_key_).llen(users_key_)) + ", dead " +
           std::to_string(cluster_.client_for_key(users_key_).llen(users_key_ + ":dead") +
                          cluster_.client_for_key(quotes_key_).llen(quotes_key_ + ":dead"));
  }

  RedisCluster cluster_;
  TempDir dir_;
  std::string users_key_;
  std::string quotes_key_;
};

TEST_F(RedisClusterTest, TwoSourcesOnDifferentShardsDrainExactly) {
  constexpr int64_t kEach = 3'000;
  push(users_key_, true, 1, kEach / 2);
  push(quotes_key_, false, 1, kEach / 2);
  SwitchyardProcess daemon = SwitchyardProcess::run(config(true), dir_.file("daemon.log"));
  push(users_key_, true, kEach / 2 + 1, kEach / 2);
  push(quotes_key_, false, kEach / 2 + 1, kEach / 2);
  // A Laravel job, published through the cluster onto queues:{jobs}, whichever shard serves it.
  CommandResult published = SwitchyardProcess::exec(
      {"publish", "-c", dir_.file("routes.yaml"), "--source", "jobs", "quote.created",
       R"({"quote_id":900001,"user_id":2,"product_id":3,"qty":4})"});
  ASSERT_EQ(published.exit_code, 0) << published;
  ASSERT_TRUE(wait_until([&] { return users() == kEach && quotes() == kEach + 1; }, 60s,
                         "the three sources drained"))
      << describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(cluster_.client_for_key(users_key_).llen(users_key_), 0);
  EXPECT_EQ(cluster_.client_for_key(quotes_key_).llen(quotes_key_), 0);
  EXPECT_EQ(cluster_.client_for_key(users_key_).llen(users_key_ + ":dead"), 0);
  EXPECT_EQ(cluster_.client_for_key("queues:{jobs}").llen("queues:{jobs}"), 0);

  // The commands that read every source at once find each on its own shard.
  CommandResult stats = SwitchyardProcess::exec({"stats", "-c", dir_.file("routes.yaml")});
  EXPECT_EQ(stats.exit_code, 0) << stats.out << stats.err;
  EXPECT_NE(stats.out.find("users"), std::string::npos) << stats.out;
  EXPECT_NE(stats.out.find("quotes"), std::string::npos) << stats.out;
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

TEST_F(RedisClusterTest, MasterKilledMidDrainReplicaPromotedNothingLost) {
  constexpr int64_t kUsers = 20'000, kQuotes = 2'000;
  push(users_key_, true, 1, kUsers);
  push(quotes_key_, false, 1, kQuotes);
  const size_t master = cluster_.master_of_key(users_key_);
  const size_t replica = cluster_.replica_of(master);
  SwitchyardProcess daemon = SwitchyardProcess::run(config(), dir_.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return users() >= 1'000; }, 60s, "the drain to be under way"))
      << describe() << "\n"
      << daemon.log_tail();
  ASSERT_LT(users(), kUsers) << "drained before the kill: make the backlog larger";
  cluster_.node(master).kill9();
  cluster_.wait_settled();
  EXPECT_EQ(cluster_.master_of_key(users_key_), replica);
  ASSERT_TRUE(wait_until([&] { return users() == kUsers && quotes() == kQuotes; }, 90s,
                         "every message handled after the failover"))
      << describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(cluster_.client_for_key(users_key_).llen(users_key_ + ":dead"), 0);
  EXPECT_TRUE(daemon.is_running());
  // One outage, reported as one: reconnecting to the cluster is not "reachable again" while
  // the master the source needs is still down.
  const std::string log = daemon.log();
  size_t outages = 0;
  for (size_t at = log.find("unreachable"); at != std::string::npos;
       at = log.find("unreachable", at + 1))
    ++outages;
  EXPECT_LE(outages, 2u) << log;
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

TEST_F(RedisClusterTest, SlotMigratedMidDrainKeepsDraining) {
  constexpr int64_t kUsers = 20'000;
  push(users_key_, true, 1, kUsers);
  const int slot = cluster_key_slot(users_key_);
  const size_t from = cluster_.master_of_key(users_key_);
  const size_t to = cluster_.master_of_key(quotes_key_);
  SwitchyardProcess daemon = SwitchyardProcess::run(config(), dir_.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return users() >= 1'000; }, 60s, "the drain to be under way"))
      << describe() << "\n"
      << daemon.log_tail();
  ASSERT_LT(users(), kUsers) << "drained before the migration: make the backlog larger";

  // As redis-cli --cluster reshard does it.
  const std::string slot_text = std::to_string(slot);
  RedisClient source = cluster_.node(from).client();
  RedisClient target = cluster_.node(to).client();
  target.command({"CLUSTER", "SETSLOT", slot_text, "IMPORTING", cluster_.node_id(from)});
  source.command({"CLUSTER", "SETSLOT", slot_text, "MIGRATING", cluster_.node_id(to)});
  for (;;) {
    Reply keys = source.command({"CLUSTER", "GETKEYSINSLOT", slot_text, "10"});
    if (keys.elements.empty()) break;
    std::vector<std::string> migrate = {
        "MIGRATE", "127.0.0.1", std::to_string(cluster_.node(to).port()), "", "0", "5000", "KEYS"};
    for (const Reply& k : keys.elements) migrate.push_back(k.str);
    Reply r = source.command(migrate);
    ASSERT_FALSE(r.is_error()) << r.describe();
  }
  // The new owner first, then the old one; the other nodes learn it from the cluster bus.
  target.command({"CLUSTER", "SETSLOT", slot_text, "NODE", cluster_.node_id(to)});
  source.command({"CLUSTER", "SETSLOT", slot_text, "NODE", cluster_.node_id(to)});
  cluster_.wait_settled();
  ASSERT_EQ(cluster_.master_of_key(users_key_), to);

  // Progress resumes within seconds on the new owner, and everything is handled.
  const int64_t after = users();
  ASSERT_TRUE(wait_until([&] { return users() > after || users() == kUsers; }, 10s,
                         "progress after the migration"))
      << describe() << "\n"
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return users() == kUsers; }, 90s, "every message handled"))
      << describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(cluster_.client_for_key(users_key_).llen(users_key_), 0);
  EXPECT_EQ(cluster_.client_for_key(users_key_).llen(users_key_ + ":dead"), 0);
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
