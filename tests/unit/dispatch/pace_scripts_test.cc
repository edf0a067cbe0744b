// pace_scripts_test.cc: the pace scripts (dispatch/lua), run with EVAL against a private
// redis-server. token_bucket.lua: a new bucket starts full, grants at most what it holds, refills
// by Redis's clock up to its capacity, computes the wait for the next token, ignores a clock that
// went back, expires once it would be full again, and starts over from state it cannot read.
// call_slot.lua: at most `limit` holders, slots given back or lapsed are free again.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "dispatch/lua/scripts.h"
#include "dispatch/pace.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

constexpr char kBucket[] = "{q}:pace";

class TokenBucketScriptTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    redis_ = std::make_unique<test::RedisClient>(server_.client());
  }

  // {granted, wait, now} for `wanted` tokens of rate/period ms with capacity.
  std::vector<int64_t> take(int64_t rate, int64_t period, int64_t capacity, int64_t wanted) {
    return test::integers_of(test::eval(*redis_, lua::kTokenBucket, {kBucket},
                                        {std::to_string(rate), std::to_string(period),
                                         std::to_string(capacity), std::to_string(wanted)}));
  }
  int64_t redis_now_ms() {
    test::Reply now = redis_->command({"TIME"});
    return std::stoll(now.elements.at(0).str) * 1000 + std::stoll(now.elements.at(1).str) / 1000;
  }
  double tokens() { return std::stod(redis_->command({"HGET", kBucket, "tokens"}).str); }
  void set_state(const std::string& tokens, int64_t at) {
    redis_->command({"HSET", kBucket, "tokens", tokens, "at", std::to_string(at)});
  }

  test::RedisServer server_;
  std::unique_ptr<test::RedisClient> redis_;
};

TEST_F(TokenBucketScriptTest, ANewBucketIsFullAndGrantsAtMostItsCapacity) {
  std::vector<int64_t> r = take(1000, 1000, 100, 256);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], 100);
  EXPECT_EQ(r[1], 1);  // empty: the next token comes in one ms at 1000/s
  EXPECT_NEAR(static_cast<double>(r[2]), static_cast<double>(redis_now_ms()), 5000);
  EXPECT_LT(tokens(), 1.0);
}

TEST_F(TokenBucketScriptTest, AskingForNothingTakesNothingAndWaitsForNothing) {
  std::vector<int64_t> r = take(10, 1000, 5, 0);
  EXPECT_EQ(r[0], 0);
  EXPECT_EQ(r[1], 0);
  EXPECT_DOUBLE_EQ(tokens(), 5.0);
}

TEST_F(TokenBucketScriptTest, GrantsWhatItHoldsAndComputesTheWaitForTheNextToken) {
  // 10 tokens per second: 2.5 tokens left at `now` (set in the future so no refill counts).
  const int64_t future = redis_now_ms() + 60000;
  set_state("2.5", future);
  std::vector<int64_t> r = take(10, 1000, 5, 4);
  EXPECT_EQ(r[0], 2);
  EXPECT_EQ(r[1], 50);  // half a token missing at 100 ms per token
  EXPECT_DOUBLE_EQ(tokens(), 0.5);
  // The clock went back (at is ahead of TIME): nothing refills and `at` stays.
  EXPECT_EQ(redis_->command({"HGET", kBucket, "at"}).str, std::to_string(future));
  r = take(10, 1000, 5, 1);
  EXPECT_EQ(r[0], 0);
  EXPECT_EQ(r[1], 50);
}

TEST_F(TokenBucketScriptTest, RefillsByRedisClockUpToItsCapacity) {
  set_state("0", redis_now_ms() - 300);  // 300 ms ago at 10/s: 3 tokens since (a few more ms)
  std::vector<int64_t> r = take(10, 1000, 5, 5);
  EXPECT_GE(r[0], 3);
  EXPECT_LE(r[0], 4);                            // only a slow machine adds a fourth
  set_state("0", redis_now_ms() - 3600 * 1000);  // an hour: capped at the capacity
  r = take(10, 1000, 5, 100);
  EXPECT_EQ(r[0], 5);
  EXPECT_GE(r[1], 1);
}

TEST_F(TokenBucketScriptTest, ExpiresOnceItWouldBeFullAgain) {
  take(1, 10000, 5, 5);  // empty at one token per 10 s: full again in 50 s, kept a second longer
  const int64_t ttl = test::pttl(*redis_, kBucket);
  EXPECT_GT(ttl, 40000);
  EXPECT_LE(ttl, 51000);
}

TEST_F(TokenBucketScriptTest, StateItCannotReadStartsAFullBucket) {
  set_state("not a number", 5);
  EXPECT_EQ(take(10, 1000, 5, 100)[0], 5);
  redis_->command({"HSET", kBucket, "tokens", "nan"});
  EXPECT_EQ(take(10, 1000, 5, 100)[0], 5);
  redis_->command({"DEL", kBucket});
  redis_->command({"SET", kBucket, "x"});  // another type: an error reply, nothing granted
  test::Reply r = test::eval(*redis_, lua::kTokenBucket, {kBucket}, {"10", "1000", "5", "1"});
  EXPECT_TRUE(r.is_error()) << r.describe();
}

TEST(PaceKeysTest, BucketsCarryTheSourcesKeyAndHoldATenthOfASecond) {
  EXPECT_EQ(source_bucket_key("{q}"), "{q}:pace");
  EXPECT_EQ(handler_bucket_key("{q}", "audit"), "{q}:pace:handler:audit");
  EXPECT_EQ(handler_slots_key("{q}", "audit"), "{q}:slots:handler:audit");
  EXPECT_EQ(rate_text(Rate{2000, Millis(1000)}), "2000/s");
  EXPECT_EQ(rate_text(Rate{30, Millis(60000)}), "30/m");
  EXPECT_EQ(bucket_capacity(Rate{1000, Millis(1000)}), 100);
  EXPECT_EQ(bucket_capacity(Rate{5, Millis(1000)}), 1);
  EXPECT_EQ(bucket_capacity(Rate{60000, Millis(60000)}), 100);
}

TEST(CallSlotScriptTest, HandsOutAtMostTheLimitAndFreesGivenBackAndLapsedSlots) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  const std::string key = "{q}:slots:handler:audit";
  auto take = [&](const std::string& limit, const std::string& lease, const std::string& holder) {
    return test::integers_of(test::eval(redis, lua::kCallSlot, {key}, {limit, lease, holder}));
  };
  EXPECT_EQ(take("2", "60000", "a"), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(take("2", "60000", "b"), (std::vector<int64_t>{1, 0}));
  std::vector<int64_t> full = take("2", "60000", "c");
  EXPECT_EQ(full[0], 0);
  EXPECT_GT(full[1], 50000);  // until a's lease ends
  EXPECT_LE(full[1], 60000);
  EXPECT_GT(test::pttl(redis, key), 60000);  // the set outlives its last lease
  redis.command({"ZREM", key, "a"});         // a gives its slot back (Pacer::give_slot)
  EXPECT_EQ(take("2", "60000", "c")[0], 1);
  EXPECT_EQ(take("2", "60000", "d")[0], 0);
  // A crashed holder's slot frees itself at its lease end.
  redis.command({"ZADD", key, "1", "b"});
  EXPECT_EQ(take("2", "60000", "d")[0], 1);
  EXPECT_EQ(redis.command({"ZSCORE", key, "b"}).type, test::Reply::Type::kNil);
  EXPECT_EQ(redis.command({"ZCARD", key}).integer, 2);
}

}  // namespace
}  // namespace switchyard
