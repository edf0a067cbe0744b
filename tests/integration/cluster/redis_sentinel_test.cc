// redis_sentinel_test.cc: the daemon on Redis Sentinel (master, replica, 3 redis-sentinel): the
// master is killed mid-drain, the sentinels promote the replica, the daemon follows it and every
// message is handled (duplicates allowed).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/events.h"
#include "support/redis_sentinels.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

TEST(RedisSentinelTest, MasterKilledMidDrainDaemonFollowsTheNewMaster) {
  constexpr int64_t kUsers = 20'000;
  RedisSentinels redis;
  redis.start();
  TempDir dir;
  std::string nodes;
  for (const std::string& url : redis.sentinel_urls()) nodes += (nodes.empty() ? "" : ", ") + url;
  const std::string db = dir.file("sink.db");
  const std::string config = dir.write(
      "routes.yaml", "version: 1\nredis:\n  sentinel:\n    master: " + redis.master_name() +
                         "\n    nodes: [" + nodes + "]\nplugins_dir: \"" + SWITCHYARD_PLUGIN_DIR +
                         "\"\nsources:\n  events:\n    batch: 50\n    reclaim_after: 2s\n"
                         "    max_deliveries: 20\nhandlers:\n  users_db: { plugin: "
                         "user_registered_sink, config: { database: \"" +
                         db + "\" } }\nroutes:\n  user.registered: [users_db]\n");
  {
    std::vector<std::string> messages;
    for (int64_t i = 1; i <= kUsers; ++i) messages.push_back(user_registered(i));
    RedisClient master = redis.node(0).client();
    master.rpush_many("events", messages);
    master.command({"WAIT", "1", "5000"});  // the pushes themselves survive the failover
  }
  auto users = [&] { return count_rows(db, "user_registrations"); };
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return users() >= 1'000; }, 60s, "the drain to be under way"))
      << daemon.log_tail();
  ASSERT_LT(users(), kUsers) << "drained before the kill: make the backlog larger";

  redis.node(0).kill9();
  ASSERT_TRUE(wait_until([&] { return redis.master_index() == 1; }, 30s,
                         "the sentinels to promote the replica"));
  ASSERT_TRUE(
      wait_until([&] { return users() == kUsers; }, 90s, "every message handled on the new master"))
      << "users " << users() << ", pending " << redis.node(1).client().llen("events") << "\n"
      << daemon.log_tail();
  RedisClient now = redis.node(1).client();
  EXPECT_EQ(now.llen("events"), 0);
  EXPECT_EQ(now.llen("events:dead"), 0);
  EXPECT_TRUE(daemon.is_running());
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
