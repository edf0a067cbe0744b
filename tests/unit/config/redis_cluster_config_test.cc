// redis_cluster_config_test.cc: redis.cluster and redis.sentinel in routes.yaml: read, exclusive
// with url, and in cluster mode every source's keys in one hash slot.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

#include "config/config_loader.h"

namespace switchyard {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

Status load(const std::string& yaml, Config* config) {
  return load_config_from_string(yaml, "routes.yaml", "/etc/switchyard", config);
}

std::string error_of(const std::string& yaml) {
  Config config;
  Status status = load(yaml, &config);
  EXPECT_FALSE(status.is_ok()) << "loaded without error:\n" << yaml;
  return status.message();
}

const char kHandlers[] = "handlers:\n  a: { plugin: audit }\nroutes:\n  \"*\": [a]\n";

TEST(RedisClusterConfigTest, ClusterSeedsAndTaggedSources) {
  Config c;
  Status s = load(std::string("version: 1\nredis:\n  cluster: [redis://n1:7000, redis://n2:7001]\n"
                              "sources:\n  analytics:\n    key: \"{analytics}\"\n"
                              "  jobs:\n    format: laravel\n    key: default\n    prefix: p_\n"
                              "    cluster_hash_tag: true\n") +
                      kHandlers,
                  &c);
  ASSERT_TRUE(s.is_ok()) << s.message();
  ASSERT_EQ(c.redis.cluster.size(), 2u);
  EXPECT_EQ(c.redis.cluster[1], "redis://n2:7001");
  EXPECT_EQ(c.sources[1].key, "p_queues:{default}");
}

TEST(RedisClusterConfigTest, ClusterRefusesASourceWithoutHashTag) {
  EXPECT_THAT(error_of(std::string("version: 1\nredis: { cluster: [redis://n1:7000] }\n"
                                   "sources:\n  analytics: {}\n") +
                       kHandlers),
              AllOf(HasSubstr("routes.yaml:4:3: source \"analytics\" reads \"analytics\", which "
                              "has no hash tag"),
                    HasSubstr("key: \"{analytics}\"")));
  EXPECT_THAT(error_of(std::string("version: 1\nredis: { cluster: [redis://n1:7000] }\n"
                                   "sources:\n  jobs: { format: laravel, prefix: p_ }\n") +
                       kHandlers),
              HasSubstr("set cluster_hash_tag: true"));
  // An empty tag does not count: {} hashes the whole key.
  EXPECT_THAT(error_of(std::string("version: 1\nredis: { cluster: [redis://n1:7000] }\n"
                                   "sources:\n  a: { key: \"a{}\" }\n") +
                       kHandlers),
              HasSubstr("has no hash tag"));
}

TEST(RedisClusterConfigTest, SentinelIsReadAndNeedsMasterAndNodes) {
  Config c;
  Status s = load(std::string("version: 1\nredis:\n  sentinel:\n    master: mymaster\n"
                              "    nodes: [redis://s1:26379, redis://s2:26379]\n"
                              "sources:\n  analytics: {}\n") +
                      kHandlers,
                  &c);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_EQ(c.redis.sentinel_master, "mymaster");
  EXPECT_EQ(c.redis.sentinel_nodes.size(), 2u);
  EXPECT_THAT(error_of(std::string("version: 1\nredis:\n  sentinel: { master: m }\n"
                                   "sources:\n  analytics: {}\n") +
                       kHandlers),
              HasSubstr("redis.sentinel needs master:"));
}

TEST(RedisClusterConfigTest, ModesAreExclusiveAndUrlsCarryNoPassword) {
  EXPECT_THAT(error_of(std::string("version: 1\nredis:\n  url: redis://h\n  cluster: "
                                   "[redis://n1:7000]\nsources:\n  \"{a}\": {}\n") +
                       kHandlers),
              HasSubstr("redis: has url: and cluster:; they are exclusive"));
  EXPECT_THAT(error_of(std::string("version: 1\nredis:\n  cluster: [redis://n1:7000]\n  "
                                   "sentinel: { master: m, nodes: [redis://s:1] }\n"
                                   "sources:\n  \"{a}\": {}\n") +
                       kHandlers),
              HasSubstr("has both cluster: and sentinel:"));
  const std::string e =
      error_of(std::string("version: 1\nredis:\n  cluster: [redis://u:s3cret@n1:7000]\n"
                           "sources:\n  \"{a}\": {}\n") +
               kHandlers);
  EXPECT_THAT(e, HasSubstr("contains a password"));
  EXPECT_THAT(e, ::testing::Not(HasSubstr("s3cret")));
  EXPECT_THAT(error_of(std::string("version: 1\nredis:\n  cluster: redis://n1:7000\n"
                                   "sources:\n  \"{a}\": {}\n") +
                       kHandlers),
              HasSubstr("expected a list of Redis URLs"));
}

}  // namespace
}  // namespace switchyard
