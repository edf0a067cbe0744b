// stream_scripts_test.cc: the stream source's Redis scripts (source/lua/stream_*.lua), run with
// EVAL against a private redis-server: the ack writes only while the batch is still this
// consumer's (a refused ack writes nothing), and the keeper touches only entries still its own.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "source/lua/scripts.h"
#include "source/source.h"
#include "support/archive.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using test::eval;
using test::integer_of;
using test::integers_of;
using Strings = std::vector<std::string>;
using Integers = std::vector<int64_t>;

class StreamScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
    for (const char* m : {"a", "b", "c"})
      ids_.push_back(redis().command({"XADD", keys_.pending, "*", "message", m}).str);
    redis().command({"XGROUP", "CREATE", keys_.pending, "g", "0"});
  }

  test::RedisClient& redis() { return *client_; }

  // Delivers up to count new entries to consumer.
  void read_as(const std::string& consumer, int count) {
    redis().command({"XREADGROUP", "GROUP", "g", consumer, "COUNT", std::to_string(count),
                     "STREAMS", keys_.pending, ">"});
  }
  // How many entries are pending in group g (for every consumer).
  int64_t pending() {
    return integer_of(redis().command({"XPENDING", keys_.pending, "g"}).elements.at(0));
  }
  // ARGV of an ack of ids by consumer c with one dead letter and one retry.
  Strings ack_args(const Strings& ids) const {
    Strings args = {"g", "c", std::to_string(ids.size())};
    args.insert(args.end(), ids.begin(), ids.end());
    args.insert(args.end(), {"0", "0", "1", "d1", "1000", "r1"});
    return args;
  }
  test::Reply ack(const Strings& ids) {
    return eval(redis(), lua::kStreamAck,
                {keys_.pending, keys_.dead(), keys_.retry(), keys_.archive()}, ack_args(ids));
  }
  bool nothing_written() {
    return test::type_of(redis(), keys_.dead()) == "none" &&
           test::type_of(redis(), keys_.retry()) == "none";
  }
  // The idle time of pending entry id, in ms.
  int64_t idle_ms(const std::string& id) {
    test::Reply r = redis().command({"XPENDING", keys_.pending, "g", id, id, "1"});
    return integer_of(r.elements.at(0).elements.at(2));
  }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  const SourceKeys keys_{"q"};
  Strings ids_;
};

// --- stream_ack.lua (and the ack_writes.lua fragment it includes)

TEST_F(StreamScriptsTest, AckAcksTheBatchWithItsWrites) {
  read_as("c", 2);
  EXPECT_EQ(integers_of(ack({ids_[0], ids_[1]})), (Integers{2, 0}));
  EXPECT_EQ(pending(), 0);
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1"}));
  EXPECT_EQ(redis().command({"ZSCORE", keys_.retry(), "r1"}).str, "1000");
}

TEST_F(StreamScriptsTest, AckWritesNothingWhenAnotherConsumerClaimedAnEntry) {
  read_as("c", 2);
  redis().command({"XCLAIM", keys_.pending, "g", "other", "0", ids_[1], "JUSTID"});
  EXPECT_EQ(integer_of(ack({ids_[0], ids_[1]})), -1);
  EXPECT_EQ(pending(), 2);
  EXPECT_TRUE(nothing_written());
}

TEST_F(StreamScriptsTest, AckWritesNothingTwiceWhenAnEarlierAckWentThrough) {
  read_as("c", 1);
  ASSERT_EQ(integers_of(ack({ids_[0]})), (Integers{1, 0}));
  redis().del(keys_.dead());
  redis().del(keys_.retry());
  EXPECT_EQ(integer_of(ack({ids_[0]})), -1);
  EXPECT_TRUE(nothing_written());
}

TEST_F(StreamScriptsTest, AckWritesNothingWhenTheGroupIsGone) {
  read_as("c", 1);
  redis().command({"XGROUP", "DESTROY", keys_.pending, "g"});
  EXPECT_EQ(integer_of(ack({ids_[0]})), -1);
  EXPECT_TRUE(nothing_written());
}

TEST_F(StreamScriptsTest, AckWritesTheBatchOfAConsumerDeletedFromTheGroupAndSaysSo) {
  read_as("c", 1);
  redis().command({"XGROUP", "DELCONSUMER", keys_.pending, "g", "c"});
  EXPECT_EQ(integers_of(ack({ids_[0]})), (Integers{0, 1}));
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1"}));
}

// --- stream_keep.lua

TEST_F(StreamScriptsTest, KeepResetsTheIdleTimeOfEntriesStillThisConsumers) {
  read_as("c", 3);
  redis().command({"XCLAIM", keys_.pending, "g", "other", "0", ids_[1], "JUSTID"});
  redis().command({"XDEL", keys_.pending, ids_[2]});
  // Make every entry look idle for a minute, then keep them.
  for (const std::string& id : ids_)
    redis().command({"XCLAIM", keys_.pending, "g", id == ids_[1] ? "other" : "c", "0", id, "IDLE",
                     "60000", "JUSTID"});
  test::Reply r = eval(redis(), lua::kStreamKeep, {keys_.pending},
                       {"g", "c", ids_[0], ids_[1], ids_[2], "0-1"});  // 0-1: never delivered
  EXPECT_EQ(integer_of(r), 1);
  EXPECT_LT(idle_ms(ids_[0]), 60000);
  EXPECT_GE(idle_ms(ids_[1]), 60000);
}

// The acked entries' messages are archived; an entry deleted before its ack has none to keep.
TEST_F(StreamScriptsTest, AckWithTheArchiveOnArchivesTheAckedEntriesMessages) {
  read_as("c", 3);
  redis().command({"XDEL", keys_.pending, ids_[1]});
  Strings args = {"g", "c", "3", ids_[0], ids_[1], ids_[2], "60000", "100", "0"};
  const test::Reply r = eval(redis(), lua::kStreamAck,
                             {keys_.pending, keys_.dead(), keys_.retry(), keys_.archive()}, args);
  EXPECT_EQ(integers_of(r), (Integers{3, 0})) << r.describe();
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a", "c"}));
}

}  // namespace
}  // namespace switchyard
