// key_types_script_test.cc: heal_key_types.lua (source/lua), run with EVAL against a private
// redis-server: keys another writer left with the wrong type are renamed aside, K never is.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "source/lua/scripts.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using test::eval;
using Strings = std::vector<std::string>;

TEST(HealKeyTypesScriptTest, RenamesWrongTypeKeysAsideAndReportsEachMismatch) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  redis.command({"SET", "q", "not a list"});
  redis.command({"SET", "q:retry", "not a zset"});
  redis.rpush("q:dead", "a letter");                  // right type: left alone
  redis.command({"HSET", "q:deliveries", "h", "1"});  // right type: left alone
  test::Reply r =
      eval(redis, lua::kHealKeyTypes, {"q", "q:dead", "q:retry", "q:deliveries", "q:lease"},
           {"list", "list", "zset", "hash", "string", "q:quarantine:", "T"});
  ASSERT_EQ(r.elements.size(), 2u) << r.describe();
  EXPECT_EQ(test::strings_of(r.elements[0]), (Strings{"q", "string", "list", ""}));
  EXPECT_EQ(test::strings_of(r.elements[1]),
            (Strings{"q:retry", "string", "zset", "q:quarantine:retry:T"}));
  EXPECT_EQ(test::type_of(redis, "q"), "string");
  EXPECT_EQ(test::type_of(redis, "q:retry"), "none");
  EXPECT_EQ(redis.command({"GET", "q:quarantine:retry:T"}).str, "not a zset");
  EXPECT_EQ(redis.lrange("q:dead"), (Strings{"a letter"}));
  EXPECT_EQ(test::type_of(redis, "q:deliveries"), "hash");
}

TEST(HealKeyTypesScriptTest, AnswersNothingWhenEveryKeyIsRightOrMissing) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  redis.rpush("q", "m");
  test::Reply r =
      eval(redis, lua::kHealKeyTypes, {"q", "q:retry"}, {"list", "zset", "q:quarantine:", "T"});
  ASSERT_EQ(r.type, test::Reply::Type::kArray) << r.describe();
  EXPECT_TRUE(r.elements.empty());
}

}  // namespace
}  // namespace switchyard
