// crc16_test.cc: CRC16 (XMODEM) and key slots against the Redis Cluster specification's vectors.
#include "redis/crc16.h"

#include <gtest/gtest.h>

namespace switchyard {
namespace {

TEST(Crc16Test, SpecificationVector) {
  EXPECT_EQ(crc16_xmodem("123456789"), 0x31C3);
  EXPECT_EQ(crc16_xmodem(""), 0);
}

TEST(Crc16Test, KeySlotsMatchRedis) {
  // Values CLUSTER KEYSLOT answers.
  EXPECT_EQ(cluster_key_slot("123456789"), 0x31C3 % 16384);
  EXPECT_EQ(cluster_key_slot("foo"), 12182);
  EXPECT_EQ(cluster_key_slot("bar"), 5061);
  EXPECT_EQ(cluster_key_slot("somekey"), 11058);
  EXPECT_EQ(cluster_key_slot(""), 0);
}

TEST(Crc16Test, HashTagRules) {
  // The first '{' and the first '}' after it, when what is between is not empty.
  EXPECT_EQ(cluster_hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(cluster_hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(cluster_hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(cluster_hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(cluster_hash_tag("foo{bar"), "foo{bar");
  EXPECT_EQ(cluster_hash_tag("plain"), "plain");
  EXPECT_TRUE(has_cluster_hash_tag("queues:{default}"));
  EXPECT_FALSE(has_cluster_hash_tag("foo{}{bar}"));
  EXPECT_FALSE(has_cluster_hash_tag("analytics"));
  EXPECT_EQ(cluster_key_slot("{user1000}.following"), cluster_key_slot("{user1000}.followers"));
  EXPECT_EQ(cluster_key_slot("{analytics}:inflight:host:1"), cluster_key_slot("analytics"));
}

}  // namespace
}  // namespace switchyard
