// stream_source_test.cc: type: stream end to end: kill -9 mid-stream with exact counts, two
// independent consumer groups, and a dead consumer's pending entries claimed after reclaim_after.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <thread>

#include "support/child_process.h"
#include "support/events.h"
#include "support/plugin_paths.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// A routes.yaml reading stream "events" with group `group`; the two SQLite sinks write db.
// quote.created may be routed elsewhere with quote_handler_yaml (a handler definition).
std::string stream_config(const RedisServer& redis, const std::string& plugins_dir,
                          const std::string& group, const std::string& db,
                          const std::string& extra_handlers = "",
                          const std::string& quote_route = "[quotes_db]",
                          const std::string& user_route = "[users_db]") {
  return "version: 1\n"
         "redis: { url: \"" +
         redis.url() +
         "\" }\n"
         "plugins_dir: \"" +
         plugins_dir +
         "\"\n"
         "sources:\n"
         "  events: { type: stream, key: events, group: " +
         group +
         ", start: \"0\", batch: 200, reclaim_after: 1s, max_deliveries: 5 }\n"
         "handlers:\n"
         "  users_db: { plugin: user_registered_sink, config: { database: \"" +
         db +
         "\" } }\n"
         "  quotes_db: { plugin: quote_created_sink, config: { database: \"" +
         db + "\" } }\n" + extra_handlers +
         "routes:\n"
         "  user.registered: " +
         user_route +
         "\n"
         "  quote.created: " +
         quote_route +
         "\n"
         "shutdown_timeout: 5s\n";
}

// Publishes messages as stream entries through the real CLI (XADD, field "message").
void publish(const std::string& config, const std::vector<std::string>& messages) {
  std::string lines;
  for (const auto& m : messages) lines += m + "\n";
  CommandResult r =
      SwitchyardProcess::exec({"publish", "-c", config, "--file", "-"}, 60s, {}, lines);
  ASSERT_EQ(r.exit_code, 0) << r;
}

int64_t group_pending(RedisClient& client, const std::string& group) {
  Reply r = client.command({"XPENDING", "events", group});
  return r.elements.empty() ? -1 : r.elements[0].integer;
}

TEST(StreamSource, KillNineMidStreamLosesNothing) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string db = dir.file("analytics.db");
  const std::string config =
      dir.write("routes.yaml", stream_config(redis, SWITCHYARD_PLUGIN_DIR, "analytics", db));
  RedisClient client = redis.client();
  constexpr int kTotal = 20000;
  std::vector<std::string> all = mixed_events(kTotal, 1);

  std::mt19937 rng(42);
  std::uniform_int_distribution<int> pause_ms(5, 120);
  int kills = 0;
  size_t published = 0;
  std::optional<SwitchyardProcess> daemon;
  daemon.emplace(SwitchyardProcess::run(config, dir.file("switchyard.log")));
  while (published < all.size() || kills < 10) {
    if (published < all.size()) {
      size_t n = std::min<size_t>(2000, all.size() - published);
      publish(config,
              std::vector<std::string>(all.begin() + published, all.begin() + published + n));
      published += n;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(rng)));  // random kill moment
    daemon->kill9();
    ++kills;
    daemon.emplace(SwitchyardProcess::run(config, dir.file("switchyard.log")));
  }
  ASSERT_TRUE(wait_until([&] { return count_rows(db, "user_registrations") == kTotal / 2; }, 60s,
                         "all users"))
      << daemon->log_tail();
  ASSERT_TRUE(wait_until([&] { return count_rows(db, "quotes") == kTotal / 2; }, 60s, "all quotes"))
      << daemon->log_tail();
  ASSERT_TRUE(wait_until([&] { return group_pending(client, "analytics") == 0; }, 30s,
                         "no pending entries in the group"));
  EXPECT_EQ(client.llen("events:dead"), 0);
  // The log holds every run's lines: start one last run and wait until it is up before SIGTERM
  // (a SIGTERM during exec, before main() blocks it, would be fatal and prove nothing).
  daemon->kill9();
  const size_t mark = daemon->log().size();
  daemon.emplace(SwitchyardProcess::run(config, dir.file("switchyard.log")));
  ASSERT_TRUE(wait_until(
      [&] { return daemon->log().find("connected to Redis", mark) != std::string::npos; }, 10s,
      "the last daemon to be up"));
  EXPECT_EQ(daemon->stop(), 0) << daemon->log_tail();
  std::cout << "[ stream ] " << kills << " kill -9, " << kTotal << " events, counts exact\n";
}

TEST(StreamSource, TwoGroupsEachGetEveryEventAndCatchUp) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string db_a = dir.file("a.db"), db_b = dir.file("b.db");
  const std::string config_a =
      dir.write("a.yaml", stream_config(redis, SWITCHYARD_PLUGIN_DIR, "group_a", db_a));
  const std::string config_b =
      dir.write("b.yaml", stream_config(redis, SWITCHYARD_PLUGIN_DIR, "group_b", db_b));
  SwitchyardProcess a = SwitchyardProcess::run(config_a, dir.file("a.log"));
  SwitchyardProcess b = SwitchyardProcess::run(config_b, dir.file("b.log"));
  publish(config_a, mixed_events(2000, 1));
  ASSERT_TRUE(wait_until([&] { return count_rows(db_a, "quotes") == 1000; }, 30s, "group a"));
  ASSERT_TRUE(wait_until([&] { return count_rows(db_b, "quotes") == 1000; }, 30s, "group b"));

  // b goes down; a keeps going; b catches up from where it was when it returns.
  ASSERT_EQ(b.stop(), 0) << b.log_tail();
  publish(config_a, mixed_events(2000, 1001));
  ASSERT_TRUE(wait_until([&] { return count_rows(db_a, "quotes") == 2000; }, 30s, "group a alone"));
  EXPECT_EQ(count_rows(db_b, "quotes"), 1000);
  CommandResult stats = SwitchyardProcess::exec({"stats", "-c", config_b});
  EXPECT_NE(stats.out.find("group group_b: pending 0, lag 2000"), std::string::npos) << stats;

  SwitchyardProcess b2 = SwitchyardProcess::run(config_b, dir.file("b.log"));
  ASSERT_TRUE(wait_until([&] { return count_rows(db_b, "quotes") == 2000; }, 30s, "b caught up"));
  EXPECT_EQ(count_rows(db_a, "user_registrations"), 2000);
  EXPECT_EQ(count_rows(db_b, "user_registrations"), 2000);
  EXPECT_EQ(a.stop(), 0) << a.log_tail();
  EXPECT_EQ(b2.stop(), 0) << b2.log_tail();
}

TEST(StreamSource, DeadConsumersEntriesAreClaimedAfterReclaimAfter) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  // Plugins dir with the bundled sinks and the crash_sink test plugin.
  const std::string plugins = dir.file("plugins");
  std::filesystem::create_directory(plugins);
  for (const char* p : {"user_registered_sink", "quote_created_sink"})
    std::filesystem::copy_file(bundled_plugin(p), plugins + "/" + p + ".so");
  std::filesystem::copy_file(test_plugin("crash_sink"), plugins + "/crash_sink.so");
  const std::string db = dir.file("analytics.db");
  // Instance A routes everything to crash_sink, which dies on the marked message (in A's first
  // take, so A acknowledges nothing) with that batch pending; instance B (same group) writes the
  // database.
  const std::string config_a =
      dir.write("a.yaml", stream_config(redis, plugins, "analytics", db,
                                        "  crash: { plugin: crash_sink, config: { path: \"" +
                                            dir.file("crash.jsonl") + "\" } }\n",
                                        "[crash]", "[crash]"));
  const std::string config_b = dir.write("b.yaml", stream_config(redis, plugins, "analytics", db));
  std::vector<std::string> events = mixed_events(199, 1);
  events.insert(
      events.begin() + 5,
      R"({"event":"quote.created","payload":{"quote_id":5000,"user_id":1,"product_id":1,"qty":1,"crash":true}})");
  publish(config_a, events);

  SwitchyardProcess a =
      SwitchyardProcess::run(config_a, dir.file("a.log"), {"--instance", "consumer-a"});
  ASSERT_TRUE(a.wait_exit(30s).has_value()) << "crash_sink should have killed instance A";
  RedisClient client = redis.client();
  // Its first take is small (the take size grows while takes come back full).
  const int64_t held = group_pending(client, "analytics");
  ASSERT_GT(held, 5) << "A died holding its first batch";

  SwitchyardProcess b =
      SwitchyardProcess::run(config_b, dir.file("b.log"), {"--instance", "consumer-b"});
  ASSERT_TRUE(wait_until([&] { return count_rows(db, "quotes") == 100; }, 30s,
                         "B claimed and handled A's quotes"))
      << b.log_tail();
  ASSERT_TRUE(wait_until([&] { return count_rows(db, "user_registrations") == 100; }, 30s,
                         "B claimed and handled A's users"))
      << b.log_tail();
  ASSERT_TRUE(
      wait_until([&] { return group_pending(client, "analytics") == 0; }, 10s, "nothing pending"));
  EXPECT_EQ(b.stop(), 0) << b.log_tail();
  // Claimed one at a time, each worker logging what its pass over the pending list claimed.
  int64_t claimed = 0;
  const std::string log = b.log();
  const std::string what = ": claimed ";
  for (size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1))
    claimed += std::strtoll(log.c_str() + at + what.size(), nullptr, 10);
  EXPECT_EQ(claimed, held) << log;
}

}  // namespace
}  // namespace switchyard::test
