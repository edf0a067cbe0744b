// redis_connection_test: pipelining on one connection against a real redis-server: commands run
// while a take ahead is outstanding get their own replies, and the outstanding reply stays for
// read_reply().
#include "redis/redis_connection.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_url.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

std::string text(const redisReply* r) { return std::string(r->str, r->len); }

class RedisConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    std::string error;
    RedisEndpoint endpoint;
    ASSERT_TRUE(parse_redis_url(server_.url(), &endpoint, &error)) << error;
    connection_ = std::make_unique<RedisConnection>(endpoint, "connection-test");
    ASSERT_TRUE(connection_->connect().is_ok());
    Reply pushed;
    ASSERT_TRUE(connection_->command_ok({"RPUSH", "k", "one", "two"}, &pushed).is_ok());
  }

  test::RedisServer server_;
  std::unique_ptr<RedisConnection> connection_;
};

TEST_F(RedisConnectionTest, CommandsBesideAnOutstandingReplyGetTheirOwnReplies) {
  // A take ahead: appended and flushed, its reply not read yet.
  ASSERT_TRUE(connection_->append({"LRANGE", "k", "0", "-1"}).is_ok());
  ASSERT_TRUE(connection_->flush().is_ok());
  std::vector<Reply> replies;
  ASSERT_TRUE(
      connection_
          ->commands({{"SET", "a", "1", "NX", "PX", "60000"}, {"GET", "a"}, {"HGET", "k", "f"}},
                     &replies)
          .is_ok());
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(text(replies[0].get()), "OK");
  EXPECT_EQ(text(replies[1].get()), "1");
  EXPECT_EQ(replies[2]->type, REDIS_REPLY_ERROR);  // WRONGTYPE comes back as a reply
  EXPECT_EQ(connection_->outstanding(), 1);
  Reply ahead;
  ASSERT_TRUE(connection_->read_reply(&ahead).is_ok());
  ASSERT_EQ(ahead->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(ahead->elements, 2u);
  EXPECT_EQ(text(ahead->element[1]), "two");
  EXPECT_EQ(connection_->outstanding(), 0);
}

TEST_F(RedisConnectionTest, ACommandBesideAnOutstandingReplyKeepsItForReadReply) {
  ASSERT_TRUE(connection_->append({"LLEN", "k"}).is_ok());
  ASSERT_TRUE(connection_->flush().is_ok());
  Reply pong;
  ASSERT_TRUE(connection_->command_ok({"PING"}, &pong).is_ok());
  EXPECT_EQ(text(pong.get()), "PONG");
  Reply len;
  ASSERT_TRUE(connection_->read_reply(&len).is_ok());
  EXPECT_EQ(len->integer, 2);
}

}  // namespace
}  // namespace switchyard
