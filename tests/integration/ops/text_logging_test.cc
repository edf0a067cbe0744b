// text_logging_test.cc: with logging.format text, event names that carry a newline, CR or terminal
// escape cannot forge a log line of the real daemon: every stderr line starts with a timestamp,
// holds no raw control byte, and shows the fields as [source=... event="..." handler=...
// outcome=...].
#include <gtest/gtest.h>

#include <chrono>
#include <regex>
#include <string>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

TEST(TextLoggingTest, EventNamesWithControlCharactersCannotForgeLines) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir, {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink"),
            ops::test_plugin("reject_sink")});
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.extra_handlers = "rejecter:\n  plugin: reject_sink\n  config: {}";
  spec.extra_routes = "\"bad*\": [rejecter]";
  spec.extra_yaml = "logging: { level: info, format: text }";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  const std::string out_path = dir.file("stdout.log");
  const std::string err_path = dir.file("stderr.log");

  ChildProcess daemon;
  SpawnOptions options;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL"};
  options.output_path = out_path;
  options.stderr_path = err_path;
  daemon.spawn({SwitchyardProcess::binary(), "run", "-c", config}, options);

  // Unroutable (dead-lettered before any handler), and routed to a handler that rejects it.
  RedisClient client = redis.client();
  client.rpush("events", envelope("evil\nFAKE LINE", "{}"));
  client.rpush("events",
               envelope("evil\r\x1b[2K\x1b[1A2026-01-01 00:00:00.000 info  forged", "{}"));
  client.rpush("events", envelope("bad\nFAKE LINE rejected", "{}"));
  ASSERT_TRUE(
      wait_until([&] { return client.llen("events:dead") == 3; }, 20s, "three dead letters"))
      << tail_file(err_path);
  ASSERT_TRUE(daemon.signal(SIGTERM));
  EXPECT_EQ(daemon.wait_exit(20s), 0) << tail_file(err_path);

  const std::string text = read_file(err_path);
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.back(), '\n');
  static const std::regex kStart(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \S+ +\S)");
  for (const std::string& line : split_lines(text)) {
    EXPECT_FALSE(line.starts_with("FAKE LINE")) << "a forged line: " << line;
    EXPECT_TRUE(std::regex_search(line, kStart)) << "a line that is not the daemon's: " << line;
    for (unsigned char c : line)
      ASSERT_FALSE(c < 0x20 || c == 0x7f) << "raw control byte " << int(c) << " in: " << line;
  }

  // The names are shown escaped, once in the fields and once in the reason.
  EXPECT_EQ(ops::lines_with(text,
                            "[source=events event=\"evil\\nFAKE LINE\" outcome=dead_letter] "
                            "dead-lettered a message: no route for event \"evil\\nFAKE LINE\"")
                .size(),
            1u)
      << text;
  EXPECT_EQ(ops::lines_with(text,
                            "event=\"evil\\r\\x1b[2K\\x1b[1A2026-01-01 00:00:00.000 info  "
                            "forged\" outcome=dead_letter]")
                .size(),
            1u)
      << text;
  EXPECT_EQ(ops::lines_with(text,
                            "[source=events event=\"bad\\nFAKE LINE rejected\" "
                            "handler=rejecter outcome=reject] handler answered reject: "
                            "rejected by reject_sink; dead-lettered")
                .size(),
            1u)
      << text;
  EXPECT_EQ(read_file(out_path), "") << "the daemon wrote to stdout";
}

}  // namespace
}  // namespace switchyard::test
