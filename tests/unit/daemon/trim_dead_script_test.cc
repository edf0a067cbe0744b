// trim_dead_script_test.cc: trim_dead.lua (daemon/lua), run with EVAL against a private
// redis-server: K:dead keeps its newest letters up to the limit.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/lua/scripts.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using Strings = std::vector<std::string>;

TEST(TrimDeadScriptTest, DropsTheOldestLettersBeyondTheLimitAndAnswersHowMany) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  redis.rpush_many("q:dead", {"1", "2", "3", "4", "5"});
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"3"})), 2);
  EXPECT_EQ(redis.lrange("q:dead"), (Strings{"3", "4", "5"}));
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"3"})), 0);
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"10"})), 0);
  EXPECT_EQ(redis.llen("q:dead"), 3);
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"0"})), 3);
  EXPECT_EQ(test::type_of(redis, "q:dead"), "none");
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"3"})), 0);
}

}  // namespace
}  // namespace switchyard
