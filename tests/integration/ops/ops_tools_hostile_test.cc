// ops_tools_hostile_test.cc: `stats` and `stats --watch` against Redis state written by someone
// else: K:stats snapshots of the wrong shape, absurd numbers or a date in the future, and consumer
// names carrying terminal escapes. Each is shown for what it is (or ignored), never trusted
// blindly, never printed raw.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <string>

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

class OpsToolsHostileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = ops::make_plugins_dir(dir_, {ops::bundled_plugin("user_registered_sink"),
                                                    ops::bundled_plugin("quote_created_sink")});
    spec.database = dir_.file("analytics.db");
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
  }
  // Redis' clock in ms.
  int64_t redis_ms() {
    RedisClient client = redis_.client();
    Reply t = client.command({"TIME"});
    return std::stoll(t.elements.at(0).str) * 1000 + std::stoll(t.elements.at(1).str) / 1000;
  }

  RedisServer redis_;
  TempDir dir_;
  std::string config_;
};

// Snapshots of every wrong shape, absurd figures (out of any integer's range), and one dated an
// hour ahead: stats neither crashes nor counts them as a running instance.
TEST_F(OpsToolsHostileTest, GarbageAndFutureSnapshotsInKStatsAreNotReported) {
  RedisClient client = redis_.client();
  const std::string now = std::to_string(redis_ms());
  const std::string future = std::to_string(redis_ms() + 3600 * 1000);
  for (const auto& [field, value] : std::vector<std::pair<std::string, std::string>>{
           {"instance:future", "{\"at_ms\":" + future + ",\"oldest_age_seconds\":999}"},
           {"instance:huge", "{\"at_ms\":1e300,\"in_1m\":1e308}"},
           {"instance:notjson", "{\"at_ms\":"},
           {"instance:array", "[1,2,3]"},
           {"instance:handlers",
            "{\"at_ms\":" + now +
                ",\"handlers\":{\"a\":5,\"b\":{\"calls_1m\":1e300,\"rates_1m\":7,"
                "\"buckets_1m\":{\"x\":1}},\"c\":{\"calls_1m\":-4,\"rates_1m\":{\"ok\":\"x\"},"
                "\"buckets_1m\":[-1,1e300,\"s\"]}}}"},
           {"head", "garbage"}})
    client.command({"HSET", "events:stats", field, value});

  CommandResult r = SwitchyardProcess::exec({"stats", "--json", "-c", config_}, 20s);
  ASSERT_EQ(r.exit_code, 0) << r;
  rapidjson::Document doc;
  doc.Parse(r.out.c_str());
  ASSERT_FALSE(doc.HasParseError()) << r.out;
  const rapidjson::Value& behind = doc["events"]["behind"];
  EXPECT_EQ(behind["instances"].GetInt(), 1) << r.out;  // "handlers" only: the rest is not
  EXPECT_EQ(behind["oldest_age_seconds"].GetDouble(), 0.0) << r.out;
  const rapidjson::Value& handlers = doc["events"]["handlers"];
  ASSERT_TRUE(handlers.HasMember("c")) << r.out;
  EXPECT_EQ(handlers["c"]["calls_1m"].GetUint64(), 0u) << r.out;
  if (handlers.HasMember("b")) {
    EXPECT_EQ(handlers["b"]["calls_1m"].GetUint64(), 0u) << r.out;
  }

  r = SwitchyardProcess::exec({"stats", "-c", config_}, 20s);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.find("999"), std::string::npos) << r.out;
}

// A consumer name with terminal escapes (K:owners is writable by anyone with access to Redis) is
// printed escaped by `stats --watch` as by `stats`.
TEST_F(OpsToolsHostileTest, WatchPrintsConsumerNamesEscaped) {
  RedisClient client = redis_.client();
  client.command({"HSET", "events:inflight", "events:inflight:x", "evil\x1b]0;owned\x07\x1b[2J"});
  client.command({"RPUSH", "events:inflight:x", user_registered(1)});
  const std::string watched = dir_.file("watch.out");
  ChildProcess watch;
  ops::start_stats_watch(config_, watched, &watch);
  ASSERT_TRUE(wait_until([&] { return read_file(watched).find("evil") != std::string::npos; }, 20s,
                         "stats --watch to show the consumer"))
      << read_file(watched);
  watch.kill9();
  const std::string out = read_file(watched);
  EXPECT_NE(out.find("evil\\x1b]0;owned\\x07\\x1b[2J"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
}

// Redis answering with an error (a key of another type than Switchyard writes) is not an outage:
// `stats --watch` says that Redis refused, with its reply, and goes on redrawing.
TEST_F(OpsToolsHostileTest, WatchTellsAnErrorReplyFromAnUnreachableRedis) {
  RedisClient client = redis_.client();
  client.command({"SET", "events:dead", "not a list"});
  const std::string watched = dir_.file("watch.out");
  ChildProcess watch;
  ops::start_stats_watch(config_, watched, &watch);
  ASSERT_TRUE(wait_until([&] { return read_file(watched).find("WRONGTYPE") != std::string::npos; },
                         20s, "stats --watch to show the error reply"))
      << read_file(watched);
  watch.kill9();
  const std::string out = read_file(watched);
  EXPECT_NE(out.find("Redis refused: "), std::string::npos) << out;
  EXPECT_EQ(out.find("unreachable"), std::string::npos) << out;
}

}  // namespace
}  // namespace switchyard::test
