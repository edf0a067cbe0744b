// trim_dead_script_test.cc: trim_dead.lua (daemon/lua), run with EVAL against a private
// redis-server: K:dead keeps its newest letters up to the limit, and none older than the cutoff.
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

// A dead letter as encode_dead_letter writes it: the message first, failed_at after it.
std::string letter(const std::string& message_json, const std::string& failed_at) {
  return "{\"message\":" + message_json + ",\"source\":\"q\",\"handler\":null,\"reason\":\"r\"," +
         "\"attempts\":1,\"failed_at\":\"" + failed_at + "\",\"instance\":\"h:1\"}";
}

TEST(TrimDeadScriptTest, DropsLettersOlderThanTheCutoffFromTheHead) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  const Strings letters = {
      letter("\"a\"", "2026-12-01T00:00:00.000Z"), letter("\"b\"", "2026-12-02T00:00:00.000Z"),
      // Its message holds an older failed_at, as text: the letter's own field decides.
      letter(R"("{\"failed_at\":\"2000-01-01T00:00:00.000Z\"}")", "2026-12-03T00:00:00.000Z"),
      letter("\"d\"", "2026-12-02T12:00:00.000Z")};
  redis.rpush_many("q:dead", letters);
  // No cutoff: the count alone.
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"}, {"10", ""})), 0);
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"},
                                        {"10", "2026-12-02T12:00:00.000Z", "1000"})),
            2);
  // From the head only: an older letter behind a newer one waits until it reaches the head.
  EXPECT_EQ(redis.lrange("q:dead"), (Strings{letters[2], letters[3]}));
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"},
                                        {"10", "2026-12-03T00:00:00.001Z", "1"})),
            1)
      << "at most ARGV[3] per call";
  EXPECT_EQ(redis.lrange("q:dead"), (Strings{letters[3]}));
}

TEST(TrimDeadScriptTest, AgeStopsAtAnElementWithoutFailedAt) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  redis.rpush_many("q:dead", {"not a letter", letter("\"a\"", "2026-12-01T00:00:00.000Z")});
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"},
                                        {"10", "2026-12-05T00:00:00.000Z", "1000"})),
            0);
  EXPECT_EQ(redis.llen("q:dead"), 2);
  // The count cap still drops it.
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kTrimDead, {"q:dead"},
                                        {"1", "2026-12-05T00:00:00.000Z", "1000"})),
            2);
  EXPECT_EQ(redis.llen("q:dead"), 0);
}

}  // namespace
}  // namespace switchyard
