// dispatcher_test.cc: the Dispatcher, with real plugins through the real loader and no Redis,
// turns a taken batch into the writes of its ack and leased retries into their settlements, and
// calls the handlers of one batch at once.
#include "dispatch/dispatcher.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

#include "config/config_loader.h"
#include "support/temp_dir.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kNow = 1'700'000'000'000;

DeadLetter decoded(const std::string& json) {
  DeadLetter d;
  std::string error;
  EXPECT_TRUE(decode_dead_letter(json, &d, &error)) << error << ": " << json;
  return d;
}

class DispatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto config = std::make_shared<Config>();
    const std::string yaml =
        "version: 1\n"
        "sources:\n  events: {key: events, max_deliveries: 3, handlers_at_once: true}\n"
        "handlers:\n"
        "  noop: {plugin: noop_sink}\n"
        "  rejecter: {plugin: reject_sink}\n"
        "  flaky: {plugin: flaky_sink, config: {path: \"" +
        dir_.file("flaky.jsonl") +
        "\", fail_times: 1000}}\n"
        "routes:\n  a.ok: [noop]\n  a.rejected: [rejecter]\n  a.flaky: [flaky]\n"
        "retry: {max_attempts: 3, initial_backoff: 100ms, max_backoff: 1s}\n";
    Status s = load_config_from_string(yaml, dir_.file("routes.yaml"), dir_.path(), config.get());
    ASSERT_TRUE(s.is_ok()) << s.message();
    s = build_pipeline(config, SWITCHYARD_TEST_PLUGIN_DIR, nullptr, &pipeline_);
    ASSERT_TRUE(s.is_ok()) << s.message();
    dispatcher_ = std::make_unique<Dispatcher>(config->sources.at(0), "host:1", &metrics_,
                                               [] { return kNow; });
  }

  test::TempDir dir_;
  Metrics metrics_;
  std::shared_ptr<const Pipeline> pipeline_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

TEST_F(DispatcherTest, ABatchBecomesDeadLettersAndRetriesForItsAck) {
  const std::string ok = R"({"event":"a.ok","payload":{}})";
  const std::string rejected = R"({"event":"a.rejected","payload":{}})";
  const std::string flaky = R"({"event":"a.flaky","payload":{}})";
  const std::string broken = "not json";
  const std::string unrouted = R"({"event":"a.nobody","payload":{}})";
  TakenBatch batch;
  batch.messages = {ok, rejected, flaky, broken, unrouted};
  AckWrites writes;
  writes.dead_letters.push_back("left over from an earlier batch");
  dispatcher_->dispatch(*pipeline_, batch, &writes);

  // Those that reach no handler first, in batch order, then the handlers' answers.
  ASSERT_EQ(writes.dead_letters.size(), 3u);
  const DeadLetter undecodable = decoded(writes.dead_letters[0]);
  EXPECT_EQ(undecodable.message, broken);
  EXPECT_FALSE(undecodable.handler.has_value());
  const DeadLetter no_route = decoded(writes.dead_letters[1]);
  EXPECT_EQ(no_route.message, unrouted);
  EXPECT_THAT(no_route.reason, HasSubstr("no route for event \"a.nobody\""));
  const DeadLetter reject = decoded(writes.dead_letters[2]);
  EXPECT_EQ(reject.message, rejected);
  EXPECT_EQ(reject.handler, "rejecter");
  EXPECT_EQ(reject.reason, "rejected by reject_sink");
  EXPECT_EQ(reject.attempts, 1);
  EXPECT_EQ(reject.source, "events");
  EXPECT_EQ(reject.instance, "host:1");

  ASSERT_EQ(writes.retries.size(), 1u);
  EXPECT_EQ(writes.retries[0].first, kNow + 100);  // attempt 1: [50, 100] ms, at least initial
  RetryEntry entry;
  ASSERT_TRUE(decode_retry_entry(writes.retries[0].second, &entry));
  EXPECT_EQ(entry.attempt, 2);
  EXPECT_EQ(entry.handler, "flaky");
  EXPECT_EQ(entry.message, flaky);
  EXPECT_EQ(entry.first_failed_ms, kNow);
}

TEST_F(DispatcherTest, LeasedRetriesAreRescheduledGivenUpOrDone) {
  auto leased = [](int attempt, const std::string& handler, const std::string& message,
                   int leases = 1) {
    LeasedRetry l;
    l.entry.attempt = attempt;
    l.entry.leases = leases;
    l.entry.first_failed_ms = kNow - 5000;
    l.entry.handler = handler;
    l.entry.message = message;
    l.member = encode_retry_entry(l.entry);
    return l;
  };
  const std::string flaky = R"({"event":"a.flaky","payload":{}})";
  const std::string ok = R"({"event":"a.ok","payload":{}})";
  std::vector<LeasedRetry> entries = {
      leased(2, "flaky", flaky),       // retried again: attempt 3
      leased(3, "flaky", flaky),       // the last attempt: given up
      leased(2, "noop", ok),           // handled
      leased(2, "gone", ok),           // its handler left routes.yaml
      leased(2, "flaky", flaky, 4),    // leased past max_deliveries (3)
      leased(2, "flaky", "not json"),  // no longer decodable
  };
  LeasedRetry malformed;
  malformed.member = "garbage";
  malformed.malformed = true;
  entries.push_back(malformed);

  std::vector<RetrySettlement> settlements;
  dispatcher_->run_retries(*pipeline_, entries, "events:retry", &settlements);
  ASSERT_EQ(settlements.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) EXPECT_EQ(settlements[i].member, entries[i].member);

  ASSERT_EQ(settlements[0].kind, RetrySettlement::kReschedule);
  EXPECT_GE(settlements[0].due_ms, kNow + 100);  // attempt 2: [100, 200] ms
  EXPECT_LE(settlements[0].due_ms, kNow + 200);
  RetryEntry next;
  ASSERT_TRUE(decode_retry_entry(settlements[0].data, &next));
  EXPECT_EQ(next.attempt, 3);
  EXPECT_EQ(next.leases, 0);
  EXPECT_EQ(next.first_failed_ms, kNow - 5000);

  ASSERT_EQ(settlements[1].kind, RetrySettlement::kDeadLetter);
  DeadLetter d = decoded(settlements[1].data);
  EXPECT_THAT(d.reason, HasSubstr("gave up after 3 attempts: "));
  EXPECT_EQ(d.attempts, 3);
  EXPECT_EQ(d.handler, "flaky");

  EXPECT_EQ(settlements[2].kind, RetrySettlement::kDone);

  ASSERT_EQ(settlements[3].kind, RetrySettlement::kDeadLetter);
  EXPECT_THAT(decoded(settlements[3].data).reason, HasSubstr("handler gone is no longer in "));

  ASSERT_EQ(settlements[4].kind, RetrySettlement::kDeadLetter);
  EXPECT_EQ(decoded(settlements[4].data).reason, "exceeded max deliveries (3)");

  ASSERT_EQ(settlements[5].kind, RetrySettlement::kDeadLetter);
  EXPECT_EQ(decoded(settlements[5].data).message, "not json");

  ASSERT_EQ(settlements[6].kind, RetrySettlement::kDeadLetter);
  d = decoded(settlements[6].data);
  EXPECT_EQ(d.message, "garbage");
  EXPECT_EQ(d.reason, "malformed entry in events:retry (not written by switchyard)");
}

TEST_F(DispatcherTest, RouteDecidesWhereAMessageGoesWithoutAnyHandlerLoaded) {
  std::shared_ptr<const Pipeline> routing;
  Status s = build_routing_only(pipeline_->config, &routing);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_TRUE(routing->handlers.instances.empty());
  Envelope envelope;
  std::vector<int> handlers;
  std::string reason;
  int attempts = 0;
  auto route = [&](std::string_view message, std::string_view refusal = {},
                   int64_t deliveries = 0) {
    reason.clear();
    return dispatcher_->route(*routing, message, refusal, deliveries, &envelope, &handlers, &reason,
                              &attempts);
  };

  EXPECT_EQ(route(R"({"event":"a.flaky","payload":{}})"), Dispatcher::Route::kHandlers);
  EXPECT_EQ(envelope.event, "a.flaky");
  EXPECT_EQ(handlers, std::vector<int>{routing->handler_index("flaky")});

  EXPECT_EQ(route(R"({"event":"a.nobody","payload":{}})"), Dispatcher::Route::kDeadLetter);
  EXPECT_THAT(reason, HasSubstr("no route for event \"a.nobody\""));
  EXPECT_TRUE(handlers.empty());

  EXPECT_EQ(route("not json"), Dispatcher::Route::kDeadLetter);
  EXPECT_THAT(reason, HasSubstr("invalid JSON"));
  EXPECT_EQ(envelope.event, "");

  EXPECT_EQ(route("x", "entry deleted before its ack", 2), Dispatcher::Route::kDeadLetter);
  EXPECT_EQ(reason, "entry deleted before its ack");
  EXPECT_EQ(attempts, 2);

  EXPECT_EQ(route(R"({"event":"a.ok","payload":{}})", {}, 4), Dispatcher::Route::kDeadLetter);
  EXPECT_EQ(reason, "exceeded max deliveries (3)");

  // unrouted: drop.
  auto config = std::make_shared<Config>(*routing->config);
  config->unrouted = Unrouted::kDrop;
  ASSERT_TRUE(build_routing_only(config, &routing).is_ok());
  EXPECT_EQ(route(R"({"event":"a.nobody","payload":{}})"), Dispatcher::Route::kDrop);
  EXPECT_EQ(Dispatcher::route_event(*routing, "a.ok", &handlers, &reason),
            Dispatcher::Route::kHandlers);
  EXPECT_EQ(handlers, std::vector<int>{routing->handler_index("noop")});
}

// A Dispatcher of source `events` over the pipeline routes.yaml text `yaml` describes, with its
// plugins loaded from the test plugin directory.
struct Loaded {
  std::shared_ptr<const Pipeline> pipeline;
  std::unique_ptr<Dispatcher> dispatcher;
};
Loaded load(const test::TempDir& dir, const std::string& yaml, Metrics* metrics) {
  Loaded loaded;
  auto config = std::make_shared<Config>();
  Status s = load_config_from_string(yaml, dir.file("routes.yaml"), dir.path(), config.get());
  EXPECT_TRUE(s.is_ok()) << s.message();
  if (!s) return loaded;
  s = build_pipeline(config, SWITCHYARD_TEST_PLUGIN_DIR, nullptr, &loaded.pipeline);
  EXPECT_TRUE(s.is_ok()) << s.message();
  loaded.dispatcher =
      std::make_unique<Dispatcher>(config->sources.at(0), "host:1", metrics, [] { return kNow; });
  return loaded;
}

// Two rendezvous_sink handlers whose calls succeed only while the other's call of the same batch
// has started: they wait up to wait_ms for it.
std::string rendezvous_yaml(const test::TempDir& dir, const std::string& source_keys, int wait_ms) {
  const std::string common =
      ", config: {dir: \"" + dir.path() + "\", wait_ms: " + std::to_string(wait_ms) + ", partner: ";
  return "version: 1\n"
         "sources:\n  events: {key: events" +
         source_keys +
         "}\n"
         "handlers:\n"
         "  left: {plugin: rendezvous_sink" +
         common +
         "right}}\n"
         "  right: {plugin: rendezvous_sink" +
         common +
         "left}}\n"
         "routes:\n  a.both: [left, right]\n";
}

TEST(DispatcherAtOnceTest, TheHandlersOfOneBatchAreCalledAtOnce) {
  test::TempDir dir;
  Metrics metrics;
  Loaded d = load(dir, rendezvous_yaml(dir, ", handlers_at_once: true", 10000), &metrics);
  ASSERT_TRUE(d.pipeline);
  const std::string both = R"({"event":"a.both","payload":{}})";
  TakenBatch batch;
  batch.messages = {both, both};
  AckWrites writes;
  // Two batches: the lane threads of the first are reused by the second.
  for (int round = 1; round <= 2; ++round) {
    d.dispatcher->dispatch(*d.pipeline, batch, &writes);
    for (const std::string& letter : writes.dead_letters)
      ADD_FAILURE() << "batch " << round << ": " << decoded(letter).reason;
    EXPECT_TRUE(writes.retries.empty());
  }
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_events_handled_total{handler=\"left\",outcome=\"ok\"} 4\n"));
  EXPECT_THAT(metrics.render(),
              HasSubstr("switchyard_events_handled_total{handler=\"right\",outcome=\"ok\"} 4\n"));
}

TEST(DispatcherAtOnceTest, HandlersAtOnceFalseCallsThemOneAfterTheOther) {
  test::TempDir dir;
  Metrics metrics;
  Loaded d = load(dir, rendezvous_yaml(dir, ", handlers_at_once: false", 200), &metrics);
  ASSERT_TRUE(d.pipeline);
  TakenBatch batch;
  batch.messages = {R"({"event":"a.both","payload":{}})"};
  AckWrites writes;
  d.dispatcher->dispatch(*d.pipeline, batch, &writes);
  // left runs first and waits in vain; right then finds left's call begun.
  ASSERT_EQ(writes.dead_letters.size(), 1u);
  const DeadLetter letter = decoded(writes.dead_letters[0]);
  EXPECT_EQ(letter.handler, "left");
  EXPECT_EQ(letter.reason,
            "call 1 of right did not start within 200 ms of call 1 of left: the calls ran one "
            "after the other");
}

// Handlers called at once, one succeeding, one rejecting, one throwing (the SDK makes it a
// reject), one asking for a retry: each answer becomes what it would alone, in handler order.
TEST(DispatcherAtOnceTest, EachHandlersAnswersBecomeItsOwnDispositions) {
  test::TempDir dir;
  Metrics metrics;
  Loaded d = load(dir,
                  "version: 1\n"
                  "sources:\n  events: {key: events, max_deliveries: 3}\n"
                  "handlers:\n"
                  "  noop: {plugin: noop_sink}\n"
                  "  rejecter: {plugin: reject_sink}\n"
                  "  thrower: {plugin: throwing_sink}\n"
                  "  flaky: {plugin: flaky_sink, config: {path: \"" +
                      dir.file("flaky.jsonl") +
                      "\", fail_times: 1000}}\n"
                      "routes:\n  a.all: [noop, rejecter, thrower, flaky]\n  a.ok: [noop]\n"
                      "retry: {max_attempts: 3, initial_backoff: 100ms, max_backoff: 1s}\n",
                  &metrics);
  ASSERT_TRUE(d.pipeline);
  const std::string all1 = R"({"event":"a.all","payload":{"n":1}})";
  const std::string ok = R"({"event":"a.ok","payload":{}})";
  const std::string all2 = R"({"event":"a.all","payload":{"n":2}})";
  TakenBatch batch;
  batch.messages = {all1, ok, all2};
  AckWrites writes;
  d.dispatcher->dispatch(*d.pipeline, batch, &writes);

  ASSERT_EQ(writes.dead_letters.size(), 4u);
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"rejecter", all1}, {"rejecter", all2}, {"thrower", all1}, {"thrower", all2}};
  for (size_t i = 0; i < expected.size(); ++i) {
    const DeadLetter letter = decoded(writes.dead_letters[i]);
    EXPECT_EQ(letter.handler, expected[i].first) << i;
    EXPECT_EQ(letter.message, expected[i].second) << i;
    EXPECT_EQ(letter.attempts, 1) << i;
    EXPECT_EQ(letter.reason, expected[i].first == "rejecter" ? "rejected by reject_sink"
                                                             : "boom from throwing_sink")
        << i;
  }
  ASSERT_EQ(writes.retries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(writes.retries[i].first, kNow + 100);
    RetryEntry entry;
    ASSERT_TRUE(decode_retry_entry(writes.retries[i].second, &entry));
    EXPECT_EQ(entry.handler, "flaky");
    EXPECT_EQ(entry.attempt, 2);
    EXPECT_EQ(entry.message, i == 0 ? all1 : all2);
  }
  const std::string text = metrics.render();
  EXPECT_THAT(text,
              HasSubstr("switchyard_events_handled_total{handler=\"noop\",outcome=\"ok\"} 3\n"));
  EXPECT_THAT(
      text,
      HasSubstr("switchyard_events_handled_total{handler=\"rejecter\",outcome=\"reject\"} 2\n"));
  EXPECT_THAT(
      text,
      HasSubstr("switchyard_events_handled_total{handler=\"thrower\",outcome=\"reject\"} 2\n"));
  EXPECT_THAT(
      text, HasSubstr("switchyard_events_handled_total{handler=\"flaky\",outcome=\"retry\"} 2\n"));
  for (const char* handler : {"noop", "rejecter", "thrower", "flaky"})
    EXPECT_THAT(text, HasSubstr("switchyard_handler_duration_seconds_count{handler=\"" +
                                std::string(handler) + "\"} 1\n"));

  // Leased retries bound for several handlers run at once too, each settled by its own answer.
  LeasedRetry flaky_retry, noop_retry;
  flaky_retry.entry.attempt = 2;
  flaky_retry.entry.leases = 1;
  flaky_retry.entry.handler = "flaky";
  flaky_retry.entry.message = all1;
  flaky_retry.member = encode_retry_entry(flaky_retry.entry);
  noop_retry = flaky_retry;
  noop_retry.entry.handler = "noop";
  noop_retry.member = encode_retry_entry(noop_retry.entry);
  std::vector<RetrySettlement> settlements;
  d.dispatcher->run_retries(*d.pipeline, {flaky_retry, noop_retry}, "events:retry", &settlements);
  ASSERT_EQ(settlements.size(), 2u);
  EXPECT_EQ(settlements[0].kind, RetrySettlement::kReschedule);
  EXPECT_EQ(settlements[1].kind, RetrySettlement::kDone);
}

}  // namespace
}  // namespace switchyard
