// reload_test.cc: live reload (SIGHUP / `switchyard reload`) of the real daemon: adding a handler
// under load, broken configs, a plugin deployed at run time, reuse of unchanged instances.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "integration/ops/ops_support.h"
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

// The messages of `all` with index in [begin, end) that are not among `lines`.
std::vector<size_t> missing(const std::vector<std::string>& all, size_t begin, size_t end,
                            const std::set<std::string>& lines) {
  std::vector<size_t> out;
  for (size_t i = begin; i < end; ++i)
    if (!lines.count(all[i])) out.push_back(i);
  return out;
}

std::string first_indexes(const std::vector<size_t>& v, size_t n = 10) {
  std::string s;
  for (size_t k = 0; k < v.size() && k < n; ++k) s += (k ? ", " : "") + std::to_string(v[k]);
  return s + (v.size() > n ? ", ..." : "");
}

// True when every message is a line of `path` (read as a set).
bool file_has_all(const std::string& path, const std::vector<std::string>& messages) {
  std::vector<std::string> lines = file_lines(path);
  std::set<std::string> set(lines.begin(), lines.end());
  return std::all_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return set.count(m) > 0; });
}

// Scrapes one sample value from /metrics; nullopt when unreachable, unparsable or absent.
std::optional<double> scrape(int port, const std::string& name,
                             const std::map<std::string, std::string>& labels) {
  ops::HttpResult r = http_get(port, "/metrics");
  if (r.status != 200) return std::nullopt;
  ops::Exposition e;
  if (!ops::parse_prometheus(r.body, &e).empty()) return std::nullopt;
  return e.value(name, labels);
}

// The base RoutesYaml of these tests: users_db + quotes_db on one SQLite file.
RoutesYaml base_spec(const RedisServer& redis, const TempDir& dir, const std::string& plugins) {
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.source_extra = "batch: 100";
  return spec;
}

// Under a steady publish of 50,000 events a reload adds a third handler (jsonl_sink): every
// event pushed after the reload completed reaches it, the databases lose nothing. Then two broken
// configs are refused: the old table keeps running, the failures are logged and counted.
TEST(ReloadTest, AddsAHandlerUnderSteadyPublishAndKeepsRunningOnBrokenConfigs) {
  constexpr size_t kTotal = 50'000;
  constexpr size_t kChunk = 250;
  constexpr auto kPace = 20ms;  // 200 chunks: about 4 s of publishing
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::bundled_plugin("jsonl_sink")});
  const int port = pick_free_tcp_port();
  const std::string db = dir.file("analytics.db");
  const std::string audit = dir.file("audit.jsonl");
  RoutesYaml spec = base_spec(redis, dir, plugins);
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port) + "\" }";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  // `run` writes its pid file, and `reload` finds it, under $RUNTIME_DIRECTORY.
  const std::string run_dir = dir.file("run");
  std::filesystem::create_directories(run_dir);
  const std::map<std::string, std::string> env = {{"RUNTIME_DIRECTORY", run_dir}};

  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"), {}, env);
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/readyz").status == 200; }, 20s,
                         "/readyz to answer 200"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& e : std::filesystem::directory_iterator(run_dir))
          if (e.path().extension() == ".pid") return true;
        return false;
      },
      10s, "the pid file in $RUNTIME_DIRECTORY"))
      << daemon.log_tail();

  // The steady publisher. `issued` is raised before a chunk is pushed, so every message with an
  // index >= a value read from it was pushed after that read.
  const std::vector<std::string> messages = mixed_events(kTotal);
  std::atomic<size_t> issued{0};
  std::atomic<bool> publish_done{false};
  std::string publish_error;
  std::jthread publisher([&](std::stop_token stop) {
    try {
      RedisClient client(redis.socket_path());
      auto next = std::chrono::steady_clock::now();
      for (size_t i = 0; i < kTotal && !stop.stop_requested(); i += kChunk) {
        size_t end = std::min(i + kChunk, kTotal);
        issued.store(end);
        client.rpush_many("events",
                          std::vector<std::string>(messages.begin() + i, messages.begin() + end));
        next += kPace;
        std::this_thread::sleep_until(next);
      }
    } catch (const std::exception& e) {
      publish_error = e.what();
    }
    publish_done = true;
  });

  ASSERT_TRUE(wait_until([&] { return issued.load() >= 10'000 || publish_done; }, 20s,
                         "10,000 messages to be published"));
  // Add the third handler, routed with "*", and tell the daemon through `switchyard reload`.
  RoutesYaml with_audit = spec;
  with_audit.extra_handlers = "audit:\n  plugin: jsonl_sink\n  config: { path: \"" + audit + "\" }";
  with_audit.extra_routes = "\"*\": [audit]";
  const std::string good_yaml = routes_yaml(with_audit);
  ops::write_atomically(config, good_yaml);
  CommandResult sent = SwitchyardProcess::exec({"reload", "-c", config}, 10s, env);
  ASSERT_EQ(sent.exit_code, 0) << sent;
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reloaded ") == 1; }, 10s,
                         "the log line \"reloaded\""))
      << daemon.log_tail();
  const size_t after_reload = issued.load();
  ASSERT_LE(after_reload + 10'000, kTotal)
      << "the reload completed too late to leave 10,000 events after it";

  ASSERT_TRUE(wait_until([&] { return publish_done.load(); }, 30s, "the publisher to finish"));
  publisher.join();
  ASSERT_EQ(publish_error, "");

  // Done when both tables are complete and nothing is pending or in flight (a batch leaves its
  // in-flight list only after all its handlers, jsonl included, have answered).
  RedisClient client = redis.client();
  ASSERT_TRUE(wait_until(
      [&] {
        return count_rows(db, "user_registrations") == 25'000 &&
               count_rows(db, "quotes") == 25'000 &&
               scrape(port, "switchyard_queue_depth", {{"state", "pending"}}) == 0.0 &&
               scrape(port, "switchyard_queue_depth", {{"state", "inflight"}}) == 0.0;
      },
      60s, "both tables at 25,000 rows and nothing pending or in flight"))
      << "users " << count_rows(db, "user_registrations") << ", quotes " << count_rows(db, "quotes")
      << ", pending " << client.llen("events") << "\n"
      << daemon.log_tail();
  EXPECT_EQ(client.llen("events:dead"), 0) << client.lrange("events:dead", 0, 2).at(0);

  std::vector<std::string> lines = file_lines(audit);
  std::set<std::string> line_set(lines.begin(), lines.end());
  std::vector<size_t> lost = missing(messages, after_reload, kTotal, line_set);
  EXPECT_TRUE(lost.empty()) << lost.size() << " of the " << kTotal - after_reload
                            << " events pushed after the reload completed (index >= "
                            << after_reload << ") never reached the new handler, e.g. index "
                            << first_indexes(lost);
  EXPECT_EQ(line_set.size(), lines.size()) << "the jsonl file has duplicate lines";
  std::set<std::string> published(messages.begin(), messages.end());
  for (const std::string& line : line_set) {
    ASSERT_TRUE(published.count(line)) << "unexpected line in the jsonl file: " << line;
  }
  EXPECT_EQ(
      scrape(port, "switchyard_events_handled_total", {{"handler", "audit"}, {"outcome", "ok"}}),
      static_cast<double>(lines.size()));
  EXPECT_EQ(scrape(port, "switchyard_config_reloads_total", {{"result", "success"}}), 1.0);

  // Each further round: publish 1000 new events and wait until all three handlers have them.
  int64_t next_id = 25'001;
  auto old_table_still_runs = [&](const char* after) {
    std::vector<std::string> more = mixed_events(1000, next_id);
    next_id += 500;
    client.rpush_many("events", more, 50);
    const int64_t expected = next_id - 1;
    EXPECT_TRUE(wait_until(
        [&] {
          return count_rows(db, "user_registrations") == expected &&
                 count_rows(db, "quotes") == expected && file_has_all(audit, more);
        },
        30s, std::string("1000 more events in all three handlers after ") + after))
        << daemon.log_tail();
  };

  // 1. A YAML syntax error.
  std::string broken = good_yaml;
  const std::string route_line = "quote.created: [quotes_db]";
  ASSERT_NE(broken.find(route_line), std::string::npos);
  broken.replace(broken.find(route_line), route_line.size(), "quote.created: [quotes_db");
  ops::write_atomically(config, broken);
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape(port, "switchyard_config_reloads_total", {{"result", "failure"}}) == 1.0;
      },
      10s, "switchyard_config_reloads_total{result=\"failure\"} to be 1"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reload failed") == 1; }, 5s,
                         "the log line \"reload failed\""));
  {
    std::vector<std::string> failed = lines_with(daemon.log(), "reload failed");
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_TRUE(
        std::regex_search(failed[0], std::regex("reload failed: .*routes\\.yaml:[0-9]+:[0-9]+: ")))
        << "the failure does not name FILE:LINE:COL: " << failed[0];
    EXPECT_NE(failed[0].find(config), std::string::npos) << failed[0];
  }
  old_table_still_runs("a YAML syntax error");

  // 2. A route naming a handler that is not defined.
  RoutesYaml ghost = with_audit;
  ghost.extra_routes += "\n\"quote.*\": [quotes_db, ghost]";
  const std::string ghost_yaml = routes_yaml(ghost);
  const int ghost_line = ops::line_number_of(ghost_yaml, "ghost");
  ops::write_atomically(config, ghost_yaml);
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape(port, "switchyard_config_reloads_total", {{"result", "failure"}}) == 2.0;
      },
      10s, "switchyard_config_reloads_total{result=\"failure\"} to be 2"))
      << daemon.log_tail();
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reload failed") == 2; }, 5s,
                         "a second \"reload failed\" log line"));
  {
    std::vector<std::string> failed = lines_with(daemon.log(), "reload failed");
    ASSERT_EQ(failed.size(), 2u);
    EXPECT_NE(failed[1].find(config + ":" + std::to_string(ghost_line) + ":"), std::string::npos)
        << "expected " << config << ":" << ghost_line << ":COL in: " << failed[1];
    EXPECT_NE(failed[1].find("ghost"), std::string::npos) << failed[1];
  }
  old_table_still_runs("a route to an undefined handler");

  EXPECT_EQ(scrape(port, "switchyard_config_reloads_total", {{"result", "success"}}), 1.0);
  EXPECT_EQ(count_of(daemon.log(), "reloaded "), 1u);
  EXPECT_EQ(client.llen("events:dead"), 0);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

// A plugin .so that was not there when the daemon started: a reload naming it before it is
// deployed fails and names the missing file; once copied into the plugins directory, a reload
// routes events to it.
TEST(ReloadTest, PluginCopiedIntoThePluginsDirectoryAtRunTimeReceivesEvents) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir,
      {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink")});
  const std::string db = dir.file("analytics.db");
  RoutesYaml spec = base_spec(redis, dir, plugins);
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  RedisClient client = redis.client();

  const std::vector<std::string> before = mixed_events(100, 1);
  client.rpush_many("events", before);
  ASSERT_TRUE(wait_until(
      [&] { return count_rows(db, "user_registrations") == 50 && count_rows(db, "quotes") == 50; },
      20s, "the first 100 events in the database"))
      << daemon.log_tail();

  RoutesYaml late = spec;
  late.extra_handlers = "late:\n  plugin: probe_sink\n  config: { path: late.jsonl }";
  late.extra_routes = "\"*\": [late]";
  const std::string late_yaml = routes_yaml(late);
  const std::string so = plugins + "/probe_sink.so";
  ASSERT_FALSE(std::filesystem::exists(so));

  // Routed before it is deployed: refused, naming where and what is missing.
  ops::write_atomically(config, late_yaml);
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reload failed") == 1; }, 10s,
                         "the reload to fail"))
      << daemon.log_tail();
  std::string failure = lines_with(daemon.log(), "reload failed").at(0);
  EXPECT_NE(failure.find(config + ":" +
                         std::to_string(ops::line_number_of(late_yaml, "probe_sink")) + ":"),
            std::string::npos)
      << failure;
  EXPECT_NE(failure.find(so), std::string::npos) << failure;

  // Deployed at run time (a copy of the test-built plugin), then reloaded.
  ops::deploy_plugin(ops::test_plugin("probe_sink"), plugins);
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reloaded ") == 1; }, 10s,
                         "the reload to succeed"))
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "[late] probe_sink created: " + dir.file("late.jsonl")), 1u)
      << daemon.log_tail();

  const std::vector<std::string> after = mixed_events(200, 51);
  client.rpush_many("events", after);
  // One worker handles batches in order: the last event in late.jsonl means all were handled.
  ASSERT_TRUE(wait_until(
      [&] {
        std::vector<std::string> lines = file_lines(dir.file("late.jsonl"));
        return count_rows(db, "user_registrations") == 150 && count_rows(db, "quotes") == 150 &&
               !lines.empty() && lines.back() == after.back();
      },
      20s, "200 more events in the database and in late.jsonl"))
      << daemon.log_tail();
  std::vector<std::string> lines = file_lines(dir.file("late.jsonl"));
  std::set<std::string> line_set(lines.begin(), lines.end());
  std::vector<size_t> lost = missing(after, 0, after.size(), line_set);
  EXPECT_TRUE(lost.empty()) << lost.size() << " of the " << after.size()
                            << " events pushed after the reload completed never reached the new "
                               "plugin, e.g. index "
                            << first_indexes(lost);
  if (lost.empty()) {
    EXPECT_EQ(lines, after) << "late.jsonl should hold exactly the events pushed after the "
                               "reload, in order (one worker)";
  }
  EXPECT_EQ(client.llen("events:dead"), 0);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

// Whether the daemon (pid) has `path` mapped, i.e. the library is loaded.
bool maps_file(pid_t pid, const std::string& path) {
  return read_file("/proc/" + std::to_string(pid) + "/maps").find(path) != std::string::npos;
}

// A reload keeps the instances whose config did not change (not re-created), re-creates a changed
// one, destroys removed ones, and unloads a plugin once its last instance is gone.
TEST(ReloadTest, KeepsUnchangedInstancesRecreatesChangedOnesAndUnloadsUnusedPlugins) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("probe_sink")});
  const std::string so = plugins + "/probe_sink.so";
  const std::string db = dir.file("analytics.db");
  auto probe = [&](const std::string& name, const std::string& file) {
    return name + ":\n  plugin: probe_sink\n  config: { path: \"" + dir.file(file) + "\" }\n";
  };
  RoutesYaml spec = base_spec(redis, dir, plugins);
  RoutesYaml first = spec;
  first.extra_handlers =
      probe("keep", "keep.jsonl") + probe("change", "change-1.jsonl") + probe("gone", "gone.jsonl");
  first.extra_routes = "\"*\": [keep, change, gone]";
  const std::string config = dir.write("routes.yaml", routes_yaml(first));
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  RedisClient client = redis.client();
  auto created = [&](const std::string& handler) {
    return count_of(daemon.log(), "[" + handler + "] probe_sink created: ");
  };
  auto destroyed = [&](const std::string& handler, const std::string& file) {
    return count_of(daemon.log(), "[" + handler + "] probe_sink destroyed: " + dir.file(file));
  };

  const std::vector<std::string> batch1 = mixed_events(100, 1);
  client.rpush_many("events", batch1);
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(dir.file("keep.jsonl")).size() == 100 &&
               file_lines(dir.file("change-1.jsonl")).size() == 100 &&
               file_lines(dir.file("gone.jsonl")).size() == 100;
      },
      20s, "100 events in each probe file"))
      << daemon.log_tail();
  EXPECT_EQ(created("keep"), 1u);
  EXPECT_EQ(created("change"), 1u);
  EXPECT_EQ(created("gone"), 1u);
  ASSERT_TRUE(maps_file(daemon.pid(), so)) << "probe_sink.so is not mapped by the daemon";

  // keep: unchanged; change: new path; gone: removed.
  RoutesYaml second = spec;
  second.extra_handlers = probe("keep", "keep.jsonl") + probe("change", "change-2.jsonl");
  second.extra_routes = "\"*\": [keep, change]";
  ops::write_atomically(config, routes_yaml(second));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(
      wait_until([&] { return count_of(daemon.log(), "reloaded ") == 1; }, 10s, "the first reload"))
      << daemon.log_tail();
  EXPECT_EQ(count_of(daemon.log(), "[change] probe_sink created: " + dir.file("change-2.jsonl")),
            1u);
  // The replaced and the removed instance are destroyed once no batch uses them any more.
  EXPECT_TRUE(wait_until(
      [&] {
        return destroyed("change", "change-1.jsonl") == 1 && destroyed("gone", "gone.jsonl") == 1;
      },
      10s, "the replaced and the removed instance to be destroyed"))
      << daemon.log_tail();
  EXPECT_EQ(created("keep"), 1u) << "the unchanged handler was re-created:\n" << daemon.log_tail();
  EXPECT_EQ(destroyed("keep", "keep.jsonl"), 0u) << daemon.log_tail();
  EXPECT_TRUE(maps_file(daemon.pid(), so));

  const std::vector<std::string> batch2 = mixed_events(100, 51);
  client.rpush_many("events", batch2);
  // One worker handles batches in order: the last event in a file means all were handled.
  ASSERT_TRUE(wait_until(
      [&] {
        std::vector<std::string> keep = file_lines(dir.file("keep.jsonl"));
        std::vector<std::string> change = file_lines(dir.file("change-2.jsonl"));
        return !keep.empty() && keep.back() == batch2.back() && !change.empty() &&
               change.back() == batch2.back();
      },
      20s, "the second 100 events in keep.jsonl and change-2.jsonl"))
      << daemon.log_tail();
  // The kept instance wrote both batches, in order, to its one file.
  std::vector<std::string> both = batch1;
  both.insert(both.end(), batch2.begin(), batch2.end());
  EXPECT_EQ(file_lines(dir.file("keep.jsonl")), both);
  EXPECT_EQ(file_lines(dir.file("change-2.jsonl")), batch2);
  EXPECT_EQ(file_lines(dir.file("gone.jsonl")).size(), 100u);

  // No probe handler left: the plugin is unloaded after its last instance is destroyed.
  ops::write_atomically(config, routes_yaml(spec));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return count_of(daemon.log(), "reloaded ") == 2; }, 10s,
                         "the second reload"))
      << daemon.log_tail();
  EXPECT_TRUE(wait_until(
      [&] {
        return destroyed("keep", "keep.jsonl") == 1 && destroyed("change", "change-2.jsonl") == 1;
      },
      10s, "the last probe_sink instances to be destroyed"))
      << daemon.log_tail();
  EXPECT_TRUE(wait_until([&] { return !maps_file(daemon.pid(), so); }, 10s,
                         "probe_sink.so to be unmapped from the daemon"));
  EXPECT_EQ(count_of(daemon.log(),
                     "[keep] probe_sink destroyed: " + dir.file("keep.jsonl") + ", 200 events"),
            1u)
      << daemon.log_tail();
  EXPECT_EQ(count_rows(db, "user_registrations"), 100);
  EXPECT_EQ(count_rows(db, "quotes"), 100);
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

// A reload cannot change a running source (its workers, lock files and heartbeats are set up at
// start): each changed setting is logged by name with its old and new value, the rest of the
// reload applies, and the reload counts as "partial".
TEST(ReloadTest, ChangedSourceSettingsAreNamedAndTheReloadCountsAsPartial) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const int port = pick_free_tcp_port();
  RoutesYaml spec = base_spec(redis, dir, SWITCHYARD_PLUGIN_DIR);
  spec.extra_yaml = "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape(port, "switchyard_config_reloads_total", {{"result", "success"}}) == 0.0;
      },
      20s, "the metrics endpoint"))
      << daemon.log_tail();

  RoutesYaml changed = spec;
  changed.source_extra = "batch: 7\nmax_deliveries: 9";
  changed.extra_handlers = "audit:\n  plugin: jsonl_sink\n  config: { path: audit.jsonl }";
  changed.extra_routes = "\"*\": [audit]";
  ops::write_atomically(config, routes_yaml(changed));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape(port, "switchyard_config_reloads_total", {{"result", "partial"}}) == 1.0;
      },
      20s, "switchyard_config_reloads_total{result=\"partial\"} to be 1"))
      << daemon.log_tail();
  EXPECT_EQ(scrape(port, "switchyard_config_reloads_total", {{"result", "success"}}), 0.0);
  const std::string log = daemon.log();
  EXPECT_EQ(count_of(log,
                     "reload: sources.events.batch changed from \"100\" to \"7\": not "
                     "applied"),
            1)
      << daemon.log_tail();
  EXPECT_EQ(count_of(log, "reload: sources.events.max_deliveries changed from \"5\" to \"9\""), 1)
      << daemon.log_tail();
  EXPECT_EQ(count_of(log, "restart switchyard to apply it"), 2) << daemon.log_tail();
  // The rest applied: the new handler receives events.
  RedisClient client = redis.client();
  const std::vector<std::string> events = mixed_events(10, 1);
  client.rpush_many("events", events);
  ASSERT_TRUE(wait_until([&] { return file_has_all(dir.file("audit.jsonl"), events); }, 20s,
                         "the events in the handler added by the partial reload"))
      << daemon.log_tail();

  // Reverting the source settings and reloading again is a full success.
  ops::write_atomically(config, routes_yaml(spec));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until(
      [&] {
        return scrape(port, "switchyard_config_reloads_total", {{"result", "success"}}) == 1.0;
      },
      20s, "a successful reload after reverting"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
