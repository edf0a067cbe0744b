// list_source_take_test.cc: ListSource::take moves batches into the in-flight list atomically, in
// order and byte for byte, by either of its two scripts: the SORT ... STORE fast path, and the
// Lua copy it falls back to (redelivered messages, a non-empty in-flight list, an ACL without
// SORT). Runs against a private redis-server.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "source/list_source.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "events";

class ListSourceTakeTest : public ::testing::Test {
 protected:
  void SetUp() override { server_.start(); }

  std::unique_ptr<RedisConnection> connect(const std::string& url) {
    RedisEndpoint endpoint;
    std::string error;
    EXPECT_TRUE(parse_redis_url(url, &endpoint, &error)) << error;
    auto connection = std::make_unique<RedisConnection>(endpoint, "test");
    Status s = connection->connect();
    EXPECT_TRUE(s.is_ok()) << s.message();
    return connection;
  }

  static std::vector<std::string> strings(const TakenBatch& batch) {
    return {batch.messages.begin(), batch.messages.end()};
  }

  // Binary and integer-like values too: the copy must be byte for byte.
  static std::vector<std::string> messages(int n) {
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      switch (i % 5) {
        case 0:
          out.push_back("{\"event\":\"e\",\"payload\":{\"n\":" + std::to_string(i) + "}}");
          break;
        case 1:
          out.push_back(std::to_string(i));
          break;  // integer-encoded
        case 2:
          out.push_back(std::string("\xff\xfe\0x", 4) + std::to_string(i));
          break;
        case 3:
          out.push_back("0" + std::to_string(i));
          break;  // not an integer
        default:
          out.push_back(std::string(300, 'x') + std::to_string(i));
          break;
      }
    }
    return out;
  }

  // A field of INFO commandstats for SORT (calls, rejected_calls), 0 when SORT never ran.
  long long sort_stat(const std::string& field) {
    std::string info = server_.client().command({"INFO", "commandstats"}).str;
    size_t line = info.find("cmdstat_sort:");
    if (line == std::string::npos) return 0;
    size_t at = info.find(field + "=", line);
    if (at == std::string::npos || at > info.find('\n', line)) return 0;
    return std::stoll(info.substr(at + field.size() + 1));
  }

  test::RedisServer server_;
};

TEST_F(ListSourceTakeTest, TakesBatchesInOrderIntoTheInflightListAndAcksThem) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  const std::vector<std::string> pushed = messages(2500);
  client.rpush_many(kKey, pushed, 1000);

  std::vector<std::string> taken;
  TakenBatch batch;
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(source.take(1000, 0ms, &batch).is_ok());
    std::vector<std::string> got = strings(batch);
    ASSERT_EQ(got.size(), round < 2 ? 1000u : 500u);
    EXPECT_EQ(client.lrange(source.inflight_key()), got) << "the in-flight list holds the batch";
    EXPECT_EQ(client.llen(kKey), static_cast<int64_t>(pushed.size() - taken.size() - got.size()));
    taken.insert(taken.end(), got.begin(), got.end());
    bool owned = false;
    ASSERT_TRUE(source.ack(batch, AckWrites{}, &owned).is_ok());
    EXPECT_TRUE(owned);
    EXPECT_EQ(client.llen(source.inflight_key()), 0);
  }
  EXPECT_EQ(taken, pushed);
  EXPECT_EQ(sort_stat("calls"), 3) << "each batch was moved by SORT ... STORE";
  ASSERT_TRUE(source.take(1000, 0ms, &batch).is_ok());
  EXPECT_TRUE(batch.messages.empty());
  // The heartbeat and the owner registration are written as by the Lua take.
  EXPECT_EQ(client.command({"HGET", std::string(kKey) + ":inflight", source.inflight_key()}).str,
            "c");
  EXPECT_EQ(client.command({"GET", std::string(kKey) + ":heartbeat:c"}).str, "token");
}

TEST_F(ListSourceTakeTest, RedeliveredMessageIsStillTakenAlone) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.rpush_many(kKey, {"first", "second", "third"});
  // "first" was delivered before (a crash): it carries a delivery count.
  std::string sha = client.command({"EVAL", "return redis.sha1hex(ARGV[1])", "0", "first"}).str;
  client.command({"HSET", std::string(kKey) + ":deliveries", sha, "1"});

  TakenBatch batch;
  ASSERT_TRUE(source.take(100, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), std::vector<std::string>{"first"});
  bool owned = false;
  ASSERT_TRUE(source.ack(batch, AckWrites{}, &owned).is_ok());
  ASSERT_TRUE(owned);
  ASSERT_TRUE(source.take(100, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), (std::vector<std::string>{"second", "third"}));
}

TEST_F(ListSourceTakeTest, ElementsLeftInTheInflightListGoBackToKBeforeATake) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  // What this worker did not take (a restored older list, an operator's push) sits there.
  client.rpush_many(source.inflight_key(), {"left 1", "left 2"});
  client.rpush_many(kKey, {"a", "b"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(3, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), (std::vector<std::string>{"left 1", "left 2", "a"}));
  EXPECT_EQ(client.lrange(source.inflight_key()), strings(batch));
  EXPECT_EQ(client.lrange(kKey), std::vector<std::string>{"b"});
  EXPECT_EQ(client.command({"EXISTS", std::string(kKey) + ":deliveries"}).integer, 0)
      << "returned uncounted";
  bool owned = false;
  ASSERT_TRUE(source.ack(batch, AckWrites{}, &owned).is_ok());
  EXPECT_TRUE(owned);
}

// With K empty too: the worker is idle, nothing new arrives, and the take still returns them.
TEST_F(ListSourceTakeTest, ElementsLeftInTheInflightListGoBackWhileKIsEmpty) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.rpush_many(source.inflight_key(), {"left 1", "left 2"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), (std::vector<std::string>{"left 1", "left 2"}));
  EXPECT_EQ(client.lrange(source.inflight_key()), strings(batch));
}

// The worker's second in-flight list (where it takes ahead) is empty whenever it takes afresh:
// what is there was not taken by it, and goes back to the head of K too, with K empty or not.
TEST_F(ListSourceTakeTest, ElementsLeftInTheTakeAheadListGoBackBeforeATake) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  const std::string ahead = source.inflight_key() + "b";
  client.rpush_many(ahead, {"ahead 1", "ahead 2"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), (std::vector<std::string>{"ahead 1", "ahead 2"}));
  EXPECT_EQ(client.llen(ahead), 0);
  bool owned = false;
  ASSERT_TRUE(source.ack(batch, AckWrites{}, &owned).is_ok());
  EXPECT_TRUE(owned);

  client.rpush_many(source.inflight_key(), {"left"});
  client.rpush_many(ahead, {"ahead 3"});
  client.rpush_many(kKey, {"a", "b"});
  ASSERT_TRUE(source.take(3, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), (std::vector<std::string>{"left", "ahead 3", "a"}));
  EXPECT_EQ(client.llen(ahead), 0);
  EXPECT_EQ(client.lrange(kKey), std::vector<std::string>{"b"});
  EXPECT_EQ(client.command({"EXISTS", std::string(kKey) + ":deliveries"}).integer, 0)
      << "returned uncounted";
}

// ... and a take-ahead key of another type is moved aside as the first list's is.
TEST_F(ListSourceTakeTest, TakeAheadKeyOfAnotherTypeIsMovedAsideWithAnAlert) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.command({"SET", source.inflight_key() + "b", "oops"});
  client.rpush_many(kKey, {"a"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_TRUE(batch.messages.empty());
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), std::vector<std::string>{"a"});
  const std::vector<std::string> aside = client.keys(std::string(kKey) + ":quarantine:*");
  ASSERT_EQ(aside.size(), 1u);
  EXPECT_NE(aside[0].find(":inflight:c:0b:"), std::string::npos) << aside[0];
  const std::string alert =
      client.command({"HGET", std::string(kKey) + ":alerts", "inflight_wrongtype"}).str;
  EXPECT_NE(alert.find(source.inflight_key() + "b"), std::string::npos) << alert;
}

TEST_F(ListSourceTakeTest, AckOfABatchWhoseInflightListGainedElementsKeepsItsWrites) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.rpush_many(kKey, {"a", "b", "c", "later"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(3, 0ms, &batch).is_ok());
  ASSERT_EQ(strings(batch), (std::vector<std::string>{"a", "b", "c"}));
  // While the handlers run, a foreign element lands in the in-flight list (at either end).
  client.command({"LPUSH", source.inflight_key(), "foreign 1"});
  client.rpush(source.inflight_key(), "foreign 2");
  AckWrites writes;
  writes.dead_letters.push_back("dead b");
  writes.retries.emplace_back(12345, "retry c");
  bool owned = false;
  ASSERT_TRUE(source.ack(batch, writes, &owned).is_ok());
  EXPECT_TRUE(owned) << "the batch was still there: it is acked";
  EXPECT_EQ(client.lrange(std::string(kKey) + ":dead"), std::vector<std::string>{"dead b"});
  EXPECT_EQ(client.zcard(std::string(kKey) + ":retry"), 1);
  EXPECT_EQ(client.llen(source.inflight_key()), 0);
  EXPECT_EQ(client.lrange(kKey), (std::vector<std::string>{"foreign 1", "foreign 2", "later"}))
      << "the foreign elements go back to the head of K, in order";
  // A batch whose list is gone (reclaimed meanwhile) writes nothing.
  ASSERT_TRUE(source.take(1, 0ms, &batch).is_ok());
  client.command({"DEL", source.inflight_key()});
  ASSERT_TRUE(source.ack(batch, writes, &owned).is_ok());
  EXPECT_FALSE(owned);
  EXPECT_EQ(client.llen(std::string(kKey) + ":dead"), 1);
}

TEST_F(ListSourceTakeTest, InflightKeyOfAnotherTypeIsMovedAsideWithAnAlert) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.command({"SET", source.inflight_key(), "oops"});
  client.rpush_many(kKey, {"a"});
  TakenBatch batch;
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_TRUE(batch.messages.empty());
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), std::vector<std::string>{"a"});
  EXPECT_EQ(client.keys(std::string(kKey) + ":quarantine:*").size(), 1u);
  const std::string alert =
      client.command({"HGET", std::string(kKey) + ":alerts", "inflight_wrongtype"}).str;
  EXPECT_NE(alert.find(source.inflight_key()), std::string::npos) << alert;
}

TEST_F(ListSourceTakeTest, TakeRefusesWhileAnotherRunHoldsTheConsumerName) {
  auto connection = connect(server_.url());
  ListSource source(connection.get(), kKey, "c", 0, "token", 30s);
  test::RedisClient client = server_.client();
  client.command({"SET", std::string(kKey) + ":heartbeat:c", "another-host/1/2", "PX", "30000"});
  client.rpush_many(kKey, {"a"});
  EXPECT_FALSE(source.start(5, "events").is_ok());
  TakenBatch batch;
  Status s = source.take(10, 0ms, &batch);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("is in use by another live process"), std::string::npos)
      << s.message();
  EXPECT_EQ(client.llen(kKey), 1) << "nothing taken";
  // Once that heartbeat expires, the name is this run's.
  client.command({"DEL", std::string(kKey) + ":heartbeat:c"});
  ASSERT_TRUE(source.start(5, "events").is_ok());
  ASSERT_TRUE(source.take(10, 0ms, &batch).is_ok());
  EXPECT_EQ(strings(batch), std::vector<std::string>{"a"});
}

TEST_F(ListSourceTakeTest, AclWithoutSortFallsBackToTheLuaCopy) {
  test::RedisClient admin = server_.client();
  admin.command({"ACL", "SETUSER", "nosort", "on", ">secret", "~*", "+@all", "-@dangerous"});
  RedisEndpoint endpoint;
  std::string error;
  // unix:// URLs may not carry credentials: set them on the endpoint.
  ASSERT_TRUE(parse_redis_url(server_.url(), &endpoint, &error)) << error;
  endpoint.user = "nosort";
  endpoint.password = "secret";
  RedisConnection connection(endpoint, "test");
  ASSERT_TRUE(connection.connect().is_ok());
  ListSource source(&connection, kKey, "c", 0, "token", 30s);
  const std::vector<std::string> pushed = messages(30);
  admin.rpush_many(kKey, pushed, 1000);
  TakenBatch batch;
  std::vector<std::string> taken;
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE(source.take(20, 0ms, &batch).is_ok());
    std::vector<std::string> got = strings(batch);
    EXPECT_EQ(admin.lrange(source.inflight_key()), got);
    taken.insert(taken.end(), got.begin(), got.end());
    bool owned = false;
    ASSERT_TRUE(source.ack(batch, AckWrites{}, &owned).is_ok());
    EXPECT_TRUE(owned);
  }
  EXPECT_EQ(taken, pushed);
  EXPECT_EQ(admin.llen(kKey), 0);
  EXPECT_EQ(sort_stat("calls"), 0);
  EXPECT_EQ(sort_stat("rejected_calls"), 1) << "SORT is tried once, then no more";
}

}  // namespace
}  // namespace switchyard
