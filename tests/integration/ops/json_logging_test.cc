// json_logging_test.cc: with logging.format json, every line the real daemon writes to stderr is one JSON object with time, level and message (RapidJSON), through start, plugin logs, dead letters, reloads and shutdown.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <chrono>
#include <map>
#include <regex>
#include <set>
#include <string>
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

struct LogLine {
  std::string level;
  std::string message;
  std::string handler;  // "" when absent
};

// Parses every line of `text` as a JSON object with string time (ISO 8601 UTC), level and
// message; ADD_FAILUREs for each line that is not.
std::vector<LogLine> parse_json_lines(const std::string& text) {
  static const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warning", "warn",
                                                "error", "critical"};
  std::vector<LogLine> out;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the last line is not terminated";
  int n = 0;
  for (const std::string& line : ops::read_lines_of(text)) {
    ++n;
    rapidjson::Document doc;
    doc.Parse(line.data(), line.size());
    if (doc.HasParseError()) {
      ADD_FAILURE() << "stderr line " << n << " is not JSON ("
                    << rapidjson::GetParseError_En(doc.GetParseError()) << " at "
                    << doc.GetErrorOffset() << "): " << line;
      continue;
    }
    if (!doc.IsObject()) {
      ADD_FAILURE() << "stderr line " << n << " is not a JSON object: " << line;
      continue;
    }
    LogLine parsed;
    bool ok = true;
    for (const char* field : {"time", "level", "message"}) {
      if (!doc.HasMember(field) || !doc[field].IsString()) {
        ADD_FAILURE() << "stderr line " << n << " has no string \"" << field << "\": " << line;
        ok = false;
      }
    }
    if (!ok) continue;
    std::string time = doc["time"].GetString();
    EXPECT_TRUE(std::regex_match(time, kTime)) << "time \"" << time << "\" in: " << line;
    parsed.level = doc["level"].GetString();
    EXPECT_TRUE(kLevels.count(parsed.level)) << "level \"" << parsed.level << "\" in: " << line;
    parsed.message.assign(doc["message"].GetString(), doc["message"].GetStringLength());
    if (doc.HasMember("handler")) {
      EXPECT_TRUE(doc["handler"].IsString()) << line;
      if (doc["handler"].IsString()) parsed.handler = doc["handler"].GetString();
    }
    out.push_back(std::move(parsed));
  }
  return out;
}

bool any_line(const std::vector<LogLine>& lines, const std::function<bool(const LogLine&)>& p) {
  return std::any_of(lines.begin(), lines.end(), p);
}

TEST(JsonLoggingTest, EveryStderrLineIsAJsonObjectWithTimeLevelAndMessage) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("probe_sink")});
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.extra_handlers = "probe:\n  plugin: probe_sink\n  config: { path: probe.jsonl }";
  spec.extra_routes = "\"user.*\": [probe]";
  spec.extra_yaml = "logging: { level: debug, format: json }";
  const std::string good_yaml = routes_yaml(spec);
  const std::string config = dir.write("routes.yaml", good_yaml);
  const std::string out_path = dir.file("stdout.log");
  const std::string err_path = dir.file("stderr.log");

  ChildProcess daemon;
  SpawnOptions options;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL"};
  options.output_path = out_path;
  options.stderr_path = err_path;
  daemon.spawn({SwitchyardProcess::binary(), "run", "-c", config}, options);
  auto err = [&] { return read_file(err_path); };

  RedisClient client = redis.client();
  client.rpush_many("events", mixed_events(20));
  // A message a handler rejects, an unroutable event whose name needs escaping, and no JSON.
  client.rpush("events", envelope("user.registered", R"({"user_id":"not a number"})"));
  client.rpush("events", envelope("we\"ird\\name\nwith\ttabs", "{}"));
  client.rpush("events", "not json at all \x01");
  ASSERT_TRUE(wait_until([&] { return client.llen("events:dead") == 3; }, 20s,
                         "three dead letters"))
      << tail_file(err_path);
  ASSERT_TRUE(wait_until(
      [&] { return count_rows(dir.file("analytics.db"), "quotes") == 10; }, 10s, "the quotes"));

  // A successful reload, then a failing one.
  ops::write_atomically(config, good_yaml + "shutdown_timeout: 5s\n");
  ASSERT_TRUE(daemon.signal(SIGHUP));
  ASSERT_TRUE(wait_until([&] { return ops::count_of(err(), "reloaded ") == 1; }, 10s,
                         "the reload"))
      << tail_file(err_path);
  ops::write_atomically(config, good_yaml + "bogus_key: 1\n");
  ASSERT_TRUE(daemon.signal(SIGHUP));
  ASSERT_TRUE(wait_until([&] { return ops::count_of(err(), "reload failed") == 1; }, 10s,
                         "the failed reload"))
      << tail_file(err_path);

  ASSERT_TRUE(daemon.signal(SIGTERM));
  EXPECT_EQ(daemon.wait_exit(20s), 0) << tail_file(err_path);

  EXPECT_EQ(read_file(out_path), "") << "the daemon wrote to stdout";
  const std::string text = err();
  std::vector<LogLine> lines = parse_json_lines(text);
  ASSERT_GE(lines.size(), 8u) << text;

  // The lines we caused are there, with their fields.
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.level == "info" && l.message.find("starting") != std::string::npos;
  })) << text;
  EXPECT_TRUE(any_line(lines, [&](const LogLine& l) {
    return l.handler == "probe" && l.message == "probe_sink created: " + dir.file("probe.jsonl");
  })) << "a plugin's log line carries \"handler\" and its own text\n" << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.level == "warning" || l.level == "warn";
  })) << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.message.find("we\"ird\\name\nwith\ttabs") != std::string::npos;
  })) << "the unroutable event's name, with its quote, backslash, newline and tab, round-trips\n"
      << text;
  EXPECT_TRUE(any_line(lines, [&](const LogLine& l) {
    return l.level == "error" && l.message.find("reload failed: " + config + ":") == 0;
  })) << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.message.find("stopped cleanly") != std::string::npos;
  })) << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) { return l.level == "debug"; })) << text;
}

}  // namespace
}  // namespace switchyard::test
