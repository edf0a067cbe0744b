// dlq_scripts_test.cc: the `switchyard dlq` scripts (console/lua/dlq_*.lua), run with EVAL against
// a private redis-server: a replay queues the message and removes its letter in one step, a purge
// removes only what was listed.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "console/lua/scripts.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using test::eval;
using test::integer_of;
using Strings = std::vector<std::string>;

class DlqScriptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
    redis().rpush_many("q:dead", {"L1", "L2", "L1"});
  }
  test::RedisClient& redis() { return *client_; }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
};

// --- dlq_replay.lua

TEST_F(DlqScriptsTest, ReplayToAListRemovesOneCopyOfTheLetterAndPushesTheMessage) {
  EXPECT_EQ(integer_of(eval(redis(), lua::kDlqReplay, {"q:dead", "q"}, {"L1", "list", "0", "m1"})),
            1);
  EXPECT_EQ(redis().lrange("q:dead"), (Strings{"L2", "L1"}));
  EXPECT_EQ(redis().lrange("q"), (Strings{"m1"}));
}

TEST_F(DlqScriptsTest, ReplayToAStreamAddsAnEntryWithTheMessageField) {
  EXPECT_EQ(
      integer_of(eval(redis(), lua::kDlqReplay, {"q:dead", "q"}, {"L2", "stream", "0", "m2"})), 1);
  test::Reply entries = redis().command({"XRANGE", "q", "-", "+"});
  ASSERT_EQ(entries.elements.size(), 1u) << entries.describe();
  EXPECT_EQ(test::strings_of(entries.elements[0].elements.at(1)), (Strings{"message", "m2"}));
}

TEST_F(DlqScriptsTest, ReplayToTheRetryScheduleAddsTheMemberAtTheScore) {
  EXPECT_EQ(integer_of(eval(redis(), lua::kDlqReplay, {"q:dead", "q:retry"},
                            {"L2", "retry", "1234", "v1|0|m"})),
            1);
  EXPECT_EQ(redis().command({"ZSCORE", "q:retry", "v1|0|m"}).str, "1234");
  EXPECT_EQ(redis().lrange("q:dead"), (Strings{"L1", "L1"}));
}

TEST_F(DlqScriptsTest, ReplayOfALetterThatIsGoneWritesNothing) {
  EXPECT_EQ(integer_of(eval(redis(), lua::kDlqReplay, {"q:dead", "q"}, {"L9", "list", "0", "m"})),
            0);
  EXPECT_EQ(test::type_of(redis(), "q"), "none");
  EXPECT_EQ(redis().llen("q:dead"), 3);
}

// --- dlq_purge_listed.lua

TEST_F(DlqScriptsTest, PurgeRemovesTheListedHeadAndKeepsLettersPushedSince) {
  redis().rpush("q:dead", "L4");
  EXPECT_EQ(integer_of(eval(redis(), lua::kDlqPurgeListed, {"q:dead"}, {"2", "L1", "L2"})), 2);
  EXPECT_EQ(redis().lrange("q:dead"), (Strings{"L1", "L4"}));
}

TEST_F(DlqScriptsTest, PurgeRemovesNothingWhenTheHeadChangedSinceTheListing) {
  redis().command({"LPOP", "q:dead"});  // the daemon trimmed the oldest meanwhile
  EXPECT_EQ(integer_of(eval(redis(), lua::kDlqPurgeListed, {"q:dead"}, {"2", "L1", "L2"})), -1);
  EXPECT_EQ(redis().lrange("q:dead"), (Strings{"L2", "L1"}));
}

}  // namespace
}  // namespace switchyard
