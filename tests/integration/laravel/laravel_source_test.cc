// laravel_source_test.cc: format laravel against a real producer (php-cli + phpredis running
// Laravel's push script by EVAL), both connection prefix styles, Horizon payloads, job payloads.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <filesystem>

#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

const std::string kPushScript =
    std::string(SWITCHYARD_SOURCE_DIR) + "/tests/integration/laravel/laravel_push.php";

// Runs the PHP producer; fails the test if it does not push.
void php_push(const RedisServer& redis, const std::string& prefix, const std::string& queue,
              int first_id, int count, const std::string& kind) {
  CommandResult r = run_command({"php", kPushScript, redis.socket_path(), prefix, queue,
                                 std::to_string(first_id), std::to_string(count), kind},
                                120s);
  ASSERT_EQ(r.exit_code, 0) << r;
}

std::string laravel_config(const RedisServer& redis, const std::string& db) {
  return "version: 1\n"
         "redis: { url: \"" +
         redis.url() +
         "\" }\n"
         "plugins_dir: \"" SWITCHYARD_PLUGIN_DIR
         "\"\n"
         "sources:\n"
         "  old_style: { format: laravel, prefix: laravel_database_, key: analytics,"
         " reclaim_after: 2s }\n"
         "  new_style: { format: laravel, prefix: laravel-database-, key: analytics,"
         " reclaim_after: 2s }\n"
         "handlers:\n"
         "  users_db: { plugin: user_registered_sink, config: { database: \"" +
         db +
         "\" } }\n"
         "  quotes_db: { plugin: quote_created_sink, config: { database: \"" +
         db +
         "\" } }\n"
         "routes:\n"
         "  user.registered: [users_db]\n"
         "  quote.created: [quotes_db]\n";
}

TEST(LaravelSource, ConsumesPushRawFromBothPrefixStylesAndLeavesNotifyEmpty) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string db = dir.file("analytics.db");
  const std::string config = dir.write("routes.yaml", laravel_config(redis, db));
  RedisClient client = redis.client();

  // Producers first, Switchyard later: the backlog waits in Redis.
  php_push(redis, "laravel_database_", "analytics", 0, 4000, "raw");
  php_push(redis, "laravel-database-", "analytics", 4000, 4000, "raw");
  // The producer's keys are where Laravel puts them.
  ASSERT_EQ(client.llen("laravel_database_queues:analytics"), 4000);
  ASSERT_EQ(client.llen("laravel_database_queues:analytics:notify"), 4000);
  ASSERT_EQ(client.llen("laravel-database-queues:analytics"), 4000);

  CommandResult check = SwitchyardProcess::exec({"check", "-c", config});
  ASSERT_EQ(check.exit_code, 0) << check;
  EXPECT_NE(check.out.find("laravel_database_queues:analytics"), std::string::npos) << check;

  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  // Then live traffic, including Horizon-shaped payloads and job payloads.
  php_push(redis, "laravel_database_", "analytics", 8000, 1000, "horizon");
  php_push(redis, "laravel-database-", "analytics", 9000, 1000, "raw");
  php_push(redis, "laravel-database-", "analytics", 20000, 3, "job");

  ASSERT_TRUE(
      wait_until([&] { return count_rows(db, "user_registrations") == 5000; }, 60s, "5000 users"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return count_rows(db, "quotes") == 5000; }, 60s, "5000 quotes"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return client.llen("laravel-database-queues:analytics:dead") == 3; },
                         30s, "3 job payloads dead-lettered"))
      << daemon.log_tail();

  for (const std::string& dead : client.lrange("laravel-database-queues:analytics:dead")) {
    rapidjson::Document doc;
    doc.Parse(dead.c_str());
    ASSERT_TRUE(doc.IsObject()) << dead;
    std::string reason = doc["reason"].GetString();
    EXPECT_NE(reason.find("App\\Jobs\\SendWelcomeMail"), std::string::npos) << reason;
    EXPECT_NE(reason.find("pushRaw"), std::string::npos) << reason;
  }
  EXPECT_EQ(client.llen("laravel_database_queues:analytics:dead"), 0);
  for (const char* prefix : {"laravel_database_", "laravel-database-"}) {
    std::string queue = std::string(prefix) + "queues:analytics";
    EXPECT_EQ(client.llen(queue), 0) << queue;
    EXPECT_TRUE(wait_until([&] { return client.llen(queue + ":notify") == 0; }, 5s,
                           queue + ":notify to be empty"));
  }
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

TEST(LaravelSource, ClusterHashTagAndPublishWritesNotifyTokens) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string config = dir.write(
      "routes.yaml",
      "version: 1\n"
      "redis: { url: \"" +
          redis.url() +
          "\" }\n"
          "plugins_dir: \"" SWITCHYARD_PLUGIN_DIR
          "\"\n"
          "sources:\n"
          "  q: { format: laravel, prefix: \"\", key: analytics, cluster_hash_tag: true }\n"
          "handlers:\n"
          "  quotes_db: { plugin: quote_created_sink, config: { database: db.sqlite } }\n"
          "routes:\n"
          "  quote.created: [quotes_db]\n");
  CommandResult r =
      SwitchyardProcess::exec({"publish", "-c", config, "quote.created",
                               R"({"quote_id":1,"user_id":2,"product_id":3,"qty":4})"});
  ASSERT_EQ(r.exit_code, 0) << r;
  RedisClient client = redis.client();
  EXPECT_EQ(client.llen("queues:{analytics}"), 1);
  EXPECT_EQ(client.llen("queues:{analytics}:notify"), 1);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until([&] { return count_rows(dir.file("db.sqlite"), "quotes") == 1; }, 20s,
                         "the quote"))
      << daemon.log_tail();
  EXPECT_TRUE(wait_until([&] { return client.llen("queues:{analytics}:notify") == 0; }, 5s,
                         "notify empty"));
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
