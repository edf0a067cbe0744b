// how_far_behind_test.cc: how far behind a source is (oldest age, in/out rates, drain ETA) and the
// per-handler p50/p99, from the real daemon's /metrics and from `switchyard stats` (text and
// --json), with a paused source or a slow test plugin holding the backlog back.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cmath>
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
using ops::Exposition;

class BehindTest : public ::testing::Test {
 protected:
  void SetUp() override { redis_.start(); }

  // routes.yaml: source "analytics" on list "events", every event to slow_sink sleeping sleep_ms
  // per batch of `batch`; /metrics on a free port.
  std::string write_config(int sleep_ms, int batch) {
    const std::string plugins = ops::make_plugins_dir(
        dir_, {ops::bundled_plugin("user_registered_sink"),
               ops::bundled_plugin("quote_created_sink"), ops::test_plugin("slow_sink")});
    port_ = pick_free_tcp_port();
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = plugins;
    spec.database = dir_.file("analytics.db");
    spec.source_name = "analytics";
    spec.source_key = "events";
    spec.source_extra = "batch: " + std::to_string(batch);
    spec.extra_handlers = "slow:\n  plugin: slow_sink\n  config: { path: \"" +
                          dir_.file("slow.out") + "\", sleep_ms: " + std::to_string(sleep_ms) +
                          " }";
    spec.extra_routes = "\"slow.*\": [slow]";
    spec.extra_yaml = "metrics: { listen: \"127.0.0.1:" + std::to_string(port_) + "\" }";
    return dir_.write("routes.yaml", routes_yaml(spec));
  }

  void publish(int n) {
    std::vector<std::string> events;
    for (int i = 0; i < n; ++i)
      events.push_back(envelope("slow.test", "{\"n\":" + std::to_string(i) + "}"));
    redis_.client().rpush_many("events", events, 500);
  }

  // One scrape of /metrics, parsed; false (with the reason in *error) if it fails.
  bool scrape(Exposition* e, std::string* error) {
    ops::HttpResult r = ops::http_get(port_, "/metrics");
    if (r.status != 200) {
      *error = "GET /metrics: " + std::to_string(r.status) + " " + r.error;
      return false;
    }
    *error = ops::parse_prometheus(r.body, e);
    return error->empty();
  }

  std::optional<double> gauge(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) {
    Exposition e;
    std::string error;
    if (!scrape(&e, &error)) return std::nullopt;
    auto all = labels;
    all["source"] = "analytics";
    return e.value(name, all);
  }

  // `switchyard stats --json -c config`, parsed.
  ::testing::AssertionResult stats_json(const std::string& config, rapidjson::Document* doc,
                                        std::string* text) {
    CommandResult r = SwitchyardProcess::exec({"stats", "--json", "-c", config}, 20s);
    *text = r.out;
    if (r.exit_code != 0) return ::testing::AssertionFailure() << r;
    doc->Parse(r.out.c_str());
    if (doc->HasParseError() || !doc->IsObject())
      return ::testing::AssertionFailure() << "not a JSON object:\n" << r.out;
    return ::testing::AssertionSuccess();
  }

  RedisServer redis_;
  TempDir dir_;
  int port_ = 0;
};

TEST_F(BehindTest, AStalledBacklogAgesAndNeverDrains) {
  // A paused source takes nothing at all, so no take can land in the rate window. (A stuck
  // handler would not do: the one message it took counts as a take for the next minute, and the
  // ETA then projects that rate, which is what it is for.)
  const std::string config = write_config(0, 1);
  const auto pushed = std::chrono::steady_clock::now();
  publish(5);
  CommandResult paused = SwitchyardProcess::exec({"pause", "analytics", "-c", config}, 20s);
  ASSERT_EQ(paused.exit_code, 0) << paused;
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"));
  ASSERT_TRUE(
      wait_until([&] { return gauge("switchyard_source_oldest_age_seconds").value_or(0) >= 3.0; },
                 30s, "switchyard_source_oldest_age_seconds >= 3"))
      << daemon.log_tail();
  const double age = *gauge("switchyard_source_oldest_age_seconds");
  const double since_push =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - pushed).count();
  EXPECT_LE(age, since_push + 1.0) << "older than the messages themselves";
  EXPECT_TRUE(std::isinf(*gauge("switchyard_source_drain_eta_seconds")));
  EXPECT_EQ(gauge("switchyard_source_in_rate", {{"window", "1m"}}), 0.0);
  EXPECT_EQ(gauge("switchyard_source_out_rate", {{"window", "1m"}}), 0.0);
  EXPECT_TRUE(gauge("switchyard_source_out_rate", {{"window", "5m"}}).has_value());

  rapidjson::Document doc;
  std::string text;
  ASSERT_TRUE(stats_json(config, &doc, &text));
  ASSERT_TRUE(doc.HasMember("analytics")) << text;
  const rapidjson::Value& behind = doc["analytics"]["behind"];
  EXPECT_TRUE(behind["reported"].GetBool()) << text;
  EXPECT_EQ(behind["instances"].GetInt(), 1) << text;
  EXPECT_GE(behind["oldest_age_seconds"].GetDouble(), 2.0) << text;
  EXPECT_TRUE(behind["drain_eta_seconds"].IsNull()) << text;
  EXPECT_TRUE(behind["in_rate"]["1m"].IsNumber()) << text;
  EXPECT_TRUE(behind["out_rate"]["5m"].IsNumber()) << text;
  EXPECT_EQ(doc["analytics"]["pending"].GetInt64(), 5) << text;

  CommandResult plain = SwitchyardProcess::exec({"stats", "-c", config}, 20s);
  ASSERT_EQ(plain.exit_code, 0) << plain;
  EXPECT_NE(plain.out.find("drain ETA never"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("behind: oldest "), std::string::npos) << plain.out;
  daemon.kill9();
}

TEST_F(BehindTest, WhileDrainingTheEtaIsFiniteAndHandlerLatencyIsReported) {
  // 50 ms per batch of 10: about 200 messages/s, so 4000 take about 20 s to drain.
  const std::string config = write_config(50, 10);
  publish(4000);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"));
  ASSERT_TRUE(wait_until(
      [&] {
        std::optional<double> eta = gauge("switchyard_source_drain_eta_seconds");
        return eta && std::isfinite(*eta) && *eta > 0 &&
               gauge("switchyard_source_out_rate", {{"window", "1m"}}).value_or(0) > 0;
      },
      30s, "a finite drain ETA while draining"))
      << daemon.log_tail();

  rapidjson::Document doc;
  std::string text;
  ASSERT_TRUE(wait_until(
      [&] {
        return stats_json(config, &doc, &text) &&
               doc["analytics"]["behind"]["drain_eta_seconds"].IsNumber() &&
               doc["analytics"]["handlers"].HasMember("slow") &&
               doc["analytics"]["handlers"]["slow"]["calls_1m"].GetUint64() > 0;
      },
      30s, "stats --json to show the drain ETA and the slow handler"))
      << text;
  const rapidjson::Value& slow = doc["analytics"]["handlers"]["slow"];
  // Each call sleeps 50 ms: the median lies in the (50 ms, 100 ms] bucket.
  EXPECT_GT(slow["p50_seconds"].GetDouble(), 0.05) << text;
  EXPECT_LE(slow["p50_seconds"].GetDouble(), 0.1) << text;
  EXPECT_GE(slow["p99_seconds"].GetDouble(), slow["p50_seconds"].GetDouble()) << text;
  EXPECT_GT(slow["rates_1m"]["ok"].GetDouble(), 0.0) << text;
  EXPECT_GT(doc["analytics"]["behind"]["out_rate"]["1m"].GetDouble(), 0.0) << text;

  // `stats --watch` redraws the same frame as `stats`: how far behind, and each handler.
  const std::string watched = dir_.file("watch.out");
  ChildProcess watch;
  ops::start_stats_watch(config, watched, &watch);
  ASSERT_TRUE(wait_until(
      [&] {
        const std::string out = read_file(watched);
        return out.find("behind: oldest ") != std::string::npos &&
               out.find(", drain ETA ") != std::string::npos &&
               out.find("handler slow: ok ") != std::string::npos &&
               out.find(", p99 ") != std::string::npos;
      },
      20s, "stats --watch to show how far behind and the handlers' p50/p99"))
      << read_file(watched);
  EXPECT_EQ(read_file(watched).find('\x1b'), std::string::npos)
      << "screen control codes written to a file";
  watch.kill9();

  // Drained: nothing waits, so the age and the ETA are 0.
  ASSERT_TRUE(wait_until(
      [&] {
        return gauge("switchyard_queue_depth", {{"state", "pending"}}) == 0.0 &&
               gauge("switchyard_source_drain_eta_seconds") == 0.0 &&
               gauge("switchyard_source_oldest_age_seconds") == 0.0;
      },
      60s, "the backlog drained, ETA and age 0"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(20s), 0) << daemon.log_tail();
}

// A burst pushed while the daemon runs: the ETA follows the drain (finite, and falling) instead
// of counting the burst as a steady arrival rate for the next minute ("never" all along).
TEST_F(BehindTest, AfterABurstTheEtaFollowsTheDrain) {
  // 50 ms per batch of 10: about 200 messages/s, so 4000 take about 20 s to drain.
  const std::string config = write_config(50, 10);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"));
  // A sample of the empty source first, so that the burst lands inside the rate window.
  ASSERT_TRUE(wait_until([&] { return gauge("switchyard_source_drain_eta_seconds") == 0.0; }, 30s,
                         "the first sample"))
      << daemon.log_tail();
  publish(4000);
  std::optional<double> eta;
  ASSERT_TRUE(wait_until(
      [&] {
        eta = gauge("switchyard_source_drain_eta_seconds");
        return eta && std::isfinite(*eta) && *eta > 0;
      },
      30s, "a finite drain ETA while the burst drains"))
      << "last ETA " << eta.value_or(-1) << "\n"
      << daemon.log_tail();
  EXPECT_GT(gauge("switchyard_queue_depth", {{"state", "pending"}}).value_or(0), 0.0);
  daemon.kill9();
}

// Messages that arrived after the last sample saw an empty source: `stats` says the ETA is not
// sampled yet (instead of the 0 s of the empty source), and how old the sample is.
TEST_F(BehindTest, StatsDoesNotShowAnEtaSampledBeforeTheBacklogArrived) {
  const std::string config = write_config(0, 10);
  RedisClient client = redis_.client();
  Reply t = client.command({"TIME"});
  const int64_t now_ms =
      std::stoll(t.elements.at(0).str) * 1000 + std::stoll(t.elements.at(1).str) / 1000;
  client.command({"HSET", "events:stats", "instance:web-1",
                  "{\"at_ms\":" + std::to_string(now_ms - 1500) +
                      ",\"pending\":0,\"in_1m\":0,\"out_1m\":0,\"oldest_age_seconds\":0,"
                      "\"drain_eta_seconds\":0}"});
  publish(50);
  CommandResult r = SwitchyardProcess::exec({"stats", "-c", config}, 20s);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("pending 50,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("drain ETA not sampled yet, 1 instance(s), sampled "), std::string::npos)
      << r.out;
  rapidjson::Document doc;
  std::string text;
  ASSERT_TRUE(stats_json(config, &doc, &text));
  EXPECT_EQ(doc["analytics"]["behind"]["sampled_pending"].GetInt64(), 0) << text;
  EXPECT_GE(doc["analytics"]["behind"]["sampled_seconds_ago"].GetDouble(), 1.5) << text;
}

}  // namespace
}  // namespace switchyard::test
