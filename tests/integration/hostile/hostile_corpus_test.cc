// hostile_corpus_test.cc: over 100 hostile messages between good ones to the real daemon, on every
// source kind (list, laravel, stream, lease): it survives, each bad one is dead-lettered exactly
// once with a specific reason (an oversize one as its prefix, length and SHA-256), every good one
// lands in the database.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "hostile_support.h"
#include "integration/fault/fault_support.h"
#include "support/events.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

using fault::Rig;
using fault::SourceKind;

constexpr size_t kMaxMessageBytes = 1048576;

struct Hostile {
  std::string what;     // for failure messages
  std::string message;  // the exact bytes pushed (unique in the corpus)
  std::string reason;   // a substring the dead letter's reason must contain
  const char* handler;  // the dead letter's handler (nullptr: refused before any handler)
  // format: laravel only: what the reason says instead (empty: the same as the others).
  std::string laravel_reason = "";
};

std::string nested(const std::string& open, const std::string& close, int depth) {
  std::string s;
  for (int i = 0; i < depth; ++i) s += open;
  for (int i = 0; i < depth; ++i) s += close;
  return s;
}

std::string user(const std::string& payload) {
  return "{\"event\":\"user.registered\",\"payload\":" + payload + "}";
}

// A Laravel job (what Queue::push()/dispatch() write), with `data` as given.
std::string laravel_job(const std::string& display_name, const std::string& data) {
  return R"({"uuid":"5f0e1a2b-0000-4000-8000-000000000001","displayName":)" + display_name +
         R"(,"job":"Illuminate\\Queue\\CallQueuedHandler@call","maxTries":null,"data":)" + data +
         "}";
}

std::vector<Hostile> corpus() {
  const std::string ten_mb(10 * 1024 * 1024, 'A');
  const std::string deep(300000, '[');
  return {
      // Not JSON, or broken JSON.
      {"truncated object", R"({"event":"user.registered","payload":{"user_id":1)",
       "invalid JSON at offset", nullptr},
      {"truncated in a string", R"({"event":"user.regis)", "invalid JSON at offset", nullptr},
      {"lone brace", "{", "invalid JSON at offset 1", nullptr},
      {"plain text", "hello", "invalid JSON at offset 0", nullptr},
      {"redis protocol", "*1\r\n$4\r\nPING\r\n", "invalid JSON at offset 0", nullptr},
      {"single quotes", "{'event':'user.registered','payload':{}}", "invalid JSON at offset 1",
       nullptr},
      {"comment", "// hi\n" + user("{\"user_id\":1}"), "invalid JSON at offset 0", nullptr},
      {"trailing comma", R"({"event":"user.registered","payload":{"user_id":1},})", "invalid JSON",
       nullptr},
      {"trailing garbage", user("{\"user_id\":2}") + " x",
       "root must not be followed by other values", nullptr},
      {"two objects", user("{\"user_id\":3}") + user("{\"user_id\":4}"),
       "root must not be followed", nullptr},
      {"NaN", user("{\"user_id\":NaN}"), "invalid JSON", nullptr},
      {"bad escape", R"({"event":"user.registered","payload":{"name":"\x41"}})",
       "Invalid escape character", nullptr},
      {"raw newline in string", "{\"event\":\"user.registered\",\"payload\":{\"name\":\"a\nb\"}}",
       "unescaped control character 0x0A", nullptr},
      {"raw tab in key", "{\"event\":\"user.registered\",\"payload\":{\"na\tme\":1}}",
       "unescaped control character 0x09", nullptr},
      // Empty and blank.
      {"empty string", "", "message is empty", nullptr},
      {"whitespace only", " \t\r\n ", "The document is empty", nullptr},
      // Encoding.
      {"invalid UTF-8 in a value", user("{\"user_id\":5,\"name\":\"\xff\xfe\"}"),
       "invalid UTF-8 at offset", nullptr},
      {"invalid UTF-8 in a key", user("{\"user_id\":6,\"n\xe9me\":\"x\"}"),
       "invalid UTF-8 at offset", nullptr},
      {"invalid UTF-8 in the event", "{\"event\":\"user.\x80registered\",\"payload\":{}}",
       "invalid UTF-8 at offset", nullptr},
      {"overlong 2-byte slash", user("{\"user_id\":7,\"name\":\"\xc0\xaf\"}"), "invalid UTF-8",
       nullptr},
      {"overlong 3-byte", user("{\"user_id\":8,\"name\":\"\xe0\x80\xaf\"}"), "invalid UTF-8",
       nullptr},
      {"overlong NUL", user("{\"user_id\":9,\"name\":\"\xc0\x80\"}"), "invalid UTF-8", nullptr},
      {"raw surrogate (CESU-8)", user("{\"user_id\":10,\"name\":\"\xed\xa0\x80\"}"),
       "invalid UTF-8", nullptr},
      {"truncated multibyte", user("{\"user_id\":11,\"name\":\"\xe2\x82\"}"), "invalid UTF-8",
       nullptr},
      {"beyond U+10FFFF", user("{\"user_id\":12,\"name\":\"\xf4\x90\x80\x80\"}"), "invalid UTF-8",
       nullptr},
      {"lone high surrogate escape", user(R"({"user_id":13,"name":"\ud800"})"), "surrogate",
       nullptr},
      {"high surrogate then letter", user(R"({"user_id":14,"name":"\ud800\u0041"})"), "surrogate",
       nullptr},
      // A lone low surrogate escape, which RapidJSON alone would decode to CESU-8 bytes.
      {"lone low surrogate escape", user(R"({"user_id":37,"name":"\udc00"})"),
       "The surrogate pair in string is invalid", nullptr},
      {"lone low surrogate in the event",
       R"({"event":"user.registered\uDFFF","payload":{"user_id":38}})",
       "invalid JSON at offset 25: The surrogate pair", nullptr},
      {"lone low surrogate in a key", user(R"({"user_id":39,"\udc80":1})"),
       "The surrogate pair in string is invalid", nullptr},
      {"pair reversed (low, high)", user(R"({"user_id":40,"name":"\ude00\ud83d"})"),
       "The surrogate pair in string is invalid", nullptr},
      {"BOM", "\xef\xbb\xbf" + user("{\"user_id\":15}"), "byte order mark", nullptr},
      // NUL bytes.
      {"NUL inside a string", "{\"event\":\"user.registered\",\"payload\":{\"name\":\"a\0b\"}}"s,
       "unexpected NUL byte", nullptr},
      {"NUL after the object", user("{\"user_id\":16}") + "\0"s, "unexpected NUL byte", nullptr},
      {"NUL first", "\0"s + user("{\"user_id\":17}"),
       "invalid JSON at offset 0: unexpected NUL byte", nullptr},
      // Size and depth.
      {"10 MB blob", user("{\"user_id\":18,\"blob\":\"" + ten_mb + "\"}"),
       "over the limit of 1048576 (limits.max_message_bytes)", nullptr},
      {"10,000 nested arrays", nested("[", "]", 10000),
       "nesting deeper than 64 levels (limits.max_depth)", nullptr},
      {"10,000 nested arrays in the payload",
       user("{\"user_id\":19,\"x\":" + nested("[", "]", 10000) + "}"),
       "nesting deeper than 64 levels", nullptr},
      {"deeply nested payload objects",
       user("{\"user_id\":20,\"a\":" + nested("{\"a\":", "}", 100).replace(100 * 5, 0, "1") + "}"),
       "nesting deeper than 64 levels", nullptr},
      // Envelope shape.
      {"top-level array", R"([{"event":"user.registered","payload":{"user_id":21}}])",
       "not a JSON object (found array)", nullptr},
      {"top-level string", R"("user.registered")", "not a JSON object (found string)", nullptr},
      {"top-level null", "null", "not a JSON object (found null)", nullptr},
      {"top-level number", "12345678901234567890", "not a JSON object (found number)", nullptr},
      {"duplicate event",
       R"({"event":"user.registered","event":"quote.created","payload":{"user_id":22}})",
       "duplicate \"event\" key", nullptr},
      {"duplicate payload",
       R"({"event":"user.registered","payload":{"user_id":23},"payload":{"user_id":24}})",
       "duplicate \"payload\" key", nullptr},
      {"event as number", R"({"event":1,"payload":{"user_id":25}})",
       "\"event\" must be a non-empty string (found number)", nullptr},
      {"event as null", R"({"event":null,"payload":{"user_id":26}})", "(found null)", nullptr},
      {"event as object", R"({"event":{"name":"user.registered"},"payload":{"user_id":27}})",
       "(found object)", nullptr},
      {"event as array", R"({"event":["user.registered"],"payload":{"user_id":28}})",
       "(found array)", nullptr},
      {"event as boolean", R"({"event":true,"payload":{"user_id":29}})", "(found boolean)",
       nullptr},
      {"empty event", R"({"event":"","payload":{"user_id":30}})", "(found empty string)", nullptr},
      {"missing event", R"({"payload":{"user_id":31}})", "missing \"event\" key", nullptr},
      {"missing payload", R"({"event":"user.registered","id":"x"})", "missing \"payload\" key",
       nullptr},
      {"payload as string", R"({"event":"user.registered","payload":"{\"user_id\":32}"})",
       "\"payload\" must be a JSON object (found string)", nullptr},
      {"payload as array", R"({"event":"user.registered","payload":[{"user_id":33}]})",
       "(found array)", nullptr},
      {"payload as null", R"({"event":"user.registered","payload":null})", "(found null)", nullptr},
      {"payload as number", R"({"event":"user.registered","payload":34})", "(found number)",
       nullptr},
      // Numbers.
      {"huge number", user("{\"user_id\":1e400}"), "Number too big to be stored in double",
       nullptr},
      {"huge negative number", user("{\"user_id\":35,\"x\":-1e400}"), "Number too big", nullptr},
      {"huge integer as user_id", user("{\"user_id\":123456789012345678901234567890}"),
       "payload.user_id", "users_db"},
      {"float user_id", user("{\"user_id\":1e2}"), "payload.user_id", "users_db"},
      // Routing and handlers.
      {"unknown event", R"({"event":"order.shipped","payload":{"order_id":1}})",
       "no route for event \"order.shipped\"", nullptr},
      {"event name with control characters",
       R"({"event":"evil\n2026-01-01 [error] forged\u0000","payload":{}})", "no route for event",
       nullptr},
      {"missing required field", user("{\"email\":\"nobody@example.com\"}"), "payload.user_id",
       "users_db"},
      {"wrong-typed field", user("{\"user_id\":\"36\"}"), "payload.user_id: expected integer",
       "users_db"},
      // Contract of quote.created (schemas/quote.created.json): refused before the handler.
      {"contract: qty as string",
       R"({"event":"quote.created","payload":{"quote_id":901,"user_id":1,"product_id":2,"qty":"4"}})",
       "contract quote.created: #/qty: expected type integer, found string", nullptr},
      {"contract: quote_id missing",
       R"({"event":"quote.created","payload":{"user_id":1,"product_id":2,"qty":4}})",
       "contract quote.created: #/quote_id: required property is missing", nullptr},
      {"contract: qty below minimum",
       R"({"event":"quote.created","payload":{"quote_id":902,"user_id":1,"product_id":2,"qty":0}})",
       "contract quote.created: #/qty: fails \"minimum\": 1", nullptr},
      {"contract: created_at as number",
       R"({"event":"quote.created","payload":{"quote_id":903,"user_id":1,"product_id":2,"qty":1,"created_at":5}})",
       "contract quote.created: #/created_at: expected type string, found integer", nullptr},
      // Deep input on every path that parses a message: the decoder, then the Laravel
      // diagnostics (which once re-parsed it recursively and crashed), the dead letter, dlq.
      {"300,000 [", deep, "nesting deeper than 64 levels", nullptr},
      {"300,000 [ then a number", deep + "1", "nesting deeper than 64 levels", nullptr},
      {"300,000 {", std::string(300000, '{'), "invalid JSON at offset 1", nullptr},
      {"150,000 objects in the payload",
       user("{\"user_id\":41,\"a\":" + nested("{\"a\":", "}", 150000).replace(150000 * 5, 0, "1") +
            "}"),
       "nesting deeper than 64 levels", nullptr},
      {"300,000 [ as the event", R"({"event":)" + deep, "nesting deeper than 64 levels", nullptr},
      {"65 levels in the payload", user("{\"user_id\":42,\"x\":" + nested("[", "]", 64) + "}"),
       "nesting deeper than 64 levels", nullptr},
      // Laravel: jobs where raw events belong, and jobs built to hurt the diagnostics.
      {"a Laravel job",
       laravel_job(
           R"("App\\Jobs\\SendWelcomeMail")",
           R"({"commandName":"App\\Jobs\\SendWelcomeMail","command":"O:8:\"stdClass\":0:{}"})"),
       "missing \"event\" key", nullptr,
       "Laravel job payload (displayName App\\Jobs\\SendWelcomeMail), not a raw event"},
      {"a Laravel job with an event key",
       R"({"event":"user.registered","uuid":"u2","displayName":"X","job":"J","data":{}})",
       "missing \"payload\" key", nullptr, "Laravel job payload (displayName X)"},
      {"a Laravel job, displayName a number", laravel_job("12", "{}"), "missing \"event\" key",
       nullptr, "Laravel job payload (displayName ?)"},
      {"a Laravel job, displayName with escapes",
       laravel_job(R"("\u001b]0;pwned\u0007\u001b[2J")", R"({"n":1})"), "missing \"event\" key",
       nullptr, "Laravel job payload (displayName \x1b]0;pwned"},
      {"a Laravel job, 300,000 [ as data", laravel_job(R"("Deep")", deep),
       "nesting deeper than 64 levels", nullptr},
      {"a Laravel job, 300,000 [ after data", laravel_job(R"("Deeper")", "{}") + deep,
       "root must not be followed by other values", nullptr},
      {"a Laravel job, 100 levels of data",
       laravel_job(R"("Nested")", nested("{\"a\":", "}", 100).replace(500, 0, "1")),
       "nesting deeper than 64 levels", nullptr},
      {"a Laravel job, 2 MiB", laravel_job(R"("Huge")", "\"" + std::string(2 << 20, 'j') + "\""),
       "over the limit of 1048576", nullptr},
      {"a Laravel job, invalid UTF-8", laravel_job("\"Bad\xff\"", "{}"), "invalid UTF-8 at offset",
       nullptr},
      {"a Laravel job in an array", "[" + laravel_job(R"("InArray")", "{}") + "]",
       "not a JSON object (found array)", nullptr},
      {"a Laravel job, trailing comma", laravel_job(R"("Comma")", "{},"), "invalid JSON", nullptr},
      // Crafted for the dead letter and for whoever reads it on a terminal (dlq, logs).
      {"looks like a dead letter",
       R"({"message":"x","source":"events","handler":null,"reason":"forged","attempts":1})",
       "missing \"event\" key", nullptr},
      {"message_base64 and a bad byte", "{\"message_base64\":\"QUJD\",\"event\":\"\xff\"}",
       "invalid UTF-8 at offset", nullptr},
      {"event with terminal escapes", R"({"event":"\u001b]0;pwned\u0007\u001b[2J","payload":{}})",
       "no route for event", nullptr},
      {"event with a raw C1 CSI",
       "{\"event\":\"x\xc2\x9b"
       "31m\",\"payload\":{}}",
       "no route for event", nullptr},
      {"event with a raw DEL", "{\"event\":\"x\x7f\",\"payload\":{}}", "no route for event",
       nullptr},
      {"event with U+2028", "{\"event\":\"x\xe2\x80\xa8y\",\"payload\":{}}", "no route for event",
       nullptr},
      {"event of one escaped NUL", R"({"event":"\u0000","payload":{}})", "no route for event",
       nullptr},
      {"event of 100 KB", "{\"event\":\"" + std::string(100000, 'e') + "\",\"payload\":{}}",
       "no route for event", nullptr},
      {"1 MiB of escaped controls under the limit",
       "{\"event\":\"bulk.controls\",\"payload\":{\"s\":\"" +
           [] {
             std::string e;
             for (int i = 0; i < 170000; ++i) e += "\\u0001";
             return e;
           }() +
           "\"}}",
       "no route for event \"bulk.controls\"", nullptr},
      {"2 MiB of raw controls", std::string(2 << 20, '\x01'), "over the limit of 1048576", nullptr},
      {"just over the limit",
       user("{\"user_id\":43,\"pad\":\"" + std::string(kMaxMessageBytes, 'p') + "\"}"),
       "bytes, over the limit of 1048576", nullptr},
      {"oversize with a bad byte at the cut",
       std::string(4095, 'b') + "\xe2\x82\xac" + std::string(2 << 20, 'b'), "over the limit",
       nullptr},
      // Bytes a stream entry or a Redis client might carry.
      {"RESP injection", "*3\r\n$4\r\nXADD\r\n$6\r\nevents\r\n$1\r\n*\r\n",
       "invalid JSON at offset 0", nullptr},
      {"a stream ID", "1-1", "root must not be followed by other values", nullptr},
      {"a star", "*", "invalid JSON at offset 0", nullptr},
      {"CRLF only", "\r\n", "The document is empty", nullptr},
      {"incomplete \\u escape", user(R"({"user_id":44,"name":"\u12"})"),
       "Incorrect hex digit after \\u escape", nullptr},
      {"overlong 4-byte", user("{\"user_id\":45,\"name\":\"\xf0\x80\x80\xaf\"}"), "invalid UTF-8",
       nullptr},
      {"byte F5", user("{\"user_id\":46,\"name\":\"\xf5\x80\x80\x80\"}"), "invalid UTF-8", nullptr},
      {"100,000-digit number", user("{\"user_id\":1" + std::string(100000, '0') + "}"),
       "Number too big", nullptr},
      {"50,000 keys, no user_id", user([] {
         std::string o = "{";
         for (int i = 0; i < 50000; ++i) o += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":1";
         return o + "}";
       }()),
       "payload.user_id", "users_db"},
  };
}

class HostileCorpus : public ::testing::TestWithParam<SourceKind> {};

TEST_P(HostileCorpus, DaemonSurvivesEveryBadMessageIsDeadLetteredEveryGoodOneIsStored) {
  Rig rig(GetParam());
  RoutesYaml spec;
  spec.source_extra = "batch: 32\n";
  spec.extra_yaml =
      "limits: {max_message_bytes: " + std::to_string(kMaxMessageBytes) +
      ", max_depth: 64}\ncontracts:\n  quote.created: " +
      json_string(std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json") + "\n";
  rig.write_config(spec);
  const bool laravel = GetParam() == SourceKind::kLaravel;

  const std::vector<Hostile> bad = corpus();
  ASSERT_GE(bad.size(), 100u);
  for (size_t i = 0; i < bad.size(); ++i)
    for (size_t j = i + 1; j < bad.size(); ++j)
      ASSERT_NE(bad[i].message, bad[j].message) << bad[i].what << " / " << bad[j].what;

  // good user, bad, good quote, for each bad message, published as the kind's producers do:
  // bad and good messages share batches (batch: 32).
  std::vector<std::string> pushed;
  for (size_t i = 0; i < bad.size(); ++i) {
    pushed.push_back(user_registered(static_cast<int64_t>(i) + 1));
    pushed.push_back(bad[i].message);
    pushed.push_back(quote_created(static_cast<int64_t>(i) + 1));
  }
  // Published before the daemon starts, so that the whole corpus is waiting when it takes batches.
  rig.publish(pushed);
  SwitchyardProcess daemon = rig.start();
  const pid_t pid = daemon.pid();

  const int64_t expected = static_cast<int64_t>(bad.size());
  ASSERT_TRUE(wait_until(
      [&] {
        if (!daemon.is_running()) throw std::runtime_error("the daemon exited");
        return rig.all_handled(expected, expected, expected);
      },
      180s, "every message handled or dead-lettered"))
      << rig.describe() << "\n"
      << daemon.log_tail();

  // Survived: the very same process, still running.
  ASSERT_TRUE(daemon.is_running()) << daemon.log_tail();
  EXPECT_EQ(daemon.pid(), pid);
  rig.expect_drained_state();

  // Exact counts: every good message stored, nothing else.
  EXPECT_EQ(rig.users(), expected);
  EXPECT_EQ(rig.quotes(), expected);
  EXPECT_EQ(query_int(rig.db(), "SELECT max(user_id) FROM user_registrations"), expected);

  // Exactly one dead letter per bad message, each with its specific reason. An oversize
  // message's letter holds its first 4 KiB, its length and its SHA-256, never the whole.
  const std::vector<std::string> raw = rig.client().lrange(rig.dead_key());
  EXPECT_EQ(raw.size(), bad.size());
  std::vector<DeadLetterView> letters;
  for (const std::string& r : raw) {
    letters.push_back(read_dead_letter(r));
    EXPECT_LT(r.size(), 2 * kMaxMessageBytes) << "a dead letter of " << r.size() << " bytes";
  }
  for (const Hostile& h : bad) {
    SCOPED_TRACE(h.what);
    const bool oversize = h.message.size() > kMaxMessageBytes;
    const std::string sha = oversize ? sha256_hex_of(h.message) : "";
    const DeadLetterView* found = nullptr;
    int matches = 0;
    for (const auto& l : letters) {
      if (oversize ? l.message_sha256 == sha : l.message == h.message && l.message_sha256.empty()) {
        found = &l;
        ++matches;
      }
    }
    ASSERT_EQ(matches, 1) << "dead letters holding exactly this message";
    if (oversize) {
      EXPECT_EQ(found->message_bytes, h.message.size());
      EXPECT_GE(found->message.size(), 4093u);
      EXPECT_LE(found->message.size(), 4096u);
      EXPECT_EQ(h.message.compare(0, found->message.size(), found->message), 0)
          << "the letter's message is not the start of the message";
    }
    const std::string& reason = laravel && !h.laravel_reason.empty() ? h.laravel_reason : h.reason;
    EXPECT_NE(found->reason.find(reason), std::string::npos)
        << "reason \"" << found->reason.substr(0, 300) << "\" does not say \"" << reason << "\"";
    EXPECT_EQ(found->source, fault::kSourceName);
    EXPECT_EQ(found->attempts, 1);
    if (h.handler == nullptr) {
      EXPECT_FALSE(found->handler.has_value())
          << "refused before any handler, but handler is " << found->handler.value_or("");
    } else {
      EXPECT_EQ(found->handler, std::optional<std::string>(h.handler));
    }
  }

  // The operator's view of all that: dlq list and show print every letter, escaped.
  const CommandResult list = rig.cli({"dlq", "list", "--limit", "1000"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  for (size_t i = 0; i < list.out.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(list.out[i]);
    ASSERT_FALSE((c < 0x20 && c != '\n') || c == 0x7f) << "raw control byte at " << i;
  }
  EXPECT_EQ(std::count(list.out.begin(), list.out.end(), '\n'), expected + 1);

  // And it still works afterwards, then stops cleanly.
  rig.publish({user_registered(expected + 1)});
  ASSERT_TRUE(wait_until([&] { return rig.users() == expected + 1; }, 20s,
                         "one more good message after the corpus"));
  const auto stopped = daemon.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0) << daemon.log_tail();
}

INSTANTIATE_FAULT_SUITE(HostileCorpus);

}  // namespace
}  // namespace switchyard::test
