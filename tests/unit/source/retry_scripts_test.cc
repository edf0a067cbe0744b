// retry_scripts_test.cc: the K:retry scripts (source/lua/retry_*.lua), run with EVAL against a
// private redis-server: leasing by Redis's clock, a slow run of a live worker renewed rather than
// leased again, and settling only what is still scheduled.
#include <gtest/gtest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "source/lua/scripts.h"
#include "source/source.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using test::eval;
using test::integer_of;
using test::strings_of;
using Strings = std::vector<std::string>;

class RetryScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
  }

  test::RedisClient& redis() { return *client_; }
  int64_t score(const std::string& member) {
    return std::stoll(redis().command({"ZSCORE", keys_.retry(), member}).str);
  }
  // Redis's clock in unix ms.
  int64_t redis_now_ms() {
    test::Reply t = redis().command({"TIME"});
    return std::stoll(t.elements.at(0).str) * 1000 + std::stoll(t.elements.at(1).str) / 1000;
  }
  test::Reply lease(const std::string& me, int max = 10) {
    return eval(redis(), lua::kRetryLease, {keys_.retry(), keys_.retry_runners()},
                {"60000", std::to_string(max), me});
  }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  const SourceKeys keys_{"q"};
  const std::string me_ = "q:heartbeat:c\nt1\n0";
};

// --- retry_lease.lua

TEST_F(RetryScriptsTest, LeaseTakesDueEntriesCountingALeaseAndRecordsTheRunner) {
  redis().command(
      {"ZADD", keys_.retry(), "1", "v1|0|due", "1", "opaque", "99999999999999", "v1|0|later"});
  const int64_t before = redis_now_ms();
  test::Reply r = lease(me_);
  ASSERT_EQ(r.elements.size(), 3u) << r.describe();
  const int64_t now = integer_of(r.elements[0]);
  EXPECT_GE(now, before);
  EXPECT_LE(now, redis_now_ms());
  Strings leased = {r.elements[1].str, r.elements[2].str};
  std::sort(leased.begin(), leased.end());
  EXPECT_EQ(leased, (Strings{"opaque", "v1|1|due"}));
  EXPECT_EQ(score("v1|1|due"), now + 60000);
  EXPECT_EQ(score("opaque"), now + 60000);
  EXPECT_EQ(redis().zcard(keys_.retry()), 3);  // v1|0|due became v1|1|due
  EXPECT_EQ(redis().command({"HGET", keys_.retry_runners(), "v1|1|due"}).str, me_);
}

TEST_F(RetryScriptsTest, LeaseTakesAtMostMaxEntries) {
  redis().command({"ZADD", keys_.retry(), "1", "v1|0|a", "2", "v1|0|b"});
  test::Reply r = lease(me_, 1);
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(r.elements[1].str, "v1|1|a");
  EXPECT_EQ(score("v1|0|b"), 2);
}

TEST_F(RetryScriptsTest, LeaseRenewsTheEntryOfALiveWorkerInsteadOfTakingIt) {
  const std::string other = "q:heartbeat:d\nt2\n1";
  redis().command({"SET", "q:heartbeat:d", "t2"});
  redis().command({"ZADD", keys_.retry(), "1", "v1|1|slow"});
  redis().command({"HSET", keys_.retry_runners(), "v1|1|slow", other});
  test::Reply r = lease(me_);
  ASSERT_EQ(r.elements.size(), 1u) << r.describe();
  EXPECT_EQ(score("v1|1|slow"), integer_of(r.elements[0]) + 60000);
  EXPECT_EQ(redis().command({"HGET", keys_.retry_runners(), "v1|1|slow"}).str, other);
}

TEST_F(RetryScriptsTest, LeaseTakesOverTheEntryOfAGoneWorker) {
  const std::string other = "q:heartbeat:d\nt2\n1";
  redis().command({"SET", "q:heartbeat:d", "t3"});  // another run of d now: t2 is gone
  redis().command({"ZADD", keys_.retry(), "1", "v1|1|slow"});
  redis().command({"HSET", keys_.retry_runners(), "v1|1|slow", other});
  test::Reply r = lease(me_);
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(r.elements[1].str, "v1|2|slow");
  EXPECT_EQ(strings_of(redis().command({"HGETALL", keys_.retry_runners()})),
            (Strings{"v1|2|slow", me_}));
}

TEST_F(RetryScriptsTest, LeaseWithoutALivenessKeyRecordsNoRunner) {
  redis().command({"ZADD", keys_.retry(), "1", "v1|0|a"});
  test::Reply r = lease("");
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(test::type_of(redis(), keys_.retry_runners()), "none");
}

// --- retry_settle.lua

TEST_F(RetryScriptsTest, SettleRemovesReschedulesOrDeadLettersWhatIsStillScheduled) {
  redis().command({"ZADD", keys_.retry(), "5", "done", "5", "again", "5", "dead"});
  redis().command({"HSET", keys_.retry_runners(), "done", me_, "gone", me_});
  const Strings args = {"done", "done", "0", "",           "again", "retry", "7000", "v1|0|again",
                        "dead", "dead", "0", "the letter", "gone",  "retry", "9",    "v1|0|gone"};
  EXPECT_EQ(integer_of(eval(redis(), lua::kRetrySettle,
                            {keys_.retry(), keys_.dead(), keys_.retry_runners()}, args)),
            3);
  EXPECT_EQ(strings_of(redis().command({"ZRANGE", keys_.retry(), "0", "-1", "WITHSCORES"})),
            (Strings{"v1|0|again", "7000"}));
  EXPECT_EQ(redis().lrange(keys_.dead()), (Strings{"the letter"}));
  EXPECT_EQ(test::type_of(redis(), keys_.retry_runners()), "none");
}

}  // namespace
}  // namespace switchyard
