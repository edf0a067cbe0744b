// metrics_endpoint_test.cc: /metrics, /healthz and /readyz of the real daemon, scraped with a real
// HTTP client (cpp-httplib) and checked with a strict Prometheus text parser.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "switchyard/plugin.h"
#include "switchyard/version.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ops::Exposition;
using ops::http_get;
using ops::parse_prometheus;

// ------------------------------------------------------------------ the parser itself

TEST(PrometheusParserTest, AcceptsAWellFormedExposition) {
  Exposition e;
  std::string text =
      "# HELP a_total Things.\n# TYPE a_total counter\na_total{x=\"q\\\"\\\\\\n\",y=\"\"} 3\n"
      "a_total{x=\"2\",} 4 1700000000000\n"
      "# a comment\n"
      "# TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 2\n"
      "h_sum 0.7\nh_count 2\n# TYPE g gauge\ng -1.5e3\ng{a=\"b\"} NaN\n";
  ASSERT_EQ(parse_prometheus(text, &e), "");
  EXPECT_EQ(e.value("a_total", {{"x", "q\"\\\n"}}), 3.0);
  EXPECT_EQ(e.value("h_count"), 2.0);
  EXPECT_EQ(e.value("g", {{"a", "b"}}).has_value(), true);
  EXPECT_EQ(e.types.at("h"), "histogram");
  EXPECT_EQ(e.help.at("a_total"), "Things.");
}

TEST(PrometheusParserTest, RejectsMalformedExpositions) {
  const std::vector<std::string> bad = {
      "# TYPE a counter\na 1",                                     // no final newline
      "a 1\n",                                                     // no TYPE
      "# TYPE a counter\na{x=1} 1\n",                              // unquoted label value
      "# TYPE a counter\na{x=\"\\t\"} 1\n",                        // invalid escape
      "# TYPE a counter\na{x=\"1\",x=\"2\"} 1\n",                  // duplicate label
      "# TYPE a counter\na 1\na 2\n",                              // duplicate series
      "# TYPE a counter\na -1\n",                                  // negative counter
      "# TYPE a counter\na one\n",                                 // bad value
      "# TYPE a counter\na{1x=\"1\"} 1\n",                         // bad label name
      "# TYPE a countr\na 1\n",                                    // unknown type
      "# TYPE a counter\n# TYPE a counter\na 1\n",                 // two TYPEs
      "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"1\"} 1\n",  // family not one group
      "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
      "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",     // no +Inf
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",  // count != +Inf
      "# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_count 2\n",           // no sum
      "# TYPE a gauge\na  {x=\"1\"} 1\n",                                   // space before {
  };
  for (const std::string& text : bad) {
    Exposition e;
    EXPECT_NE(parse_prometheus(text, &e), "") << "accepted:\n" << text;
  }
}

// ------------------------------------------------------------------ the daemon's endpoint

// Scrapes /metrics and parses it; fails the test (fatally for the caller via the flag) if the
// scrape or the parse fails.
::testing::AssertionResult scrape(int port, Exposition* e, std::string* body = nullptr) {
  ops::HttpResult r = http_get(port, "/metrics");
  if (r.status != 200)
    return ::testing::AssertionFailure() << "GET /metrics: " << r.status << " " << r.error;
  if (r.content_type.find("text/plain") != 0 ||
      r.content_type.find("version=0.0.4") == std::string::npos)
    return ::testing::AssertionFailure() << "Content-Type " << r.content_type;
  std::string error = parse_prometheus(r.body, e);
  if (!error.empty())
    return ::testing::AssertionFailure() << "not Prometheus text: " << error << "\n" << r.body;
  if (body) *body = r.body;
  return ::testing::AssertionSuccess();
}

TEST(MetricsEndpointTest, CountersMatchWhatWasPublishedAndReadinessFollowsRedis) {
  constexpr int64_t kEvents = 2000;
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir,
      {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink")});
  const int port = pick_free_tcp_port();
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.source_name = "analytics";
  spec.source_key = "events";
  spec.source_extra = "batch: 64";
  spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port) + "\" }";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("switchyard.log"));
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/healthz").status == 200; }, 20s,
                         "/healthz to answer"))
      << daemon.log_tail();

  // Before any event: it parses, the reload counters and build info are there.
  Exposition e;
  std::string body;
  ASSERT_TRUE(scrape(port, &e, &body));
  EXPECT_EQ(e.value("switchyard_config_reloads_total", {{"result", "success"}}), 0.0) << body;
  EXPECT_EQ(e.value("switchyard_config_reloads_total", {{"result", "failure"}}), 0.0) << body;
  EXPECT_EQ(e.value("switchyard_build_info", {{"version", SWITCHYARD_VERSION_STRING},
                                              {"abi", std::to_string(SWITCHYARD_ABI_VERSION)}}),
            1.0)
      << body;
  EXPECT_EQ(e.value("switchyard_redis_up"), 1.0) << body;
  for (const char* family :
       {"switchyard_events_received_total", "switchyard_events_handled_total",
        "switchyard_handler_duration_seconds", "switchyard_queue_depth", "switchyard_redis_up",
        "switchyard_config_reloads_total", "switchyard_build_info"}) {
    EXPECT_TRUE(e.types.count(family)) << "no TYPE line for " << family << "\n" << body;
    EXPECT_TRUE(e.help.count(family)) << "no HELP line for " << family << "\n" << body;
  }
  EXPECT_EQ(e.types["switchyard_events_received_total"], "counter");
  EXPECT_EQ(e.types["switchyard_events_handled_total"], "counter");
  EXPECT_EQ(e.types["switchyard_handler_duration_seconds"], "histogram");
  EXPECT_EQ(e.types["switchyard_queue_depth"], "gauge");

  RedisClient client = redis.client();
  client.rpush_many("events", mixed_events(kEvents), 100);
  ASSERT_TRUE(wait_until(
      [&] {
        Exposition now;
        return scrape(port, &now) &&
               now.value("switchyard_events_handled_total",
                         {{"handler", "users_db"}, {"outcome", "ok"}}) == kEvents / 2 &&
               now.value("switchyard_events_handled_total",
                         {{"handler", "quotes_db"}, {"outcome", "ok"}}) == kEvents / 2 &&
               now.value("switchyard_queue_depth", {{"state", "inflight"}}) == 0.0;
      },
      30s, "both handlers to have handled their events"))
      << daemon.log_tail();
  ASSERT_TRUE(scrape(port, &e, &body));
  EXPECT_EQ(e.value("switchyard_events_received_total", {{"source", "analytics"}}), kEvents)
      << body;
  EXPECT_EQ(e.all("switchyard_events_received_total").size(), 1u) << body;
  // Every handled sample is ok and there are exactly these two handlers.
  std::set<std::string> handlers;
  for (const ops::Sample& s : e.all("switchyard_events_handled_total")) {
    handlers.insert(s.labels.at("handler"));
    EXPECT_EQ(s.labels.at("outcome"), "ok") << body;
  }
  EXPECT_EQ(handlers, (std::set<std::string>{"users_db", "quotes_db"})) << body;
  for (const char* handler : {"users_db", "quotes_db"}) {
    std::optional<double> count =
        e.value("switchyard_handler_duration_seconds_count", {{"handler", handler}});
    ASSERT_TRUE(count.has_value()) << handler << "\n" << body;
    // One observation per handle_batch call: at least one, at most one per event.
    EXPECT_GE(*count, 1.0) << body;
    EXPECT_LE(*count, kEvents / 2.0) << body;
    EXPECT_GT(*e.value("switchyard_handler_duration_seconds_sum", {{"handler", handler}}), 0.0);
  }
  for (const char* state : {"pending", "inflight", "retry", "dead"}) {
    EXPECT_EQ(e.value("switchyard_queue_depth", {{"source", "analytics"}, {"state", state}}), 0.0)
        << state << "\n"
        << body;
  }
  EXPECT_EQ(count_rows(dir.file("analytics.db"), "user_registrations"), kEvents / 2);
  EXPECT_EQ(count_rows(dir.file("analytics.db"), "quotes"), kEvents / 2);

  // An unroutable and a malformed message: dead-lettered, and the dead gauge shows them.
  client.rpush("events", envelope("nobody.listens", "{}"));
  client.rpush("events", "not json");
  ASSERT_TRUE(wait_until(
      [&] {
        Exposition now;
        return scrape(port, &now) && now.value("switchyard_queue_depth",
                                               {{"source", "analytics"}, {"state", "dead"}}) == 2.0;
      },
      10s, "switchyard_queue_depth{state=\"dead\"} to be 2"))
      << daemon.log_tail();
  ASSERT_TRUE(scrape(port, &e, &body));
  EXPECT_EQ(e.value("switchyard_events_received_total", {{"source", "analytics"}}), kEvents + 2)
      << body;

  // Readiness follows Redis; liveness does not.
  ops::HttpResult ready = http_get(port, "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body << ready.error;
  redis.stop();
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/readyz").status == 503; }, 15s,
                         "/readyz to answer 503 with Redis stopped"))
      << daemon.log_tail();
  EXPECT_EQ(http_get(port, "/healthz").status, 200);
  ASSERT_TRUE(scrape(port, &e, &body)) << "with Redis down";
  EXPECT_EQ(e.value("switchyard_redis_up"), 0.0) << body;
  EXPECT_TRUE(e.all("switchyard_queue_depth").empty()) << body;
  EXPECT_EQ(e.value("switchyard_events_received_total", {{"source", "analytics"}}), kEvents + 2);

  redis.restart();
  ASSERT_TRUE(wait_until([&] { return http_get(port, "/readyz").status == 200; }, 15s,
                         "/readyz to answer 200 again after Redis restarted"))
      << daemon.log_tail();
  ASSERT_TRUE(scrape(port, &e, &body));
  EXPECT_EQ(e.value("switchyard_redis_up"), 1.0) << body;

  // And the daemon consumes again: the counters keep counting from where they were.
  RedisClient again = redis.client();
  again.rpush_many("events", mixed_events(10, 5001));
  ASSERT_TRUE(wait_until(
      [&] {
        Exposition now;
        return scrape(port, &now) &&
               now.value("switchyard_events_handled_total",
                         {{"handler", "users_db"}, {"outcome", "ok"}}) == kEvents / 2 + 5;
      },
      30s, "events published after the Redis restart to be handled"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test
