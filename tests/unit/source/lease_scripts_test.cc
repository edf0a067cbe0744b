// lease_scripts_test.cc: each Redis script of the `delivery: lease` source
// (source/lua/lease_*.lua), run with EVAL against a private redis-server: its writes and its
// reply, including what the fault suite found (a window left by a dead holder, a corrupt window,
// a refused ack, the other delivery mode on the same key).
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "records/dead_letter.h"
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
using Integers = std::vector<int64_t>;

constexpr const char* kMe = "c|t1";

class LeaseScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
  }

  test::RedisClient& redis() { return *client_; }

  Strings take_keys() const {
    return {keys_.pending,      keys_.lease(), keys_.window(),
            keys_.deliveries(), keys_.dead(),  keys_.owners()};
  }
  // ARGV of a take of up to max messages by holder kMe, max_deliveries 3, ttl_ms 30000.
  Strings take_args(int max, const std::string& replaceable = "", int consumed = 0) const {
    return {"c",
            kMe,
            "30000",
            std::to_string(max),
            "3",
            encode_dead_letter_tail(letter_),
            std::to_string(consumed),
            replaceable};
  }
  test::Reply take(int max, const std::string& replaceable = "") {
    return eval(redis(), lua::kLeaseTake, take_keys(), take_args(max, replaceable));
  }
  Strings ack_keys() const {
    return {keys_.pending, keys_.lease(), keys_.window(),  keys_.deliveries(),
            keys_.dead(),  keys_.retry(), keys_.archive(), keys_.owners()};
  }
  // ARGV head of an ack of the window first..last (n messages) by kMe, ttl_ms 30000, with the m
  // messages ahead..ahead_last read ahead (m 0: none); the ack writes follow.
  Strings ack_args(int n, const std::string& first, const std::string& last, int m = 0,
                   const std::string& ahead = "", const std::string& ahead_last = "") const {
    return {kMe, std::to_string(n), first, last, "30000", std::to_string(m), ahead, ahead_last};
  }
  // ack_args + the ack writes of no archive, no dead letter, no retry.
  Strings plain_ack(int n, const std::string& first, const std::string& last, int m = 0,
                    const std::string& ahead = "", const std::string& ahead_last = "") const {
    Strings a = ack_args(n, first, last, m, ahead, ahead_last);
    a.insert(a.end(), {"0", "0", "0"});
    return a;
  }
  std::string window(const std::string& field) {
    return redis().command({"HGET", keys_.window(), field}).str;
  }
  std::string snapshot() {
    std::string out;
    for (const std::string& key : redis().keys())
      out += key + "=" + redis().command({"DUMP", key}).str + ";";
    return out;
  }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  const SourceKeys keys_{"q"};
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

// --- lease_take.lua

TEST_F(LeaseScriptsTest, TakeTakesTheLeaseAndRecordsTheWindowAtTheHeadOfK) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  EXPECT_EQ(integers_of(take(2)), (Integers{2, 0}));
  EXPECT_EQ(redis().command({"GET", keys_.lease()}).str, kMe);
  EXPECT_GT(test::pttl(redis(), keys_.lease()), 0);
  EXPECT_LE(test::pttl(redis(), keys_.lease()), 30000);
  EXPECT_EQ(window("n"), "2");
  EXPECT_EQ(window("by"), kMe);
  EXPECT_EQ(window("suspect"), "0");
  EXPECT_EQ(redis().llen(keys_.pending), 3);  // acked by trimming, not taken out
}

TEST_F(LeaseScriptsTest, TakeOfAnEmptyKAnswersZeroAndDropsTheWindow) {
  EXPECT_EQ(integers_of(take(2)), (Integers{0, 0}));
  EXPECT_EQ(redis().command({"GET", keys_.lease()}).str, kMe);
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
}

TEST_F(LeaseScriptsTest, TakeReadsItsOwnWindowAgainAfterALostReplyWithoutCounting) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  EXPECT_EQ(integers_of(take(3)), (Integers{2, 0}));
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
}

TEST_F(LeaseScriptsTest, TakeStandsByWithoutWritingWhileAnotherHolderHasTheLease) {
  redis().rpush(keys_.pending, "a");
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "60000"});
  const std::string before = snapshot();
  test::Reply r = take(2);
  ASSERT_EQ(r.elements.size(), 3u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), -1);
  EXPECT_EQ(r.elements[2].str, "other|t9");
  EXPECT_EQ(snapshot(), before);
}

TEST_F(LeaseScriptsTest, TakeTakesOverTheLeaseOfADeadRunItWasToldAbout) {
  redis().rpush(keys_.pending, "a");
  redis().command({"SET", keys_.lease(), "c|t0", "PX", "60000"});
  EXPECT_EQ(integers_of(take(2, "c|t0")), (Integers{1, 0}));
  EXPECT_EQ(redis().command({"GET", keys_.lease()}).str, kMe);
}

TEST_F(LeaseScriptsTest, TakeStandsByForInflightConsumersAndLetsGoOfItsOwnLease) {
  redis().rpush(keys_.pending, "a");
  redis().command({"HSET", keys_.owners(), keys_.inflight("x", 0), "x"});
  EXPECT_EQ(integers_of(take(2)), (Integers{-2, 0}));
  EXPECT_EQ(test::type_of(redis(), keys_.lease()), "none");
  // Holding the lease and a window: both go.
  redis().command({"SET", keys_.lease(), kMe, "PX", "60000"});
  redis().command({"HSET", keys_.window(), "n", "1", "by", kMe, "suspect", "0"});
  EXPECT_EQ(integers_of(take(2)), (Integers{-2, 0}));
  EXPECT_EQ(test::type_of(redis(), keys_.lease()), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
}

TEST_F(LeaseScriptsTest, TakeCountsTheWindowADeadHolderLeftAndHandsItOutOneAtATime) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  redis().command({"HSET", keys_.window(), "n", "2", "by", "gone|t0", "suspect", "0"});
  EXPECT_EQ(integers_of(take(10)), (Integers{1, 0}));
  EXPECT_EQ(window("n"), "1");
  EXPECT_EQ(window("by"), kMe);
  EXPECT_EQ(window("suspect"), "2");
  EXPECT_EQ(redis().command({"HGET", keys_.deliveries(), test::sha1_hex("a")}).str, "1");
}

TEST_F(LeaseScriptsTest, TakeDeadLettersSuspectsAtMaxDeliveriesAndGoesOn) {
  const std::string not_utf8("\xc3(", 2);
  redis().rpush_many(keys_.pending, {not_utf8, "b", "c"});
  redis().command({"HSET", keys_.window(), "n", "1", "by", "gone|t0", "suspect", "1"});
  redis().command({"HSET", keys_.deliveries(), test::sha1_hex(not_utf8), "2"});
  EXPECT_EQ(integers_of(take(10)), (Integers{2, 1}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"b", "c"}));
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
  const Strings dead = redis().lrange(keys_.dead());
  ASSERT_EQ(dead.size(), 1u);
  DeadLetter decoded;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(dead[0], &decoded, &error)) << error << ": " << dead[0];
  EXPECT_EQ(decoded.message, not_utf8);
  EXPECT_EQ(decoded.reason, letter_.reason);
  EXPECT_EQ(window("n"), "2");
  EXPECT_EQ(window("suspect"), "0");
}

TEST_F(LeaseScriptsTest, TakeClampsACorruptWindowAndAnswersTheValuesItFound) {
  redis().rpush_many(keys_.pending, {"a", "b"});
  redis().command({"HSET", keys_.window(), "n", "99", "by", kMe, "suspect", "-4"});
  test::Reply r = take(10);
  ASSERT_EQ(r.elements.size(), 4u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), 2);
  EXPECT_EQ(integer_of(r.elements[1]), 0);
  EXPECT_EQ(r.elements[2].str, "99");
  EXPECT_EQ(r.elements[3].str, "-4");
  redis().command({"HSET", keys_.window(), "n", "nan", "by", "gone|t0", "suspect", "x"});
  r = take(10);
  ASSERT_EQ(r.elements.size(), 4u) << r.describe();
  EXPECT_EQ(integer_of(r.elements[0]), 2);  // n read as 0: a fresh window
  EXPECT_EQ(r.elements[2].str, "nan");
  EXPECT_EQ(window("n"), "2");
  EXPECT_EQ(window("suspect"), "0");
}

TEST_F(LeaseScriptsTest, TakeRemovesOneLaravelTokenPerMessageBeyondThoseConsumed) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  redis().rpush_many("notify", {"1", "1", "1"});
  Strings keys = take_keys();
  keys.push_back("notify");
  EXPECT_EQ(integers_of(eval(redis(), lua::kLeaseTake, keys, take_args(3, "", 1))),
            (Integers{3, 0}));
  EXPECT_EQ(redis().llen("notify"), 1);
}

// --- lease_ack.lua (and the ack_writes.lua fragment it includes)

TEST_F(LeaseScriptsTest, AckTrimsTheWindowWithItsWritesAndCounts) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  redis().command({"HSET", keys_.deliveries(), test::sha1_hex("a"), "1"});
  Strings args = ack_args(2, "a", "b");
  args.insert(args.end(), {"0", "0", "1", "d1", "1000", "r1"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), 1);
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"c"}));
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"d1"}));
  EXPECT_EQ(redis().command({"ZSCORE", keys_.retry(), "r1"}).str, "1000");
  EXPECT_EQ(test::type_of(redis(), keys_.deliveries()), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
}

TEST_F(LeaseScriptsTest, AckWithTheArchiveOnArchivesTheWindowInOrder) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  Strings args = ack_args(2, "a", "b");
  args.insert(args.end(), {"60000", "100", "0"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), 1);
  EXPECT_EQ(test::archived_messages(redis(), keys_.archive()), (Strings{"a", "b"}));
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"c"}));
}

TEST_F(LeaseScriptsTest, AckKeepsTheRemainingSuspectCountOfADeadHoldersWindow) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  redis().command({"HSET", keys_.window(), "n", "2", "by", "gone|t0", "suspect", "0"});
  ASSERT_EQ(integers_of(take(10)), (Integers{1, 0}));
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(1, "a", "a", 1, "b", "b"))),
      1);
  EXPECT_EQ(window("n"), "0");
  EXPECT_EQ(window("by"), "");
  EXPECT_EQ(window("suspect"), "1");
}

TEST_F(LeaseScriptsTest, AckIsRefusedWithoutWritingWhenTheLeaseOrWindowIsNotOurs) {
  redis().rpush_many(keys_.pending, {"a", "b"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  Strings args = ack_args(2, "a", "b");
  args.insert(args.end(), {"0", "0", "1", "d1", "1000", "r1"});
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "60000"});
  std::string before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), 0);
  EXPECT_EQ(snapshot(), before);
  redis().command({"SET", keys_.lease(), kMe, "PX", "60000"});
  redis().command({"HSET", keys_.window(), "by", "other|t9"});
  before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), 0);
  EXPECT_EQ(snapshot(), before);
  redis().command({"HSET", keys_.window(), "by", kMe, "n", "1"});
  before = snapshot();
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), 0);
  EXPECT_EQ(snapshot(), before);
}

TEST_F(LeaseScriptsTest, AckDropsTheWindowAndTrimsNothingWhenTheHeadOfKChanged) {
  redis().rpush_many(keys_.pending, {"a", "b"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  redis().command({"LPOP", keys_.pending});
  redis().rpush(keys_.pending, "c");
  Strings args = ack_args(2, "a", "b", 1, "c", "c");
  args.insert(args.end(), {"0", "0", "1", "d1", "1000", "r1"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), args)), -1);
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"b", "c"}));
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.dead()), "none");
  EXPECT_EQ(test::type_of(redis(), keys_.retry()), "none");
}

TEST_F(LeaseScriptsTest, AckRecordsTheMessagesReadAheadAsTheNextWindow) {
  redis().rpush_many(keys_.pending, {"a", "b", "c", "d", "e"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  redis().command({"PEXPIRE", keys_.lease(), "1000"});
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(2, "a", "b", 2, "c", "d"))),
      2);
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"c", "d", "e"}));
  EXPECT_EQ(window("n"), "2");
  EXPECT_EQ(window("by"), kMe);
  EXPECT_EQ(window("suspect"), "0");
  EXPECT_GT(test::pttl(redis(), keys_.lease()), 1000);  // renewed, as a take renews it
  // The next window is acked like a taken one.
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(2, "c", "d"))), 1);
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"e"}));
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
}

TEST_F(LeaseScriptsTest, AckTrimsTheNotifyTokensOfTheNextWindow) {
  redis().rpush_many(keys_.pending, {"a", "b", "c"});
  redis().rpush_many("notify", {"1", "1", "1"});
  Strings keys = take_keys();
  keys.push_back("notify");
  ASSERT_EQ(integers_of(eval(redis(), lua::kLeaseTake, keys, take_args(1))), (Integers{1, 0}));
  EXPECT_EQ(redis().llen("notify"), 2);
  keys = ack_keys();
  keys.push_back("notify");
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseAck, keys, plain_ack(1, "a", "a", 2, "b", "c"))),
            2);
  EXPECT_EQ(redis().llen("notify"), 0);
}

TEST_F(LeaseScriptsTest, AckRecordsNoNextWindowUnlessItIsStillAtTheHead) {
  // Read ahead "c".."d", but the head no longer matches (someone popped "c"): acked, no window.
  redis().rpush_many(keys_.pending, {"a", "b", "c", "d", "e"});
  ASSERT_EQ(integers_of(take(2)), (Integers{2, 0}));
  redis().command({"LREM", keys_.pending, "1", "c"});
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(2, "a", "b", 2, "c", "d"))),
      1);
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"d", "e"}));
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
  // The last message read ahead is no longer at m-1.
  redis().rpush_many(keys_.pending, {"f"});
  ASSERT_EQ(integers_of(take(1)), (Integers{1, 0}));
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(1, "d", "d", 2, "e", "x"))),
      1);
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
  // `delivery: inflight` lists registered meanwhile: the modes must not mix.
  ASSERT_EQ(integers_of(take(1)), (Integers{1, 0}));
  redis().command({"HSET", keys_.owners(), "q:inflight:x:0", "x"});
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kLeaseAck, ack_keys(), plain_ack(1, "e", "e", 1, "f", "f"))),
      1);
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
  EXPECT_EQ(redis().lrange(keys_.pending), (Strings{"f"}));
}

// --- lease_drop_window.lua

TEST_F(LeaseScriptsTest, DropWindowDropsOnlyItsOwnWindow) {
  redis().command({"HSET", keys_.window(), "n", "2", "by", "other|t9", "suspect", "0"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseDropWindow, {keys_.window()}, {kMe})), 0);
  EXPECT_EQ(window("by"), "other|t9");
  redis().command({"HSET", keys_.window(), "by", kMe});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseDropWindow, {keys_.window()}, {kMe})), 1);
  EXPECT_EQ(test::type_of(redis(), keys_.window()), "none");
}

// --- lease_renew.lua

TEST_F(LeaseScriptsTest, RenewExtendsOnlyItsOwnLease) {
  redis().command({"SET", keys_.lease(), kMe, "PX", "1000"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseRenew, {keys_.lease()}, {kMe, "60000"})), 1);
  EXPECT_GT(test::pttl(redis(), keys_.lease()), 1000);
  redis().command({"SET", keys_.lease(), "other|t9", "PX", "1000"});
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseRenew, {keys_.lease()}, {kMe, "60000"})), 0);
  EXPECT_LE(test::pttl(redis(), keys_.lease()), 1000);
  redis().del(keys_.lease());
  EXPECT_EQ(integer_of(eval(redis(), lua::kLeaseRenew, {keys_.lease()}, {kMe, "60000"})), 0);
  EXPECT_EQ(test::type_of(redis(), keys_.lease()), "none");
}

}  // namespace
}  // namespace switchyard
