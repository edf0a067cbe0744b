// redis_sentinel_test.cc: the daemon on Redis Sentinel (master, replica, 3 redis-sentinel, all
// with a password: the sentinels are asked after AUTH): the master killed mid-drain, or demoted by
// SENTINEL FAILOVER without being killed; the daemon follows the new master (at once on
// +switch-master) and every message is handled (duplicates allowed).
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <sstream>
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

constexpr const char* kSentinelPassword = "s3ntinel-secret";

class RedisSentinelTest : public ::testing::Test {
 protected:
  RedisSentinelTest() : redis_(kSentinelPassword) {}

  void SetUp() override {
    redis_.start();
    const std::string password = dir_.write("sentinel.password", kSentinelPassword);
    std::filesystem::permissions(
        password, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
    std::string nodes;
    for (const std::string& url : redis_.sentinel_urls())
      nodes += (nodes.empty() ? "" : ", ") + url;
    config_ = dir_.write("routes.yaml",
                         "version: 1\nredis:\n  sentinel:\n    master: " + redis_.master_name() +
                             "\n    nodes: [" + nodes + "]\n    password_file: \"" + password +
                             "\"\nplugins_dir: \"" + SWITCHYARD_PLUGIN_DIR +
                             "\"\nsources:\n  events:\n    batch: 50\n    reclaim_after: 2s\n"
                             "    max_deliveries: 20\nhandlers:\n  users_db: { plugin: "
                             "user_registered_sink, config: { database: \"" +
                             db() + "\" } }\nroutes:\n  user.registered: [users_db]\n");
  }

  // Pushes user ids [first, first + n) to the master now named, and waits until the replica
  // holds them, so that a failover cannot lose the pushes themselves.
  void push(int64_t first, int64_t n) {
    std::vector<std::string> messages;
    for (int64_t i = first; i < first + n; ++i) messages.push_back(user_registered(i));
    RedisClient master = redis_.node(redis_.master_index()).client();
    master.rpush_many("events", messages);
    master.command({"WAIT", "1", "5000"});
  }

  std::string db() const { return dir_.file("sink.db"); }
  int64_t users() { return count_rows(db(), "user_registrations"); }

  // The daemon's connections to data node i (CLIENT LIST, name=switchyard:*).
  int daemon_connections(size_t i) {
    std::istringstream in(redis_.node(i).client().command({"CLIENT", "LIST"}).str);
    int n = 0;
    for (std::string line; std::getline(in, line);)
      if (line.find("name=switchyard:") != std::string::npos) ++n;
    return n;
  }

  RedisSentinels redis_;
  TempDir dir_;
  std::string config_;
};

TEST_F(RedisSentinelTest, MasterKilledMidDrainDaemonFollowsTheNewMaster) {
  constexpr int64_t kUsers = 20'000;
  push(1, kUsers);
  SwitchyardProcess daemon = SwitchyardProcess::run(config_, dir_.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return users() >= 1'000; }, 60s, "the drain to be under way"))
      << daemon.log_tail();
  ASSERT_LT(users(), kUsers) << "drained before the kill: make the backlog larger";

  redis_.node(0).kill9();
  ASSERT_TRUE(wait_until([&] { return redis_.master_index() == 1; }, 30s,
                         "the sentinels to promote the replica"));
  ASSERT_TRUE(
      wait_until([&] { return users() == kUsers; }, 90s, "every message handled on the new master"))
      << "users " << users() << ", pending " << redis_.node(1).client().llen("events") << "\n"
      << daemon.log_tail();
  RedisClient now = redis_.node(1).client();
  EXPECT_EQ(now.llen("events"), 0);
  EXPECT_EQ(now.llen("events:dead"), 0);
  EXPECT_TRUE(daemon.is_running());
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

// SENTINEL FAILOVER promotes the replica while the old master runs on, still a master with its
// clients until the sentinels reconfigure it (seconds later). The daemon leaves it on
// +switch-master: its connections to the old master are gone while that one still says master.
TEST_F(RedisSentinelTest, ManualFailoverIsFollowedOnSwitchMasterCountsExact) {
  constexpr int64_t kUsers = 20'000, kAfter = 2'000;
  push(1, kUsers);
  SwitchyardProcess daemon = SwitchyardProcess::run(config_, dir_.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return users() >= 1'000; }, 60s, "the drain to be under way"))
      << daemon.log_tail();
  ASSERT_LT(users(), kUsers) << "drained before the failover: make the backlog larger";
  ASSERT_GT(daemon_connections(0), 0);

  const auto t0 = std::chrono::steady_clock::now();
  redis_.failover();
  ASSERT_TRUE(wait_until([&] { return redis_.master_index() == 1; }, 30s,
                         "the sentinels to promote the replica"));
  // What the old master says at the moment the daemon is gone from it: the sentinels turn it into
  // a replica (and close its clients) only seconds after +switch-master.
  std::string role_when_left;
  ASSERT_TRUE(wait_until(
      [&] {
        if (daemon_connections(0) != 0) return false;
        role_when_left = redis_.node(0).client().command({"ROLE"}).elements.at(0).str;
        return true;
      },
      30s, "the daemon to leave the demoted master"))
      << daemon.log_tail();
  EXPECT_EQ(role_when_left, "master")
      << "the daemon stayed on the old master until the sentinels reconfigured it";
  const auto left_after =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  EXPECT_NE(daemon.log().find("+switch-master"), std::string::npos) << daemon.log_tail();
  std::cout << "[ sentinel ] left the demoted master " << left_after.count()
            << " ms after SENTINEL FAILOVER\n";

  push(kUsers + 1, kAfter);  // produced on the new master
  ASSERT_TRUE(wait_until([&] { return users() == kUsers + kAfter; }, 90s,
                         "every message handled on the new master"))
      << "users " << users() << ", pending " << redis_.node(1).client().llen("events") << "\n"
      << daemon.log_tail();
  RedisClient now = redis_.node(1).client();
  EXPECT_EQ(now.llen("events"), 0);
  EXPECT_EQ(now.llen("events:dead"), 0);
  EXPECT_GT(daemon_connections(1), 0);
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
