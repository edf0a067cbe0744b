// json_logging_test.cc: with logging.format json, every line the real daemon writes to stderr is
// one JSON object with time, level and message (RapidJSON), through start, plugin logs, dead
// letters, retries, reloads and shutdown; lines about a message carry source, event, handler and
// outcome; the Redis password appears in no line and not in /metrics.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
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
  // The structured fields; nullopt when the key is absent.
  std::optional<std::string> source, event, outcome;
};

constexpr const char* kPassword = "Pa55-w0rd-not-in-logs";

// Parses every line of `text` as a JSON object with string time (ISO 8601 UTC), level and
// message; ADD_FAILUREs for each line that is not.
std::vector<LogLine> parse_json_lines(const std::string& text) {
  static const std::regex kTime(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z)");
  static const std::set<std::string> kLevels = {"trace", "debug", "info",    "warning",
                                                "warn",  "error", "critical"};
  std::vector<LogLine> out;
  EXPECT_TRUE(text.empty() || text.back() == '\n') << "the last line is not terminated";
  int n = 0;
  for (const std::string& line : split_lines(text)) {
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
    for (auto [key, field] :
         {std::pair{"source", &parsed.source}, std::pair{"event", &parsed.event},
          std::pair{"outcome", &parsed.outcome}}) {
      if (!doc.HasMember(key)) continue;
      EXPECT_TRUE(doc[key].IsString()) << line;
      if (doc[key].IsString())
        *field = std::string(doc[key].GetString(), doc[key].GetStringLength());
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
            ops::test_plugin("probe_sink"), ops::test_plugin("flaky_sink")});
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.extra_handlers =
      "probe:\n  plugin: probe_sink\n  config: { path: probe.jsonl }\n"
      "flaky:\n  plugin: flaky_sink\n  config: { path: flaky.jsonl, fail_times: 2 }";
  spec.extra_routes = "\"user.*\": [probe]\nflaky.event: [flaky]";
  const int port = pick_free_tcp_port();
  // Two attempts: flaky_sink's first answer is retried, its second gives up (dead letter).
  spec.extra_yaml =
      "logging: { level: debug, format: json }\n"
      "retry: { max_attempts: 2, initial_backoff: 10ms, max_backoff: 20ms }\n"
      "metrics: { listen: \"127.0.0.1:" +
      std::to_string(port) + "\" }";
  const std::string good_yaml = routes_yaml(spec);
  const std::string config = dir.write("routes.yaml", good_yaml);
  const std::string out_path = dir.file("stdout.log");
  const std::string err_path = dir.file("stderr.log");

  // Every new connection needs the password; this one stays authenticated.
  RedisClient client = redis.client();
  client.command({"CONFIG", "SET", "requirepass", kPassword});

  ChildProcess daemon;
  SpawnOptions options;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL"};
  options.env = {{"SWITCHYARD_REDIS_PASSWORD", kPassword}};
  options.output_path = out_path;
  options.stderr_path = err_path;
  daemon.spawn({SwitchyardProcess::binary(), "run", "-c", config}, options);
  auto err = [&] { return read_file(err_path); };

  client.rpush_many("events", mixed_events(20));
  // A message a handler rejects, an unroutable event whose name needs escaping, no JSON, an
  // event name that tries to forge a line, and a message flaky_sink fails twice.
  client.rpush("events", envelope("user.registered", R"({"user_id":"not a number"})"));
  client.rpush("events", envelope("we\"ird\\name\nwith\ttabs", "{}"));
  client.rpush("events", "not json at all \x01");
  client.rpush("events", envelope("evil\nFAKE LINE", "{}"));
  client.rpush("events", envelope("flaky.event", "{}"));
  ASSERT_TRUE(wait_until([&] { return client.llen("events:dead") == 5; }, 20s, "five dead letters"))
      << tail_file(err_path);
  const ops::HttpResult metrics = ops::http_get(port, "/metrics");
  EXPECT_EQ(metrics.status, 200) << metrics.error;
  EXPECT_EQ(metrics.body.find(kPassword), std::string::npos) << "the password is in /metrics";
  ASSERT_TRUE(wait_until([&] { return count_rows(dir.file("analytics.db"), "quotes") == 10; }, 10s,
                         "the quotes"));

  // A successful reload, then a failing one.
  ops::write_atomically(config, good_yaml + "shutdown_timeout: 5s\n");
  ASSERT_TRUE(daemon.signal(SIGHUP));
  ASSERT_TRUE(wait_until([&] { return ops::count_of(err(), "reloaded ") == 1; }, 10s, "the reload"))
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
  EXPECT_TRUE(any_line(lines,
                       [&](const LogLine& l) {
                         return l.handler == "probe" &&
                                l.message == "probe_sink created: " + dir.file("probe.jsonl");
                       }))
      << "a plugin's log line carries \"handler\" and its own text\n"
      << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.level == "warning" || l.level == "warn";
  })) << text;
  EXPECT_TRUE(any_line(lines,
                       [](const LogLine& l) {
                         return l.message.find("we\"ird\\name\nwith\ttabs") != std::string::npos;
                       }))
      << "the unroutable event's name, with its quote, backslash, newline and tab, round-trips\n"
      << text;
  EXPECT_TRUE(any_line(lines, [&](const LogLine& l) {
    return l.level == "error" && l.message.find("reload failed: " + config + ":") == 0;
  })) << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) {
    return l.message.find("stopped cleanly") != std::string::npos;
  })) << text;
  EXPECT_TRUE(any_line(lines, [](const LogLine& l) { return l.level == "debug"; })) << text;

  // The structured fields of the lines about a message.
  auto has = [&](const std::string& what, const std::function<bool(const LogLine&)>& p) {
    EXPECT_TRUE(any_line(lines, p)) << what << "\n" << text;
  };
  has("users_db's reject: source, event, handler, outcome=reject", [](const LogLine& l) {
    return l.level == "warning" && l.source == "events" && l.event == "user.registered" &&
           l.handler == "users_db" && l.outcome == "reject" &&
           l.message.find("payload.user_id") != std::string::npos;
  });
  has("flaky's first answer: outcome=retry", [](const LogLine& l) {
    return l.source == "events" && l.event == "flaky.event" && l.handler == "flaky" &&
           l.outcome == "retry" && l.message.find("transient failure 1 of 2") != std::string::npos;
  });
  has("flaky's second answer: given up, outcome=dead_letter", [](const LogLine& l) {
    return l.source == "events" && l.event == "flaky.event" && l.handler == "flaky" &&
           l.outcome == "dead_letter" &&
           l.message.find("transient failure 2 of 2") != std::string::npos;
  });
  has("the unroutable event: its exact name, outcome=dead_letter, no handler",
      [](const LogLine& l) {
        return l.source == "events" && l.event == "we\"ird\\name\nwith\ttabs" &&
               l.outcome == "dead_letter" && l.handler.empty();
      });
  has("no JSON: outcome=dead_letter, no event, no handler", [](const LogLine& l) {
    return l.source == "events" && !l.event && l.outcome == "dead_letter" && l.handler.empty() &&
           l.message.find("invalid JSON") != std::string::npos;
  });
  has("the forging event name, as one value",
      [](const LogLine& l) { return l.event == "evil\nFAKE LINE" && l.outcome == "dead_letter"; });
  // Lines that are not about a message carry none of them.
  has("a line without fields", [](const LogLine& l) {
    return l.message.find("stopped cleanly") != std::string::npos && !l.source && !l.event &&
           !l.outcome && l.handler.empty();
  });
  for (const std::string& line : split_lines(text))
    EXPECT_FALSE(line.starts_with("FAKE LINE")) << "a forged line: " << line;
  EXPECT_EQ(text.find(kPassword), std::string::npos) << "the password is in the log";
}

}  // namespace
}  // namespace switchyard::test
