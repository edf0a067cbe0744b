// unpark_retries_script_test.cc: unpark_retries.lua (daemon/lua), run with EVAL against a private
// redis-server: every delivery parked for a handler it does not name as still paused becomes due
// now; those of the paused handlers, at their own or at a colliding score, stay parked.
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

// Every parked delivery whose handler is not named as still paused becomes due: those of a
// resumed handler and those of a handler no longer configured alike; the paused one's stay, and
// so does another handler's delivery that collides with its score.
TEST(UnparkRetriesScriptTest, MakesDueEveryParkedDeliveryOfAHandlerNoLongerPaused) {
  test::RedisServer server;
  server.start();
  test::RedisClient redis = server.client();
  const std::string audit = std::to_string(parked_score("audit"));
  const std::string quotes = std::to_string(parked_score("quotes_db"));
  const std::string removed = std::to_string(parked_score("removed_sink"));
  const std::string a1 = member("audit", "m1|with|bars"), a2 = member("audit", "m2");
  const std::string q1 = member("quotes_db", "m3");
  const std::string intruder = member("other", "m4");  // at audit's score: a hash collision
  const std::string r1 = member("removed_sink", "m5"), r2 = member("removed_sink", "m6");
  const std::string due_later = member("quotes_db", "m7");  // an ordinary retry: not parked
  for (const auto& [score, m] :
       std::vector<std::pair<std::string, std::string>>{{audit, a1},
                                                        {audit, a2},
                                                        {quotes, q1},
                                                        {audit, intruder},
                                                        {removed, r1},
                                                        {removed, r2},
                                                        {"1700000000000", due_later}})
    redis.command({"ZADD", "q:retry", score, m});

  test::Reply now = redis.command({"TIME"});
  const double now_ms = std::stod(now.elements.at(0).str) * 1000;
  auto unpark = [&](std::vector<std::string> args) {
    return test::integer_of(test::eval(redis, lua::kUnparkRetries, {"q:retry"}, args));
  };
  // audit and quotes_db stay paused: removed_sink's deliveries move, and the colliding one
  // moves too when it, not one of audit's, comes first at that score (members at one score sort
  // by their random nonce).
  const int64_t first = unpark({"100", "audit", "quotes_db"});
  EXPECT_TRUE(first == 2 || first == 3) << first;
  for (const std::string& m : {r1, r2}) {
    EXPECT_GE(score_of(redis, m), now_ms);
    EXPECT_LT(score_of(redis, m), now_ms + 60000);
  }
  EXPECT_EQ(score_of(redis, q1), static_cast<double>(parked_score("quotes_db")));
  EXPECT_EQ(score_of(redis, a1), static_cast<double>(parked_score("audit")));
  EXPECT_EQ(score_of(redis, due_later), 1700000000000.0);
  // Nothing left to move while they stay paused; the limit counts members moved.
  EXPECT_EQ(unpark({"100", "audit", "quotes_db"}), 0);
  EXPECT_EQ(unpark({"0", "audit"}), 0);
  EXPECT_EQ(unpark({"1", "audit"}), 1);  // quotes_db resumed: its one delivery
  EXPECT_LT(score_of(redis, q1), now_ms + 60000);
  EXPECT_EQ(first + unpark({"100"}), 5);  // audit resumed too: its two (and the colliding one)
  for (const std::string& m : {a1, a2, intruder}) EXPECT_LT(score_of(redis, m), now_ms + 60000);
  EXPECT_EQ(redis.command({"ZCARD", "q:retry"}).integer, 7);
}

}  // namespace
}  // namespace switchyard
