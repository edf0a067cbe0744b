// reply_arena_test.cc: replies built in an arena read like hiredis's own (every type, nested
// arrays, replies fed in pieces, large replies over several blocks), a protocol error or a reader
// freed mid-reply frees the partial reply, and a reply outlives its connection. Run under ASan
// (the sanitizer build) it also checks that each arena is freed whole and only once.
#include "redis/reply_arena.h"

#include <gtest/gtest.h>
#include <hiredis/read.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

struct ReaderFree {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
using Reader = std::unique_ptr<redisReader, ReaderFree>;

Reader arena_reader() {
  Reader reader(redisReaderCreate());
  use_reply_arena(reader.get());
  return reader;
}

// Feeds wire bytes and returns the one complete reply they hold (fails the test otherwise).
Reply read_one(redisReader* reader, std::string_view wire) {
  EXPECT_EQ(redisReaderFeed(reader, wire.data(), wire.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader, &raw), REDIS_OK) << reader->errstr;
  EXPECT_NE(raw, nullptr) << "no complete reply in: " << wire;
  return Reply(static_cast<redisReply*>(raw));
}

std::string_view text(const redisReply* r) { return {r->str, r->len}; }

TEST(ReplyArenaTest, BuildsEveryReplyType) {
  Reader reader = arena_reader();
  Reply status = read_one(reader.get(), "+OK\r\n");
  EXPECT_EQ(status->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(text(status.get()), "OK");
  Reply error = read_one(reader.get(), "-ERR wrong kind\r\n");
  EXPECT_EQ(error->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(text(error.get()), "ERR wrong kind");
  Reply integer = read_one(reader.get(), ":-42\r\n");
  EXPECT_EQ(integer->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(integer->integer, -42);
  Reply bulk = read_one(reader.get(), "$5\r\nhello\r\n");
  EXPECT_EQ(bulk->type, REDIS_REPLY_STRING);
  EXPECT_EQ(text(bulk.get()), "hello");
  Reply binary = read_one(reader.get(), std::string_view("$3\r\na\0b\r\n", 9));
  EXPECT_EQ(text(binary.get()), std::string_view("a\0b", 3));
  EXPECT_EQ(binary->str[3], '\0');  // NUL-terminated like hiredis's own strings
  Reply empty = read_one(reader.get(), "$0\r\n\r\n");
  EXPECT_EQ(empty->type, REDIS_REPLY_STRING);
  EXPECT_EQ(empty->len, 0u);
  EXPECT_STREQ(empty->str, "");
  Reply nil = read_one(reader.get(), "$-1\r\n");
  EXPECT_EQ(nil->type, REDIS_REPLY_NIL);
  Reply nil_array = read_one(reader.get(), "*-1\r\n");
  EXPECT_EQ(nil_array->type, REDIS_REPLY_NIL);
  Reply empty_array = read_one(reader.get(), "*0\r\n");
  EXPECT_EQ(empty_array->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(empty_array->elements, 0u);
}

TEST(ReplyArenaTest, BuildsNestedArraysFedInPieces) {
  // [ "a", [ 1, [ +deep, -ERR e ], nil ], "" ]: a stream reply's depth and more.
  const std::string wire =
      "*3\r\n$1\r\na\r\n*3\r\n:1\r\n*2\r\n+deep\r\n-ERR e\r\n$-1\r\n$0\r\n\r\n";
  Reader reader = arena_reader();
  void* raw = nullptr;
  for (size_t i = 0; i + 1 < wire.size(); ++i) {  // all but the last byte: no reply yet
    ASSERT_EQ(redisReaderFeed(reader.get(), wire.data() + i, 1), REDIS_OK);
    ASSERT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
    ASSERT_EQ(raw, nullptr) << "complete after " << i + 1 << " bytes";
  }
  Reply r = read_one(reader.get(), wire.substr(wire.size() - 1));
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 3u);
  EXPECT_EQ(text(r->element[0]), "a");
  const redisReply* mid = r->element[1];
  ASSERT_EQ(mid->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(mid->elements, 3u);
  EXPECT_EQ(mid->element[0]->integer, 1);
  const redisReply* deep = mid->element[1];
  ASSERT_EQ(deep->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(deep->elements, 2u);
  EXPECT_EQ(deep->element[0]->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(text(deep->element[0]), "deep");
  EXPECT_EQ(deep->element[1]->type, REDIS_REPLY_ERROR);
  EXPECT_EQ(text(deep->element[1]), "ERR e");
  EXPECT_EQ(mid->element[2]->type, REDIS_REPLY_NIL);
  EXPECT_EQ(r->element[2]->len, 0u);
}

TEST(ReplyArenaTest, LargeRepliesSpanBlocksAndKeepEveryByte) {
  Reader reader = arena_reader();
  // Strings of growing size so that elements straddle block ends; twice, the second sized by
  // the first.
  for (int round = 0; round < 2; ++round) {
    const size_t n = 3000;
    std::string wire = "*" + std::to_string(n) + "\r\n";
    std::vector<std::string> expected;
    for (size_t i = 0; i < n; ++i) {
      std::string value(i % 700, static_cast<char>('a' + (i + round) % 26));
      value += std::to_string(i);
      wire += "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
      expected.push_back(std::move(value));
    }
    Reply r = read_one(reader.get(), wire);
    ASSERT_EQ(r->elements, n);
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(r->element[i]->type, REDIS_REPLY_STRING) << i;
      ASSERT_EQ(text(r->element[i]), expected[i]) << i;
    }
  }
  // A huge single string after them.
  std::string big(1 << 20, 'x');
  Reply r = read_one(reader.get(), "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n");
  EXPECT_EQ(text(r.get()), big);
}

TEST(ReplyArenaTest, ProtocolErrorMidReplyFreesThePartialReply) {
  Reader reader = arena_reader();
  const std::string wire = "*3\r\n$1\r\na\r\n*2\r\n:1\r\n!bad\r\n";
  ASSERT_EQ(redisReaderFeed(reader.get(), wire.data(), wire.size()), REDIS_OK);
  void* raw = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_ERR);
  EXPECT_EQ(raw, nullptr);
  EXPECT_STRNE(reader->errstr, "");
  // The leak checker of the sanitizer build fails the test if the partial reply leaked.
}

TEST(ReplyArenaTest, ReaderFreedMidReplyFreesThePartialReply) {
  Reader reader = arena_reader();
  const std::string wire = "*3\r\n$1\r\na\r\n*2\r\n+x\r\n";
  ASSERT_EQ(redisReaderFeed(reader.get(), wire.data(), wire.size()), REDIS_OK);
  void* raw = nullptr;
  ASSERT_EQ(redisReaderGetReply(reader.get(), &raw), REDIS_OK);
  EXPECT_EQ(raw, nullptr);
  reader.reset();  // frees the reply in progress through the arena
}

TEST(ReplyArenaTest, FreeingNothingIsANoOp) { free_arena_reply(nullptr); }

TEST(ReplyArenaTest, RepliesOutliveTheirConnectionAcrossAReconnect) {
  test::RedisServer server;
  server.start();
  RedisEndpoint endpoint;
  std::string error;
  ASSERT_TRUE(parse_redis_url(server.url(), &endpoint, &error)) << error;
  RedisConnection connection(endpoint, "arena-test");
  ASSERT_TRUE(connection.connect().is_ok());
  Reply pushed;
  ASSERT_TRUE(connection.command_ok({"RPUSH", "k", "one", "two", "three"}, &pushed).is_ok());
  EXPECT_EQ(pushed->integer, 3);
  Reply range;
  ASSERT_TRUE(connection.command_ok({"LRANGE", "k", "0", "-1"}, &range).is_ok());
  ASSERT_TRUE(connection.append({"LRANGE", "k", "0", "0"}).is_ok());
  ASSERT_TRUE(connection.append({"HGET", "k", "f"}).is_ok());  // WRONGTYPE: an error reply
  Reply first, wrong;
  ASSERT_TRUE(connection.read_reply(&first).is_ok());
  ASSERT_TRUE(connection.read_reply(&wrong).is_ok());
  EXPECT_EQ(wrong->type, REDIS_REPLY_ERROR);
  server.restart();  // the connection breaks; the replies must not care
  Reply after;
  EXPECT_FALSE(connection.command({"PING"}, &after).is_ok());
  ASSERT_TRUE(connection.connect().is_ok());
  ASSERT_TRUE(connection.command_ok({"PING"}, &after).is_ok());
  connection.disconnect();
  ASSERT_EQ(range->elements, 3u);
  EXPECT_EQ(text(range->element[0]), "one");
  EXPECT_EQ(text(range->element[2]), "three");
  EXPECT_EQ(text(first->element[0]), "one");
  EXPECT_EQ(text(wrong.get()).substr(0, 9), "WRONGTYPE");
  EXPECT_EQ(text(after.get()), "PONG");
}

}  // namespace
}  // namespace switchyard
