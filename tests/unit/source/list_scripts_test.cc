// list_scripts_test.cc: each Redis script of the list source (source/lua/list_*.lua), run with
// EVAL against a private redis-server: its writes and its reply, including the foreign states
// the fault suite found (a stale element in the in-flight list, keys without a TTL, a key of
// another type, a refused ack).
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "records/dead_letter.h"
#include "source/ack_writes.h"
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
using test::strings_of;
using Strings = std::vector<std::string>;

class ListScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
  }

  test::RedisClient& redis() { return *client_; }

  // KEYS of list_take.lua and list_take_fast.lua for consumer c, worker 0, taking afresh (the
  // other lane is checked too).
  Strings take_keys() const {
    return {keys_.pending,      inflight_,     keys_.owners(), heartbeat_,
            keys_.deliveries(), keys_.lease(), inflight_ + "b"};
  }
  // ARGV of a take of up to max messages, with ttl_ms 30000 and run token "t1".
  static Strings take_args(int max, int consumed = 0) {
    return {std::to_string(max), "c", "30000", "t1", std::to_string(consumed)};
  }
  // Marks message m as delivered `count` times in K:deliveries.
  void count_delivery(const std::string& m, int count = 1) {
    redis().command({"HSET", keys_.deliveries(), test::sha1_hex(m), std::to_string(count)});
  }
  // The whole state a refused script must leave alone, for before/after comparisons.
  std::string snapshot() {
    std::string out;
    for (const std::string& key : redis().keys()) {
      out += key + "=" + redis().command({"DUMP", key}).str + ";";
    }
    return out;
  }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  const SourceKeys keys_{"q"};
  const std::string inflight_ = keys_.inflight("c", 0);
  const std::string heartbeat_ = keys_.heartbeat("c");
};

// --- list_take.lua

TEST_F(ListScriptsTest, TakeMovesTheHeadOfKIntoTheInflightListAndRegistersIt) {
  redis().rpush_many(keys_.pending, {"a", "b", "c", "d"});
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), 0);
  EXPECT_EQ(strings_of(r.elements[1]), (Strings{"a", "b", "c"}));
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"a", "b", "c"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"d"}));
  EXPECT_EQ(redis().command({"HGET", keys_.owners(), inflight_}).str, "c");
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  EXPECT_GT(test::pttl(redis(), heartbeat_), 0);
  EXPECT_LE(test::pttl(redis(), heartbeat_), 30000);
}

TEST_F(ListScriptsTest, TakeReturnsStaleInflightElementsToTheHeadOfKUncountedFirst) {
  redis().rpush_many(inflight_, {"x", "y"});
  redis().rpush_many(keys_.pending, {"a", "b"});
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), 2);
  EXPECT_EQ(strings_of(r.elements[1]), (Strings{"x", "y", "a"}));
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"x", "y", "a"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"b"}));
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
}

TEST_F(ListScriptsTest, TakeOfAnEmptyKTakesTheReturnedStaleElementsAgainUncounted) {
  redis().rpush_many(inflight_, {"x"});
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), 1);
  EXPECT_EQ(strings_of(r.elements[1]), (Strings{"x"}));
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"x"}));
  EXPECT_EQ(test::type_of(redis(), keys_.pending), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
}

TEST_F(ListScriptsTest, TakeHandsARedeliveredMessageOutAloneAndStopsBeforeTheNextOne) {
  redis().rpush_many(keys_.pending, {"a", "b", "c", "d"});
  count_delivery("a");
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  EXPECT_EQ(strings_of(r.elements.at(1)), (Strings{"a"}));
  redis().del(inflight_);
  count_delivery("c");
  r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  EXPECT_EQ(strings_of(r.elements.at(1)), (Strings{"b"}));
  redis().del(inflight_);
  r = eval(redis(), lua::kListTake, take_keys(), take_args(3));
  EXPECT_EQ(strings_of(r.elements.at(1)), (Strings{"c"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"d"}));
}

TEST_F(ListScriptsTest, TakeCopiesLargeBatchesInOrderByteForByte) {
  Strings pushed;
  for (int i = 0; i < 2500; ++i) pushed.push_back(std::string("\xff\0m", 3) + std::to_string(i));
  redis().rpush_many(keys_.pending, pushed, 1000);
  redis().rpush_many(inflight_, Strings(1200, "stale"), 1000);
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(3000));
  EXPECT_EQ(integer_of(r.elements.at(0)), 1200);
  Strings expected(1200, "stale");
  expected.insert(expected.end(), pushed.begin(), pushed.begin() + 1800);
  EXPECT_EQ(strings_of(r.elements.at(1)), expected);
  EXPECT_EQ(redis().lrange(inflight_), expected);
  EXPECT_EQ(redis().llen(keys_.pending), 700);
}

TEST_F(ListScriptsTest, TakeRemovesOneLaravelTokenPerMessageBeyondThoseConsumed) {
  redis().rpush_many(keys_.pending, {"a", "b", "c", "d"});
  redis().rpush_many("notify", {"1", "1", "1", "1"});
  Strings keys = take_keys();
  keys.push_back("notify");
  eval(redis(), lua::kListTake, keys, take_args(3, 1));
  EXPECT_EQ(redis().llen("notify"), 2);
}

TEST_F(ListScriptsTest, TakeRefusesWithoutWritingWhileALeaseIsHeld) {
  redis().rpush_many(keys_.pending, {"a"});
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "60000"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTake, take_keys(), take_args(3))), -3);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, TakeRefusesWithoutWritingWhileAnotherRunHoldsTheHeartbeat) {
  redis().rpush_many(keys_.pending, {"a"});
  redis().command({"SET", heartbeat_, "t2", "PX", "60000"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTake, take_keys(), take_args(3))), -4);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, TakeRefusesWithoutWritingWhenTheInflightKeyIsNotAList) {
  redis().rpush_many(keys_.pending, {"a"});
  redis().command({"SET", inflight_, "not a list"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTake, take_keys(), take_args(3))), -5);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, TakeReturnsTheOtherLanesElementsAfterTheInflightListsAndRefusesANonList) {
  redis().rpush_many(keys_.pending, {"a"});
  redis().rpush_many(inflight_, {"x"});
  redis().rpush_many(inflight_ + "b", {"y", "z"});
  test::Reply r = eval(redis(), lua::kListTake, take_keys(), take_args(2));
  ASSERT_EQ(r.elements.size(), 2u);
  EXPECT_EQ(r.elements[0].integer, 3);
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"x", "y"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"z", "a"}));
  EXPECT_EQ(redis().llen(inflight_ + "b"), 0);
  // KEYS[7] the in-flight list itself: the other lane holds the batch in hand, and is left alone.
  redis().del(inflight_);
  redis().rpush_many(inflight_ + "b", {"in hand"});
  Strings keys = take_keys();
  keys[6] = inflight_;
  eval(redis(), lua::kListTake, keys, take_args(1));
  EXPECT_EQ(redis().lrange(inflight_ + "b"), Strings{"in hand"});
  EXPECT_EQ(redis().lrange(inflight_), Strings{"z"});

  redis().del(inflight_);
  redis().del(inflight_ + "b");
  redis().command({"SET", inflight_ + "b", "not a list"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTake, take_keys(), take_args(3))), -6);
  EXPECT_EQ(snapshot(), before);
}

// --- list_take_fast.lua

TEST_F(ListScriptsTest, FastTakeStoresTheHeadOfKInTheInflightListAndAnswersTheCount) {
  redis().rpush_many(keys_.pending, {"a", "1", "02", std::string("\0\xff", 2)});
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), 3);
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"a", "1", "02"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{std::string("\0\xff", 2)}));
  EXPECT_EQ(redis().command({"HGET", keys_.owners(), inflight_}).str, "c");
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  EXPECT_GT(test::pttl(redis(), heartbeat_), 0);
}

TEST_F(ListScriptsTest, FastTakeAnswersZeroForAnEmptyKAndWritesNothing) {
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), 0);
  EXPECT_TRUE(redis().keys().empty());
}

TEST_F(ListScriptsTest, FastTakeDefersToTheLuaCopyForCountsOrAStaleInflightList) {
  redis().rpush_many(keys_.pending, {"a"});
  count_delivery("zz");
  std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -1);
  EXPECT_EQ(snapshot(), before);
  redis().del(keys_.deliveries());
  redis().rpush(inflight_, "x");
  before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -1);
  EXPECT_EQ(snapshot(), before);
  // Either lane, and with K empty too: stale elements must not wait for new traffic.
  redis().del(keys_.pending);
  before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -1);
  EXPECT_EQ(snapshot(), before);
  redis().del(inflight_);
  redis().rpush(inflight_ + "b", "y");
  before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -1);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, FastTakeRefusesALeaseEvenOnAnEmptyKAndAnotherRunsHeartbeat) {
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "60000"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -3);
  redis().del(keys_.lease());
  redis().rpush(keys_.pending, "a");
  redis().command({"SET", heartbeat_, "t2", "PX", "60000"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, take_keys(), take_args(3))), -4);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, FastTakeAnswersMinusTwoWithoutWritingWhenAnAclRefusesSort) {
  redis().rpush_many(keys_.pending, {"a", "b"});
  redis().command({"ACL", "SETUSER", "nosort", "on", ">secret", "~*", "+@all", "-@dangerous"});
  test::RedisClient limited = server_.client();
  limited.command({"AUTH", "nosort", "secret"});
  const std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(limited, lua::kListTakeFast, take_keys(), take_args(3))), -2);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, FastTakeRemovesOneLaravelTokenPerMessageBeyondThoseConsumed) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  redis().rpush_many("notify", {"1", "1", "1"});
  Strings keys = take_keys();
  keys.push_back("notify");
  EXPECT_EQ(integer_of(eval(redis(), lua::kListTakeFast, keys, take_args(3, 0))), 3);
  EXPECT_EQ(redis().llen("notify"), 0);
}

// --- list_ack.lua (and the ack_writes.lua fragment it includes)

TEST_F(ListScriptsTest, AckDeletesTheInflightListAndWritesDeadLettersAndRetriesInOrder) {
  redis().rpush_many(inflight_, {"a", "b"});
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  test::Reply r = eval(redis(), lua::kListAck, keys,
                       {"2", "0", "0", "2", "d1", "d2", "1000", "r1", "2000", "r2"});
  EXPECT_EQ(integer_of(r), 1);
  EXPECT_EQ(test::type_of(redis(), inflight_), "none");
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1", "d2"}));
  EXPECT_EQ(strings_of(redis().command({"ZRANGE", keys_.retry(), "0", "-1", "WITHSCORES"})),
            (Strings{"r1", "1000", "r2", "2000"}));
}

TEST_F(ListScriptsTest, AckWritesMoreThanOneChunkOfDeadLettersAndRetries) {
  redis().rpush(inflight_, "a");
  Strings args = {"1", "0", "0", "2500"};
  for (int i = 0; i < 2500; ++i) args.push_back("d" + std::to_string(i));
  for (int i = 0; i < 1500; ++i) {
    args.push_back(std::to_string(i));
    args.push_back("r" + std::to_string(i));
  }
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, args)), 1);
  const Strings dead = redis().lrange(keys_.dead());
  ASSERT_EQ(dead.size(), 2500u);
  EXPECT_EQ(dead.front(), "d0");
  EXPECT_EQ(dead[1000], "d1000");
  EXPECT_EQ(dead.back(), "d2499");
  EXPECT_EQ(redis().zcard(keys_.retry()), 1500);
  EXPECT_EQ(redis().command({"ZSCORE", keys_.retry(), "r1499"}).str, "1499");
}

// The one C++ builder of the ack writes and the one Lua reader agree, past a chunk of 1000.
TEST_F(ListScriptsTest, AckWritesBuiltByAppendAckWritesLandInOrder) {
  AckWrites writes;
  for (int i = 0; i < 1200; ++i) writes.dead_letters.push_back("letter " + std::to_string(i));
  for (int i = 0; i < 1500; ++i)
    writes.retries.emplace_back(1700000000000 + i, "v1|0|retry " + std::to_string(i));
  std::vector<std::string_view> views = {"1"};
  std::vector<std::string> numbers;
  append_ack_writes(ArchiveSettings{}, writes, &numbers, &views);
  ASSERT_EQ(views.size(), 1u + 3 + 1200 + 2 * 1500);
  EXPECT_EQ(views[1], "0");  // archive off
  EXPECT_EQ(views[3], "1200");
  EXPECT_EQ(views[4], "letter 0");
  EXPECT_EQ(views[1204], "1700000000000");
  EXPECT_EQ(views[1205], "v1|0|retry 0");
  redis().rpush(inflight_, "a");
  const Strings args(views.begin(), views.end());
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, args)), 1);
  EXPECT_EQ(redis().lrange(keys_.dead()), writes.dead_letters);
  EXPECT_EQ(redis().zcard(keys_.retry()), 1500);
  EXPECT_EQ(redis().command({"ZSCORE", keys_.retry(), "v1|0|retry 1499"}).str, "1700000001499");
}

TEST_F(ListScriptsTest, AckOfASingleMessageDropsItsDeliveryCount) {
  redis().rpush(inflight_, "a");
  count_delivery("a", 2);
  count_delivery("other", 1);
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, {"1", "0", "0", "0"})), 1);
  EXPECT_EQ(strings_of(redis().command({"HKEYS", keys_.deliveries()})),
            (Strings{test::sha1_hex("other")}));
}

TEST_F(ListScriptsTest, AckIsRefusedWithoutWritingWhenTheListIsNotExactlyTheBatch) {
  redis().rpush_many(inflight_, {"a", "b", "stale"});
  const std::string before = snapshot();
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kListAck, keys, {"2", "0", "0", "1", "d1", "1000", "r1"})), 0);
  EXPECT_EQ(snapshot(), before);
  redis().del(inflight_);
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kListAck, keys, {"2", "0", "0", "1", "d1", "1000", "r1"})), 0);
  EXPECT_TRUE(redis().keys().empty());
}

// --- archive.lua (every ack script includes it; list_ack.lua and list_heal_ack.lua here)

TEST_F(ListScriptsTest, AckWithTheArchiveOnArchivesTheBatchInOrderWithItsWrites) {
  redis().rpush_many(inflight_, {"a", "b"});
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, {"2", "60000", "100", "1", "d1"})), 1);
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a", "b"}));
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1"}));
  EXPECT_EQ(test::type_of(redis(), inflight_), "none");
}

TEST_F(ListScriptsTest, AckTrimsTheArchiveToMaxLen) {
  // One entry per stream node, so that the approximate trims (~) are exact here.
  redis().command({"CONFIG", "SET", "stream-node-max-entries", "1"});
  for (const char* m : {"o1", "o2", "o3"}) redis().command({"XADD", keys_.archive(), "*", "m", m});
  redis().rpush_many(inflight_, {"a", "b"});
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, {"2", "60000", "3", "0"})), 1);
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"o3", "a", "b"}));
}

TEST_F(ListScriptsTest, AckDropsArchivedMessagesOlderThanTheRetention) {
  redis().command({"CONFIG", "SET", "stream-node-max-entries", "1"});
  redis().command({"XADD", keys_.archive(), "1000-0", "m", "handled in 1970"});
  redis().rpush(inflight_, "a");
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, {"1", "60000", "100", "0"})), 1);
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a"}));
}

TEST_F(ListScriptsTest, AckWithTheArchiveOffWritesNoArchive) {
  redis().rpush(inflight_, "a");
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListAck, keys, {"1", "0", "0", "0"})), 1);
  EXPECT_EQ(test::type_of(redis(), keys_.archive()), "none");
}

// An archive key of another type stops the ack before it writes anything (the worker moves the
// key aside, see key_types.h, and acks again): never an ack without its archive entries.
TEST_F(ListScriptsTest, AckRefusesAnArchiveOfAnotherTypeBeforeWritingAnything) {
  redis().command({"SET", keys_.archive(), "not a stream"});
  redis().rpush_many(inflight_, {"a", "b"});
  const std::string before = snapshot();
  const Strings keys = {inflight_, keys_.dead(), keys_.retry(), keys_.deliveries(),
                        keys_.archive()};
  const test::Reply r = eval(redis(), lua::kListAck, keys, {"2", "60000", "100", "1", "d1"});
  ASSERT_TRUE(r.is_error()) << r.describe();
  EXPECT_NE(r.str.find("WRONGTYPE"), std::string::npos) << r.str;
  EXPECT_NE(r.str.find(keys_.archive()), std::string::npos) << r.str;
  EXPECT_EQ(snapshot(), before);
  const Strings heal_keys = {inflight_,          keys_.dead(),  keys_.retry(),
                             keys_.deliveries(), keys_.pending, keys_.archive()};
  const test::Reply h =
      eval(redis(), lua::kListHealAck, heal_keys, {"1", "a", "60000", "100", "1", "d1"});
  ASSERT_TRUE(h.is_error()) << h.describe();
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, HealAckArchivesOnlyTheBatchMessagesItRemoved) {
  redis().rpush_many(inflight_, {"x", "a"});
  const Strings keys = {inflight_,          keys_.dead(),  keys_.retry(),
                        keys_.deliveries(), keys_.pending, keys_.archive()};
  EXPECT_EQ(
      integers_of(eval(redis(), lua::kListHealAck, keys, {"2", "a", "gone", "60000", "100", "0"})),
      (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"x"}));
}

// --- list_heal_ack.lua

TEST_F(ListScriptsTest, HealAckAcksTheBatchAndReturnsTheOtherElementsToTheHeadOfK) {
  redis().rpush_many(inflight_, {"x", "a", "y", "b"});
  redis().rpush(keys_.pending, "next");
  count_delivery("a");
  count_delivery("x");
  const Strings keys = {inflight_,          keys_.dead(),  keys_.retry(),
                        keys_.deliveries(), keys_.pending, keys_.archive()};
  test::Reply r =
      eval(redis(), lua::kListHealAck, keys, {"2", "a", "b", "0", "0", "1", "d1", "1000", "r1"});
  EXPECT_EQ(integers_of(r), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"x", "y", "next"}));
  EXPECT_EQ(test::type_of(redis(), inflight_), "none");
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1"}));
  EXPECT_EQ(redis().zcard(keys_.retry()), 1);
  EXPECT_EQ(strings_of(redis().command({"HKEYS", keys_.deliveries()})),
            (Strings{test::sha1_hex("x")}));
}

TEST_F(ListScriptsTest, HealAckWritesNothingOfTheBatchWhenNoneOfItsMessagesIsThere) {
  redis().rpush_many(inflight_, {"x"});
  const Strings keys = {inflight_,          keys_.dead(),  keys_.retry(),
                        keys_.deliveries(), keys_.pending, keys_.archive()};
  test::Reply r =
      eval(redis(), lua::kListHealAck, keys, {"1", "a", "0", "0", "1", "d1", "1000", "r1"});
  EXPECT_EQ(integers_of(r), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"x"}));
  EXPECT_EQ(test::type_of(redis(), keys_.dead()), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.retry()), "none");
}

TEST_F(ListScriptsTest, HealAckRemovesOneOccurrencePerBatchMessage) {
  redis().rpush_many(inflight_, {"a", "a"});
  const Strings keys = {inflight_,          keys_.dead(),  keys_.retry(),
                        keys_.deliveries(), keys_.pending, keys_.archive()};
  EXPECT_EQ(integers_of(eval(redis(), lua::kListHealAck, keys, {"1", "a", "0", "0", "0"})),
            (std::vector<int64_t>{1, 1}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"a"}));
}

TEST_F(ListScriptsTest, HealAckWritesNothingWhenTheListIsGoneOrNotAList) {
  const Strings keys = {inflight_,          keys_.dead(),  keys_.retry(),
                        keys_.deliveries(), keys_.pending, keys_.archive()};
  const Strings args = {"1", "a", "0", "0", "1", "d1", "1000", "r1"};
  EXPECT_EQ(integers_of(eval(redis(), lua::kListHealAck, keys, args)),
            (std::vector<int64_t>{0, 0}));
  EXPECT_TRUE(redis().keys().empty());
  redis().command({"SET", inflight_, "text"});
  const std::string before = snapshot();
  EXPECT_EQ(integers_of(eval(redis(), lua::kListHealAck, keys, args)),
            (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(snapshot(), before);
}

// --- list_claim.lua

TEST_F(ListScriptsTest, ClaimSetsTheHeartbeatUnlessAnotherRunHoldsIt) {
  EXPECT_EQ(integer_of(eval(redis(), lua::kListClaim, {heartbeat_}, {"t1", "30000", ""})), 1);
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  EXPECT_GT(test::pttl(redis(), heartbeat_), 0);
  EXPECT_EQ(integer_of(eval(redis(), lua::kListClaim, {heartbeat_}, {"t1", "30000", ""})), 1);
  test::Reply other = eval(redis(), lua::kListClaim, {heartbeat_}, {"t2", "30000", ""});
  ASSERT_EQ(other.type, test::Reply::Type::kString) << other.describe();
  EXPECT_EQ(other.str, "t1");
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  // A token the caller found dead may be replaced.
  EXPECT_EQ(integer_of(eval(redis(), lua::kListClaim, {heartbeat_}, {"t2", "30000", "t1"})), 1);
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t2");
}

// --- list_heartbeat.lua

TEST_F(ListScriptsTest, HeartbeatRefreshesItsOwnRunAndRegistersTheInflightLists) {
  const Strings keys = {heartbeat_, keys_.owners(), keys_.lease()};
  const std::string list1 = keys_.inflight("c", 1);
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kListHeartbeat, keys, {"t1", "30000", "c", inflight_, list1})),
      1);
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  EXPECT_GT(test::pttl(redis(), heartbeat_), 0);
  EXPECT_EQ(strings_of(redis().command({"HGETALL", keys_.owners()})),
            (Strings{inflight_, "c", list1, "c"}));
}

TEST_F(ListScriptsTest, HeartbeatLeavesAnotherRunsHeartbeatAlone) {
  redis().command({"SET", heartbeat_, "t2", "PX", "60000"});
  const std::string before = snapshot();
  test::Reply r = eval(redis(), lua::kListHeartbeat, {heartbeat_, keys_.owners(), keys_.lease()},
                       {"t1", "30000", "c", inflight_});
  EXPECT_EQ(r.str, "t2") << r.describe();
  EXPECT_EQ(snapshot(), before);
}

TEST_F(ListScriptsTest, HeartbeatRegistersNoListWhileALeaseIsHeld) {
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "60000"});
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kListHeartbeat, {heartbeat_, keys_.owners(), keys_.lease()},
                      {"t1", "30000", "c", inflight_})),
      1);
  EXPECT_EQ(redis().command({"GET", heartbeat_}).str, "t1");
  EXPECT_EQ(test::type_of(redis(), keys_.owners()), "none");
}

// --- list_recover.lua

class ListRecoverScriptTest : public ListScriptsTest {
 protected:
  Strings recover_keys() const {
    return {inflight_, keys_.pending, keys_.deliveries(), keys_.dead(), keys_.owners(), heartbeat_};
  }
  // ARGV: force, max_deliveries 3, the tail of a dead letter, count, ttl_ms 30000.
  Strings recover_args(bool force, bool count = true) const {
    return {force ? "1" : "0", "3", encode_dead_letter_tail(letter_), count ? "1" : "0", "30000"};
  }
  DeadLetter letter_ = [] {
    DeadLetter d;
    d.source = "orders";
    d.reason = "exceeded max deliveries (3)";
    d.attempts = 3;
    d.failed_at = "2026-01-01T00:00:00.000Z";
    d.instance = "host:1";
    return d;
  }();
};

TEST_F(ListRecoverScriptTest, ReturnsTheListToTheHeadOfKInOrderCountingADeliveryEach) {
  redis().rpush_many(inflight_, {"a", "b"});
  redis().rpush(keys_.pending, "next");
  redis().command({"HSET", keys_.owners(), inflight_, "c"});
  test::Reply r = eval(redis(), lua::kListRecover, recover_keys(), recover_args(false));
  EXPECT_EQ(integers_of(r), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"a", "b", "next"}));
  EXPECT_EQ(test::type_of(redis(), inflight_), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.owners()), "none");
  EXPECT_EQ(redis().command({"HGET", keys_.deliveries(), test::sha1_hex("a")}).str, "1");
  EXPECT_EQ(redis().command({"HGET", keys_.deliveries(), test::sha1_hex("b")}).str, "1");
}

TEST_F(ListRecoverScriptTest, AfterALostReplyReturnsTheListWithoutCounting) {
  redis().rpush_many(inflight_, {"a"});
  count_delivery("a", 2);
  test::Reply r = eval(redis(), lua::kListRecover, recover_keys(), recover_args(true, false));
  EXPECT_EQ(integers_of(r), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(redis().command({"HGET", keys_.deliveries(), test::sha1_hex("a")}).str, "2");
}

TEST_F(ListRecoverScriptTest, DeadLettersAMessageAtMaxDeliveriesKeepingItsExactBytes) {
  const std::string not_utf8("\xff\xfe bytes \xc3", 10);
  redis().rpush_many(inflight_, {"a", not_utf8});
  count_delivery("a", 2);
  count_delivery(not_utf8, 2);
  test::Reply r = eval(redis(), lua::kListRecover, recover_keys(), recover_args(true));
  EXPECT_EQ(integers_of(r), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
  const Strings dead = redis().lrange(keys_.dead());
  ASSERT_EQ(dead.size(), 2u);
  // Recovered from the tail of the list: the last message first.
  for (size_t i = 0; i < dead.size(); ++i) {
    DeadLetter decoded;
    std::string error;
    ASSERT_TRUE(decode_dead_letter(dead[i], &decoded, &error)) << error << ": " << dead[i];
    EXPECT_EQ(decoded.message, i == 0 ? not_utf8 : "a");
    EXPECT_EQ(decoded.reason, letter_.reason);
    EXPECT_EQ(decoded.source, "orders");
  }
  DeadLetter whole = letter_;
  whole.message = "a";
  EXPECT_EQ(dead[1], encode_dead_letter(whole));
}

// A message dead-lettered at max_deliveries leaves the source there: it is archived with it.
TEST_F(ListRecoverScriptTest, ArchivesWhatItDeadLettersWhenTheArchiveIsOn) {
  redis().rpush_many(inflight_, {"a", "b", "c"});
  count_delivery("a", 2);
  count_delivery("c", 2);
  Strings keys = recover_keys();
  keys.push_back(keys_.archive());
  Strings args = recover_args(true);
  args.insert(args.end(), {"60000", "100"});
  EXPECT_EQ(integers_of(eval(redis(), lua::kListRecover, keys, args)),
            (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a", "c"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"b"}));
}

TEST_F(ListRecoverScriptTest, LeavesTheListOfALiveOwnerAloneUnlessForced) {
  redis().rpush_many(inflight_, {"a"});
  redis().command({"SET", heartbeat_, "t2", "PX", "60000"});
  const std::string before = snapshot();
  EXPECT_EQ(integers_of(eval(redis(), lua::kListRecover, recover_keys(), recover_args(false))),
            (std::vector<int64_t>{-1, 0}));
  EXPECT_EQ(snapshot(), before);
  EXPECT_EQ(integers_of(eval(redis(), lua::kListRecover, recover_keys(), recover_args(true))),
            (std::vector<int64_t>{1, 0}));
}

TEST_F(ListRecoverScriptTest, GivesAHeartbeatWithoutTtlOneAndKeepsItsListForNow) {
  redis().rpush_many(inflight_, {"a"});
  redis().command({"SET", heartbeat_, "t2"});
  EXPECT_EQ(integers_of(eval(redis(), lua::kListRecover, recover_keys(), recover_args(false))),
            (std::vector<int64_t>{-2, 0}));
  EXPECT_GT(test::pttl(redis(), heartbeat_), 0);
  EXPECT_LE(test::pttl(redis(), heartbeat_), 30000);
  EXPECT_EQ(redis().lrange(inflight_), (Strings{"a"}));
  // Once it has a TTL, the owner counts as alive until it expires.
  EXPECT_EQ(integers_of(eval(redis(), lua::kListRecover, recover_keys(), recover_args(false))),
            (std::vector<int64_t>{-1, 0}));
}

// --- list_sweep_counts.lua

TEST_F(ListScriptsTest, SweepRemovesCountsOfMessagesNeitherInARegisteredListNorAtTheHeadOfK) {
  redis().rpush_many(inflight_, {"held"});
  redis().command({"HSET", keys_.owners(), inflight_, "c", "q:inflight:gone:0", "gone"});
  redis().rpush_many(keys_.pending, {"head", "deep"});
  for (const char* m : {"held", "head", "deep", "vanished"}) count_delivery(m);
  const Strings keys = {keys_.deliveries(), keys_.owners(), keys_.pending};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListSweepCounts, keys, {"1"})), 2);
  Strings left = strings_of(redis().command({"HKEYS", keys_.deliveries()}));
  std::sort(left.begin(), left.end());
  Strings expected = {test::sha1_hex("held"), test::sha1_hex("head")};
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(left, expected);
}

TEST_F(ListScriptsTest, SweepToleratesMissingAndWrongTypeKeys) {
  const Strings keys = {keys_.deliveries(), keys_.owners(), keys_.pending};
  EXPECT_EQ(integer_of(eval(redis(), lua::kListSweepCounts, keys, {"10"})), 0);
  count_delivery("a");
  redis().command({"SET", keys_.owners(), "text"});
  redis().command({"SET", keys_.pending, "text"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kListSweepCounts, keys, {"10"})), 1);
}

// --- list_expire_foreign.lua

TEST_F(ListScriptsTest, ExpireForeignGivesOnlyAKeyWithoutTtlOne) {
  redis().command({"SET", keys_.lease(), "someone"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kListExpireForeign, {keys_.lease()}, {"30000"})), 1);
  const int64_t ttl = test::pttl(redis(), keys_.lease());
  EXPECT_GT(ttl, 0);
  EXPECT_LE(ttl, 30000);
  redis().command({"SET", keys_.lease(), "holder", "PX", "90000000"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kListExpireForeign, {keys_.lease()}, {"30000"})), 0);
  EXPECT_GT(test::pttl(redis(), keys_.lease()), 30000);
  redis().del(keys_.lease());
  EXPECT_EQ(integer_of(eval(redis(), lua::kListExpireForeign, {keys_.lease()}, {"30000"})), 0);
  EXPECT_EQ(test::type_of(redis(), keys_.lease()), "none");
}

}  // namespace
}  // namespace switchyard
