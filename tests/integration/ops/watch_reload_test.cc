// watch_reload_test.cc: `switchyard run --watch` reloads the real daemon by itself when routes.yaml
// is replaced or a .so lands in the plugins directory (once, after a chunked copy is closed); a
// broken routes.yaml keeps the old table running, logged and counted.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ops::count_of;
using ops::http_get;
using ops::lines_with;

// switchyard_config_reloads_total{result}: 0 while absent; nullopt if /metrics does not answer
// or does not parse.
std::optional<double> reloads(int port, const std::string& result) {
  ops::HttpResult r = http_get(port, "/metrics");
  if (r.status != 200) return std::nullopt;
  ops::Exposition e;
  if (!ops::parse_prometheus(r.body, &e).empty()) return std::nullopt;
  return e.value("switchyard_config_reloads_total", {{"result", result}}).value_or(0.0);
}

TEST(WatchReloadTest, ReloadsOnRoutesYamlAndPluginChangesAndKeepsTheOldTableOnBrokenConfigs) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::bundled_plugin("jsonl_sink")});
  const int port = pick_free_tcp_port();
  const std::string db = dir.file("analytics.db");
  const std::string audit = dir.file("audit.jsonl");
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = db;
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port) + "\" }";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));

  SwitchyardProcess daemon =
      SwitchyardProcess::run(config, dir.file("switchyard.log"), {"--watch"});
  ASSERT_TRUE(wait_until(
      [&] {
        return http_get(port, "/readyz").status == 200 &&
               count_of(daemon.log(), "--watch: reloading when " + config) == 1;
      },
      20s, "/readyz to answer 200 and the watch to be set up"))
      << daemon.log_tail();
  RedisClient client = redis.client();
  int64_t next_id = 1;
  // Publishes 100 events and waits until both tables and (when given) every file has them all.
  auto publish_and_wait = [&](const std::string& when, const std::vector<std::string>& files) {
    std::vector<std::string> events = mixed_events(100, next_id);
    next_id += 50;
    client.rpush_many("events", events, 50);
    const int64_t expected = next_id - 1;
    return wait_until(
        [&] {
          if (count_rows(db, "user_registrations") != expected ||
              count_rows(db, "quotes") != expected)
            return false;
          for (const std::string& file : files) {
            std::vector<std::string> lines = file_lines(file);
            // One worker handles batches in order: the last event there means all are.
            if (lines.empty() || lines.back() != events.back()) return false;
          }
          return true;
        },
        20s, "100 events handled " + when);
  };
  ASSERT_TRUE(publish_and_wait("before any change", {})) << daemon.log_tail();

  // 1. routes.yaml replaced (temporary file + rename, as editors do): a route to jsonl_sink.
  RoutesYaml with_audit = spec;
  with_audit.extra_handlers = "audit:\n  plugin: jsonl_sink\n  config: { path: \"" + audit + "\" }";
  with_audit.extra_routes = "\"*\": [audit]";
  const std::string good_yaml = routes_yaml(with_audit);
  ops::write_atomically(config, good_yaml);
  ASSERT_TRUE(wait_until([&] { return reloads(port, "success") == 1.0; }, 10s,
                         "switchyard_config_reloads_total{result=\"success\"} to be 1"))
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "--watch: " + config + " changed: reloading"), 1u)
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "reloaded "), 1u) << daemon.log_tail();
  ASSERT_TRUE(publish_and_wait("after the route to jsonl_sink was added", {audit}))
      << daemon.log_tail();
  EXPECT_EQ(file_lines(audit).size(), 100u) << "only the events published after the reload";

  // 2. A broken routes.yaml (YAML syntax error): refused, counted, logged with FILE:LINE:COL;
  // the old table keeps running.
  std::string broken = good_yaml;
  const std::string route_line = "quote.created: [quotes_db]";
  ASSERT_NE(broken.find(route_line), std::string::npos);
  broken.replace(broken.find(route_line), route_line.size(), "quote.created: [quotes_db");
  ops::write_atomically(config, broken);
  ASSERT_TRUE(wait_until([&] { return reloads(port, "failure") == 1.0; }, 10s,
                         "switchyard_config_reloads_total{result=\"failure\"} to be 1"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reload failed") == 1; }, 5s,
                         "the log line \"reload failed\""));
  const std::string failure = lines_with(daemon.log(), "reload failed").at(0);
  EXPECT_TRUE(
      std::regex_search(failure, std::regex("reload failed: .*routes\\.yaml:[0-9]+:[0-9]+: ")))
      << failure;
  ASSERT_TRUE(publish_and_wait("after a broken routes.yaml", {audit})) << daemon.log_tail();

  // 3. routes.yaml names a plugin that is not deployed yet: refused. Then the .so is copied into
  // the plugins directory in two chunks, the file held open in between for longer than the
  // debounce: no reload while it is open, exactly one after it is closed.
  RoutesYaml late = with_audit;
  late.extra_handlers += "\nlate:\n  plugin: probe_sink\n  config: { path: late.jsonl }";
  late.extra_routes = "\"*\": [audit, late]";
  ops::write_atomically(config, routes_yaml(late));
  ASSERT_TRUE(wait_until([&] { return reloads(port, "failure") == 2.0; }, 10s,
                         "the reload naming the missing probe_sink.so to fail"))
      << daemon.log_tail();
  EXPECT_NE(lines_with(daemon.log(), "reload failed").at(1).find(plugins + "/probe_sink.so"),
            std::string::npos)
      << daemon.log_tail();
  {
    const std::string so = read_file(ops::test_plugin("probe_sink"));
    ASSERT_GT(so.size(), 1000u);
    std::ofstream out(plugins + "/probe_sink.so", std::ios::binary | std::ios::trunc);
    out.write(so.data(), static_cast<std::streamsize>(so.size() / 2));
    out.flush();
    ASSERT_TRUE(out.good());
    // Not synchronisation: keeps the half-written file open for three times the 200 ms debounce.
    std::this_thread::sleep_for(600ms);
    EXPECT_EQ(reloads(port, "success"), 1.0) << "reloaded while the .so was still being written";
    EXPECT_EQ(reloads(port, "failure"), 2.0) << "reloaded while the .so was still being written";
    out.write(so.data() + so.size() / 2, static_cast<std::streamsize>(so.size() - so.size() / 2));
    out.close();
    ASSERT_TRUE(out.good());
  }
  ASSERT_TRUE(wait_until([&] { return reloads(port, "success") == 2.0; }, 10s,
                         "the reload after probe_sink.so was copied"))
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "--watch: " + plugins + "/probe_sink.so changed: reloading"), 1u)
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "[late] probe_sink created: " + dir.file("late.jsonl")), 1u)
      << daemon.log_tail();
  ASSERT_TRUE(publish_and_wait("after probe_sink.so was deployed", {audit, dir.file("late.jsonl")}))
      << daemon.log_tail();
  EXPECT_EQ(file_lines(dir.file("late.jsonl")).size(), 100u);

  EXPECT_EQ(reloads(port, "success"), 2.0) << daemon.log_tail();
  EXPECT_EQ(reloads(port, "failure"), 2.0) << daemon.log_tail();
  EXPECT_EQ(client.llen("events:dead"), 0);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
