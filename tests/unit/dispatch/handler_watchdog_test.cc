// handler_watchdog_test.cc: CallWatch records the call a worker is in, consistently across
// threads; HandlerWatchdog reports a call past its handler_timeout once (log, counter, gauge,
// reason) and clears it when the call returns; the Dispatcher records its real handler calls,
// also those it runs at once on its lane threads.
#include "dispatch/handler_watchdog.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <sstream>
#include <thread>

#include "config/config_loader.h"
#include "dispatch/dispatcher.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

size_t count_of(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// Captures what the default logger writes while it lives.
class CapturedLog {
 public:
  CapturedLog() : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(text_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("test", sink));
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return text_.str(); }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream text_;
};

TEST(CallWatchTest, ShowsTheCallInProgressOnly) {
  CallWatch watch;
  CallWatch::Call c;
  EXPECT_FALSE(watch.running(&c));
  watch.begin("quotes_db", "quote.created", 17, 60000, 5000);
  ASSERT_TRUE(watch.running(&c));
  EXPECT_EQ(c.handler, "quotes_db");
  EXPECT_EQ(c.event, "quote.created");
  EXPECT_EQ(c.events, 17u);
  EXPECT_EQ(c.timeout_ms, 60000);
  EXPECT_EQ(c.started_ms, 5000);
  watch.end();
  EXPECT_FALSE(watch.running(&c));
  // A name longer than the slot is cut, and says so.
  const std::string long_event(300, 'e');
  watch.begin("h", long_event, 1, 1000, 6000);
  ASSERT_TRUE(watch.running(&c));
  EXPECT_EQ(c.event, std::string(CallWatch::kTextBytes, 'e') + "...");
  EXPECT_EQ(c.handler, "h");
}

// A reader never sees half of one call and half of another.
TEST(CallWatchTest, AReaderNeverSeesAMixOfTwoCalls) {
  CallWatch watch;
  std::atomic<bool> stop{false};
  std::thread worker([&] {
    for (int64_t i = 1; !stop.load(); ++i) {
      const std::string n = std::to_string(i % 1000);
      watch.begin("handler-" + n, "event-" + n + std::string(i % 200, 'x'), i % 1000, i, i);
      watch.end();
    }
  });
  int seen = 0;
  for (int k = 0; k < 200000 || seen == 0; ++k) {
    CallWatch::Call c;
    if (!watch.running(&c)) continue;
    ++seen;
    const std::string n = std::to_string(c.events);
    ASSERT_EQ(c.handler, "handler-" + n);
    ASSERT_EQ(c.event.rfind("event-" + n, 0), 0u) << c.event;
    ASSERT_EQ(c.timeout_ms % 1000, static_cast<int64_t>(c.events));
    ASSERT_EQ(c.started_ms, c.timeout_ms);
  }
  stop = true;
  worker.join();
}

TEST(HandlerWatchdogTest, ACallPastItsTimeoutIsReportedOnceUntilItReturns) {
  CapturedLog log;
  Metrics metrics;
  metrics.set_handlers({"quotes_db"});
  HandlerWatchdog watchdog(&metrics);
  CallWatch* idle = watchdog.add("other");
  (void)idle;
  CallWatch* watch = watchdog.add("events");
  watch->begin("quotes_db", "quote.created", 3, 1000, 10'000);

  EXPECT_TRUE(watchdog.check(10'900));
  EXPECT_EQ(watchdog.unhealthy_reason(), "");
  EXPECT_THAT(metrics.render(), HasSubstr("switchyard_handler_stuck{handler=\"quotes_db\"} 0\n"));
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_handler_timeouts_total{handler=\"quotes_db\"} 0\n"));

  EXPECT_FALSE(watchdog.check(11'500));
  EXPECT_EQ(watchdog.unhealthy_reason(),
            "handler quotes_db stuck for 1.5 s (handler_timeout 1 s) on event quote.created, "
            "source events");
  for (int64_t now = 11'600; now < 20'000; now += 100) EXPECT_FALSE(watchdog.check(now));
  EXPECT_THAT(watchdog.unhealthy_reason(), HasSubstr("stuck for 9.9 s"));
  const std::string text = log.text();
  EXPECT_EQ(count_of(text, "stuck: one call"), 1u) << text;
  EXPECT_THAT(text, HasSubstr("handler quotes_db stuck: one call has been running for 1.5 s on 3 "
                              "message(s), longer than its handler_timeout of 1 s"));
  EXPECT_THAT(text, HasSubstr("raise handlers.quotes_db.handler_timeout"));
  EXPECT_THAT(metrics.render(), HasSubstr("switchyard_handler_stuck{handler=\"quotes_db\"} 1\n"));
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_handler_timeouts_total{handler=\"quotes_db\"} 1\n"));

  watch->end();
  EXPECT_TRUE(watchdog.check(20'100));
  EXPECT_EQ(watchdog.unhealthy_reason(), "");
  EXPECT_THAT(log.text(), HasSubstr("handler quotes_db returned after more than 10.1 s"));
  EXPECT_THAT(metrics.render(), HasSubstr("switchyard_handler_stuck{handler=\"quotes_db\"} 0\n"));

  // The next call that hangs is a new timeout.
  watch->begin("quotes_db", "quote.created", 1, 1000, 30'000);
  EXPECT_FALSE(watchdog.check(31'001));
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_handler_timeouts_total{handler=\"quotes_db\"} 2\n"));
  EXPECT_EQ(count_of(log.text(), "stuck: one call"), 2u);
}

// A pipeline from routes.yaml text, with its plugins loaded from the test plugin directory.
std::shared_ptr<const Pipeline> pipeline_of(const test::TempDir& dir, const std::string& yaml) {
  auto config = std::make_shared<Config>();
  Status s = load_config_from_string(yaml, dir.file("routes.yaml"), dir.path(), config.get());
  EXPECT_TRUE(s.is_ok()) << s.message();
  std::shared_ptr<const Pipeline> pipeline;
  s = build_pipeline(config, SWITCHYARD_TEST_PLUGIN_DIR, nullptr, &pipeline);
  EXPECT_TRUE(s.is_ok()) << s.message();
  return pipeline;
}

// The Dispatcher records its real handler call (a slow test plugin) with the handler's
// handler_timeout from routes.yaml, and clears it when the call returns.
TEST(HandlerWatchdogTest, TheDispatcherRecordsEachHandlerCall) {
  CapturedLog log;
  test::TempDir dir;
  auto pipeline = pipeline_of(dir,
                              "version: 1\n"
                              "sources:\n  events: {key: events}\n"
                              "handlers:\n"
                              "  slow: {plugin: slow_sink, handler_timeout: 7s, config: {path: \"" +
                                  dir.file("slow.jsonl") +
                                  "\", sleep_ms: 400}}\n"
                                  "routes:\n  a.slow: [slow]\n");
  ASSERT_TRUE(pipeline);
  Metrics metrics;
  HandlerWatchdog watchdog(&metrics);
  Dispatcher dispatcher(pipeline->config->sources.at(0), "host:1", &metrics,
                        [] { return int64_t{0}; });
  dispatcher.set_watchdog(&watchdog);

  const std::string message = R"({"event":"a.slow","payload":{}})";
  TakenBatch batch;
  batch.messages = {message, message};
  AckWrites writes;
  std::thread worker([&] { dispatcher.dispatch(*pipeline, batch, &writes); });
  // Looked at an hour later, the call in progress is past its timeout.
  const auto later = [] { return HandlerWatchdog::now_ms() + 3'600'000; };
  test::wait_until([&] { return !watchdog.check(later()); }, 10s, "the call to show");
  worker.join();
  EXPECT_THAT(watchdog.unhealthy_reason(), HasSubstr("handler slow stuck for 3600"));
  EXPECT_THAT(watchdog.unhealthy_reason(),
              HasSubstr("(handler_timeout 7 s) on event a.slow, source events"));
  EXPECT_THAT(log.text(), HasSubstr("one call has been running for 3600"));
  EXPECT_THAT(log.text(), HasSubstr(" s on 2 message(s)"));
  EXPECT_TRUE(watchdog.check(later()));  // returned
  EXPECT_TRUE(writes.dead_letters.empty());
  EXPECT_TRUE(writes.retries.empty());
}

// A stuck call among several of one batch, each on its own lane thread, is seen and reported
// while the others have returned; the batch ends when it returns.
TEST(HandlerWatchdogTest, AStuckCallAmongSeveralAtOnceIsReported) {
  CapturedLog log;
  test::TempDir dir;
  auto pipeline =
      pipeline_of(dir,
                  "version: 1\n"
                  "sources:\n  events: {key: events, handlers_at_once: true}\n"
                  "handlers:\n"
                  "  first: {plugin: noop_sink}\n"
                  "  stuck: {plugin: slow_sink, handler_timeout: 5s, config: {path: \"" +
                      dir.file("slow.jsonl") +
                      "\", sleep_ms: 1500}}\n"
                      "  third: {plugin: noop_sink}\n"
                      "routes:\n  a.all: [first, stuck, third]\n");
  ASSERT_TRUE(pipeline);
  Metrics metrics;
  metrics.set_handlers({"first", "stuck", "third"});
  HandlerWatchdog watchdog(&metrics);
  Dispatcher dispatcher(pipeline->config->sources.at(0), "host:1", &metrics,
                        [] { return int64_t{0}; });
  dispatcher.set_watchdog(&watchdog);

  const std::string message = R"({"event":"a.all","payload":{}})";
  TakenBatch batch;
  batch.messages = {message, message, message};
  AckWrites writes;
  std::thread worker([&] { dispatcher.dispatch(*pipeline, batch, &writes); });
  // Ten seconds on, only the slow call (1.5 s) can still be running: past its 5 s timeout.
  const auto later = [] { return HandlerWatchdog::now_ms() + 10'000; };
  EXPECT_TRUE(
      test::wait_until([&] { return !watchdog.check(later()); }, 10s, "the stuck call to show"));
  worker.join();
  EXPECT_THAT(watchdog.unhealthy_reason(), HasSubstr("handler stuck stuck for "));
  EXPECT_THAT(watchdog.unhealthy_reason(), Not(HasSubstr("handler first")));
  EXPECT_THAT(watchdog.unhealthy_reason(), Not(HasSubstr("handler third")));
  EXPECT_THAT(log.text(), HasSubstr("handler stuck stuck: one call has been running for "));
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_handler_timeouts_total{handler=\"stuck\"} 1\n"));
  EXPECT_TRUE(watchdog.check(later()));  // returned: healthy again
  EXPECT_THAT(metrics.render(), HasSubstr("switchyard_handler_stuck{handler=\"stuck\"} 0\n"));
  EXPECT_TRUE(writes.dead_letters.empty());
  EXPECT_TRUE(writes.retries.empty());
}

}  // namespace
}  // namespace switchyard
