// unpark_retries_script_test.cc: unpark_retries.lua (daemon/lua), run with EVAL against a private
// redis-server: the deliveries parked for the handlers it names become due now; those of other
// handlers, at their own or at a colliding score, stay parked.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/lua/scripts.h"
#include "dispatch/pause.h"
#include "records/retry_entry.h"
#include "support/lua_eval.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

std::string member(const std::string& handler, const std::string& message) {
  RetryEntry e;
  e.handler = handler;
  e.message = message;
  return encode_retry_entry(e);
}

double score_of(test::RedisClient& redis, const std::string& m) {
  return std::stod(redis.command({"ZSCORE", "q:retry", m}).str);
}

TEST(UnparkRetriesScriptTest, MakesTheNamedHandlersDeliveriesDueAndLeavesTheOthers) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  const std::string audit = std::to_string(parked_score("audit"));
  const std::string quotes = std::to_string(parked_score("quotes_db"));
  const std::string a1 = member("audit", "m1|with|bars"), a2 = member("audit", "m2");
  const std::string q1 = member("quotes_db", "m3");
  const std::string intruder = member("other", "m4");  // at audit's score: a hash collision
  for (const auto& [score, m] : std::vector<std::pair<std::string, std::string>>{
           {audit, a1}, {audit, a2}, {quotes, q1}, {audit, intruder}})
    redis.command({"ZADD", "q:retry", score, m});

  test::Reply now = redis.command({"TIME"});
  const double now_ms = std::stod(now.elements.at(0).str) * 1000;
  EXPECT_EQ(test::integer_of(
                test::eval(redis, lua::kUnparkRetries, {"q:retry"}, {"100", audit, "audit"})),
            2);
  for (const std::string& m : {a1, a2}) {
    EXPECT_GE(score_of(redis, m), now_ms);
    EXPECT_LT(score_of(redis, m), now_ms + 60000);
  }
  EXPECT_EQ(score_of(redis, q1), static_cast<double>(parked_score("quotes_db")));
  EXPECT_EQ(score_of(redis, intruder), static_cast<double>(parked_score("audit")));
  // Nothing left to move; the limit applies per handler.
  EXPECT_EQ(test::integer_of(
                test::eval(redis, lua::kUnparkRetries, {"q:retry"}, {"100", audit, "audit"})),
            0);
  EXPECT_EQ(test::integer_of(
                test::eval(redis, lua::kUnparkRetries, {"q:retry"}, {"0", quotes, "quotes_db"})),
            0);
  EXPECT_EQ(test::integer_of(test::eval(redis, lua::kUnparkRetries, {"q:retry"},
                                        {"1", quotes, "quotes_db", audit, "audit"})),
            1);
  EXPECT_LT(score_of(redis, q1), now_ms + 60000);
  EXPECT_EQ(redis.command({"ZCARD", "q:retry"}).integer, 4);
}

}  // namespace
}  // namespace switchyard
