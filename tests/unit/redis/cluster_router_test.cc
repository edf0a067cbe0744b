// cluster_router_test.cc: MOVED/ASK parsing, the key position of the commands Switchyard sends,
// and cluster/sentinel endpoints built from seed URLs.
#include "redis/cluster_router.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchyard {
namespace {

TEST(ClusterRouterTest, ParsesRedirects) {
  ClusterRedirect r;
  ASSERT_TRUE(parse_cluster_redirect("MOVED 3999 127.0.0.1:6381", &r));
  EXPECT_FALSE(r.ask);
  EXPECT_EQ(r.slot, 3999);
  EXPECT_EQ(r.node.host, "127.0.0.1");
  EXPECT_EQ(r.node.port, 6381);
  ASSERT_TRUE(parse_cluster_redirect("ASK 12182 [::1]:7002", &r));
  EXPECT_TRUE(r.ask);
  EXPECT_EQ(r.node.host, "::1");
  EXPECT_EQ(r.node.port, 7002);
  EXPECT_FALSE(parse_cluster_redirect("ERR unknown command", &r));
  EXPECT_FALSE(parse_cluster_redirect("MOVED 16384 h:1", &r));
  EXPECT_FALSE(parse_cluster_redirect("MOVED 1 h:0", &r));
  EXPECT_FALSE(parse_cluster_redirect("MOVED 1", &r));
}

TEST(ClusterRouterTest, KeyOfEachCommand) {
  using V = std::vector<std::string_view>;
  EXPECT_EQ(command_key_index(V{"LRANGE", "k", "0", "-1"}), 1);
  EXPECT_EQ(command_key_index(V{"BLMOVE", "k", "k:inflight", "LEFT", "RIGHT", "1"}), 1);
  EXPECT_EQ(command_key_index(V{"EVALSHA", "sha", "2", "k", "k:dead", "arg"}), 3);
  EXPECT_EQ(command_key_index(V{"EVALSHA", "sha", "0", "arg"}), -1);
  EXPECT_EQ(command_key_index(V{"XINFO", "GROUPS", "s"}), 2);
  EXPECT_EQ(command_key_index(V{"XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"}), 2);
  EXPECT_EQ(
      command_key_index(V{"XREADGROUP", "GROUP", "g", "c", "COUNT", "5", "STREAMS", "s", ">"}), 7);
  EXPECT_EQ(command_key_index(V{"SCRIPT", "LOAD", "return 1"}), -1);
  EXPECT_EQ(command_key_index(V{"PING"}), -1);
  EXPECT_EQ(command_key_index(V{"client", "setname", "x"}), -1);
  EXPECT_EQ(command_key_index(V{"PUBLISH", "channel", "m"}), -1);
}

TEST(ClusterRouterTest, SlotMapFollowsMoved) {
  ClusterSlotMap map;
  EXPECT_EQ(map.owner(5), nullptr);
  map.set_owner(5, {"10.0.0.1", 7000});
  ASSERT_NE(map.owner(5), nullptr);
  EXPECT_EQ(map.owner(5)->str(), "10.0.0.1:7000");
  EXPECT_EQ(map.owner(6), nullptr);
  EXPECT_EQ(map.owner(16384), nullptr);
}

TEST(ClusterRouterTest, ClusterAndSentinelEndpoints) {
  RedisEndpoint ep;
  std::string error;
  ASSERT_TRUE(make_cluster_endpoint({"redis://app@n1:7000", "redis://app@n2:7001"}, &ep, &error))
      << error;
  EXPECT_EQ(ep.mode, RedisMode::kCluster);
  ASSERT_EQ(ep.discovery.size(), 2u);
  EXPECT_EQ(ep.discovery[1].str(), "n2:7001");
  EXPECT_EQ(ep.user, "app");
  EXPECT_FALSE(make_cluster_endpoint({"redis://n1:7000/2"}, &ep, &error));
  EXPECT_NE(error.find("only db 0"), std::string::npos) << error;
  EXPECT_FALSE(make_cluster_endpoint({"unix:///run/redis.sock"}, &ep, &error));
  EXPECT_FALSE(make_cluster_endpoint({"redis://a@n1:7000", "redis://b@n2:7000"}, &ep, &error));
  EXPECT_NE(error.find("same user"), std::string::npos) << error;
  EXPECT_FALSE(make_cluster_endpoint({}, &ep, &error));

  RedisEndpoint s;
  ASSERT_TRUE(
      make_sentinel_endpoint("mymaster", {"redis://s1:26379/3", "redis://s2:26379/3"}, &s, &error))
      << error;
  EXPECT_EQ(s.mode, RedisMode::kSentinel);
  EXPECT_EQ(s.sentinel_master, "mymaster");
  EXPECT_EQ(s.db, 3);
  EXPECT_FALSE(make_sentinel_endpoint("", {"redis://s1:26379"}, &s, &error));
}

}  // namespace
}  // namespace switchyard
