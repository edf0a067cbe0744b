// router_dead_letter_test.cc: every kind of bad message lands in K:dead in the README's format with
// a specific reason while the good messages around it are handled; unrouted: drop drops.
#include <csignal>
#include <map>

#include "router_fixture.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

struct BadMessage {
  std::string what;                 // for failure messages
  std::string message;              // the exact bytes pushed
  const char* handler;              // expected "handler" (nullptr: null, failed before routing)
  std::vector<std::string> reason;  // substrings the reason must contain
};

std::vector<BadMessage> bad_messages() {
  using namespace std::string_literals;
  return {
      {"invalid JSON",
       R"({"event":"user.registered","payload":{"user_id":1)",
       nullptr,
       {"invalid JSON", "offset"}},
      {"not JSON at all", "hello world", nullptr, {"invalid JSON at offset 0"}},
      {"empty message", "", nullptr, {"empty"}},
      {"top-level array",
       R"([{"event":"user.registered","payload":{}}])",
       nullptr,
       {"not a JSON object", "array"}},
      {"top-level string", R"("user.registered")", nullptr, {"not a JSON object", "string"}},
      {"top-level number", "42", nullptr, {"not a JSON object", "number"}},
      {"missing event", R"({"payload":{"user_id":900001}})", nullptr, {"missing", "\"event\""}},
      {"event as number",
       R"({"event":7,"payload":{"user_id":900002}})",
       nullptr,
       {"\"event\"", "non-empty string", "number"}},
      {"empty event",
       R"({"event":"","payload":{"user_id":900003}})",
       nullptr,
       {"\"event\"", "non-empty string", "empty"}},
      {"missing payload", R"({"event":"user.registered"})", nullptr, {"missing", "\"payload\""}},
      {"payload as string",
       R"({"event":"user.registered","payload":"{\"user_id\":900004}"})",
       nullptr,
       {"\"payload\"", "JSON object", "string"}},
      {"payload as array",
       R"({"event":"quote.created","payload":[1,2,3]})",
       nullptr,
       {"\"payload\"", "JSON object", "array"}},
      {"unknown event",
       R"({"event":"order.shipped","payload":{"order_id":5}})",
       nullptr,
       {"no route", "\"order.shipped\""}},
      {"wrong-typed field",
       R"({"event":"quote.created","payload":{"quote_id":900005,"user_id":1,"product_id":2,"qty":"four"}})",
       "quotes_db",
       {"payload.qty: expected integer"}},
      {"missing required field",
       R"({"event":"user.registered","payload":{"email":"nobody@example.com"}})",
       "users_db",
       {"payload.user_id", "missing"}},
      {"NUL byte",
       "{\"event\":\"user.registered\",\"payload\":{\"user_id\":900006}\0}"s,
       nullptr,
       {"NUL"}},
      {"invalid UTF-8",
       "{\"event\":\"user.registered\",\"payload\":{\"user_id\":900007,\"name\":\"\xff\xfe\"}}",
       nullptr,
       {"invalid UTF-8"}},
      {"duplicate event key",
       R"({"event":"user.registered","event":"quote.created","payload":{}})",
       nullptr,
       {"duplicate", "\"event\""}},
      {"nested deeper than limits.max_depth",
       R"({"event":"user.registered","payload":{"user_id":900008,"deep":)" + std::string(80, '[') +
           std::string(80, ']') + "}}",
       nullptr,
       {"nesting deeper than 64", "limits.max_depth"}},
      {"over limits.max_message_bytes",
       R"({"event":"user.registered","payload":{"user_id":900009,"pad":")" +
           std::string(1'100'000, 'x') + "\"}}",
       nullptr,
       {"over the limit of 1048576", "limits.max_message_bytes"}},
  };
}

TEST_F(RouterTest, EveryKindOfBadMessageIsDeadLetteredAndGoodOnesAroundItAreHandled) {
  start_daemon(write_config(base_spec()));
  const std::vector<BadMessage> bad = bad_messages();
  // good user, bad, good quote, for every bad message: all in one push, so bad and good messages
  // share batches.
  std::vector<std::string> pushed;
  for (size_t i = 0; i < bad.size(); ++i) {
    pushed.push_back(user_registered(static_cast<int64_t>(i) + 1));
    pushed.push_back(bad[i].message);
    pushed.push_back(quote_created(static_cast<int64_t>(i) + 1));
  }
  client().rpush_many(kKey, pushed);
  ASSERT_TRUE(wait_drained(20s));

  EXPECT_EQ(rows("user_registrations"), static_cast<int64_t>(bad.size()));
  EXPECT_EQ(rows("quotes"), static_cast<int64_t>(bad.size()));

  const std::vector<rapidjson::Document> letters = dead_letters();
  EXPECT_EQ(letters.size(), bad.size()) << "one dead letter per bad message, no more";
  for (const BadMessage& b : bad) {
    SCOPED_TRACE(b.what);
    // Over the size limit, the letter keeps the first 4 KiB (README "Dead letters").
    const std::string stored = b.message.size() > 1048576 ? b.message.substr(0, 4096) : b.message;
    std::vector<const rapidjson::Document*> matching;
    for (const auto& l : letters)
      if (dead_message(l) == stored) matching.push_back(&l);
    ASSERT_EQ(matching.size(), 1u) << "dead letters whose message is exactly the bad one";
    expect_dead_letter(*matching[0], stored, kKey, b.handler, b.reason, 1, daemon_.pid());
  }

  // The daemon is still up and well after all that.
  ASSERT_TRUE(daemon_.is_running()) << daemon_.log_tail();
  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

TEST_F(RouterTest, EnvelopesAreReadAsJsonNotAsText) {
  start_daemon(write_config(base_spec()));
  // An escaped event name is the same event; extra top-level fields, any member order and
  // whitespace are allowed.
  const std::vector<std::string> good = {
      R"({"event":"user\u002eregistered","payload":{"user_id":1}})",
      R"({ "payload" : { "quote_id" : 1, "user_id" : 1, "product_id" : 1, "qty" : 1 }, "id" : "q1", "version" : 1, "event" : "quote.created" })",
      R"({"event":"user.registered","payload":{"user_id":2,"extra":{"nested":[1,{"a":null}]}},"trace":{"id":"x"}})",
  };
  client().rpush_many(kKey, good);
  ASSERT_TRUE(wait_drained(20s));
  EXPECT_EQ(rows("user_registrations"), 2);
  EXPECT_EQ(rows("quotes"), 1);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0) << diagnostics();
  // SIGINT is a graceful stop too.
  ASSERT_TRUE(daemon_.signal(SIGINT));
  const auto status = daemon_.wait_exit(20s);
  ASSERT_TRUE(status.has_value()) << daemon_.log_tail();
  EXPECT_EQ(*status, 0);
  EXPECT_EQ(inflight_lists(), std::vector<std::string>{});
}

TEST_F(RouterTest, UnknownEventNamesTheEventAndTheConfigFile) {
  const std::string config = write_config(base_spec());
  start_daemon(config);
  const std::string unknown = R"({"event":"invoice.paid","payload":{"invoice_id":1}})";
  client().rpush_many(kKey, {unknown, user_registered(1)});
  ASSERT_TRUE(wait_drained(20s));
  const auto letters = dead_letters();
  ASSERT_EQ(letters.size(), 1u);
  expect_dead_letter(letters[0], unknown, kKey, nullptr,
                     {"\"invoice.paid\"", "unrouted: drop", config}, 1, daemon_.pid());
  EXPECT_EQ(rows("user_registrations"), 1);
}

TEST_F(RouterTest, UnroutedDropDropsUnknownEventsAndHandlesTheRest) {
  RoutesYaml spec = base_spec();
  spec.extra_yaml = "unrouted: drop\n";
  start_daemon(write_config(spec));
  std::vector<std::string> pushed;
  for (int i = 1; i <= 50; ++i) {
    pushed.push_back(user_registered(i));
    pushed.push_back(R"({"event":"order.shipped","payload":{"order_id":)" + std::to_string(i) +
                     "}}");
    pushed.push_back(quote_created(i));
  }
  client().rpush_many(kKey, pushed);
  ASSERT_TRUE(wait_drained(20s));
  EXPECT_EQ(rows("user_registrations"), 50);
  EXPECT_EQ(rows("quotes"), 50);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0)
      << "unrouted: drop must not dead-letter: " << client().lrange(std::string(kKey) + ":dead")[0];
  // Bad messages are still dead-lettered under unrouted: drop; only "no route" is dropped.
  client().rpush_many(kKey, {"[1]", user_registered(51)});
  ASSERT_TRUE(wait_drained(20s));
  EXPECT_EQ(rows("user_registrations"), 51);
  const auto letters = dead_letters();
  ASSERT_EQ(letters.size(), 1u);
  expect_dead_letter(letters[0], "[1]", kKey, nullptr, {"not a JSON object"}, 1, daemon_.pid());
  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

}  // namespace
}  // namespace switchyard::test
