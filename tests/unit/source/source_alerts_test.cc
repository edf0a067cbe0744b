// source_alerts_test.cc: raise_alert records one line per code in K:alerts (time first, newest
// wins) against a private redis-server.
#include "source/source_alerts.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

TEST(SourceAlertsTest, RecordsOneTimestampedLinePerCodeAndTheNewestWins) {
  test::RedisServer server;
  server.start();
  RedisEndpoint endpoint;
  std::string error;
  ASSERT_TRUE(parse_redis_url(server.url(), &endpoint, &error)) << error;
  RedisConnection connection(endpoint, "test");
  ASSERT_TRUE(connection.connect().is_ok());
  SourceKeys keys("events");
  test::RedisClient client = server.client();

  ASSERT_TRUE(raise_alert(&connection, keys, "inflight_foreign", "first; do this").is_ok());
  ASSERT_TRUE(raise_alert(&connection, keys, "group_lost", "other; do that").is_ok());
  ASSERT_TRUE(raise_alert(&connection, keys, "inflight_foreign", "second; do this").is_ok());

  EXPECT_EQ(client.command({"HLEN", "events:alerts"}).integer, 2);
  const std::string line = client.command({"HGET", "events:alerts", "inflight_foreign"}).str;
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z second; do this)")))
      << line;

  // A K:alerts of the wrong type is reported, not hidden.
  client.command({"DEL", "events:alerts"});
  client.command({"SET", "events:alerts", "x"});
  Status s = raise_alert(&connection, keys, "inflight_foreign", "third; do this");
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("WRONGTYPE"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace switchyard
