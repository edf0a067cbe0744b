// dlq_cli_test.cc: `switchyard dlq` and `stats` against hostile K:dead and Redis contents: nothing
// a terminal acts on is printed raw, nothing crashes them, list shows the newest, replay refuses
// what it cannot replay, purge removes exactly what it listed.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "records/dead_letter.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/terminal_text.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

constexpr const char* kKey = "events";
constexpr const char* kDead = "events:dead";
// Sets the window title, rings the bell, clears the screen.
const std::string kTitleAndClear = "\x1b]0;pwned\x07\x1b[2J";

::testing::AssertionResult safe_for_a_terminal(const std::string& out) {
  const size_t at = terminal_control_at(out, true);
  if (at == std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "byte 0x" << std::hex << static_cast<int>(static_cast<unsigned char>(out[at]))
         << " printed raw at offset " << std::dec << at
         << " of: " << out.substr(at > 40 ? at - 40 : 0, 80);
}

DeadLetter letter(std::string message, std::string reason, const char* handler = nullptr) {
  DeadLetter d;
  d.message = std::move(message);
  d.source = kKey;
  if (handler) d.handler = handler;
  d.reason = std::move(reason);
  d.failed_at = "2026-12-04T10:00:00.000Z";
  d.instance = "host:1";
  return d;
}

class DlqCli : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    client_.emplace(redis_.client());
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
    spec.database = dir_.file("analytics.db");
    spec.source_name = kKey;
    spec.source_key = kKey;
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
  }

  CommandResult cli(std::vector<std::string> args) {
    args.push_back("-c");
    args.push_back(config_);
    return SwitchyardProcess::exec(args, 60s);
  }

  RedisClient& client() { return *client_; }

  RedisServer redis_;
  std::optional<RedisClient> client_;
  TempDir dir_;
  std::string config_;
};

TEST_F(DlqCli, ListEscapesEventNamesAndReasons) {
  const std::string message =
      R"({"event":"\u001b]0;pwned\u0007\u001b[2J","payload":{}})";  // decoded: kTitleAndClear
  client().rpush(kDead,
                 encode_dead_letter(letter(message, "no route for event \"" + kTitleAndClear +
                                                        "\" \xc2\x9b"
                                                        "1m")));
  const CommandResult r = cli({"dlq", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(safe_for_a_terminal(r.out));
  EXPECT_NE(r.out.find("event=\\x1b]0;pwned\\x07\\x1b[2J"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\\u009b1m"), std::string::npos) << r.out;
}

TEST_F(DlqCli, ShowEscapesDelAndC1ControlsAndStaysJson) {
  const DeadLetter d = letter(
      "{\"event\":\"a\x7f\xc2\x9b"
      "2J\xc2\x85\",\"payload\":{}}",
      "reason \x7f\xc2\x9d"
      "0;t\x1b\\");
  const std::string stored = encode_dead_letter(d);
  client().rpush(kDead, stored);
  const CommandResult r = cli({"dlq", "show", "0"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(safe_for_a_terminal(r.out));
  ASSERT_EQ(r.out.rfind("#0 ", 0), 0u) << r.out;
  rapidjson::Document shown, original;
  shown.Parse(r.out.data() + 3, r.out.size() - 3);
  original.Parse(stored.data(), stored.size());
  ASSERT_FALSE(shown.HasParseError()) << r.out;
  EXPECT_TRUE(shown == original) << "show must print the same dead letter, only escaped";
}

TEST_F(DlqCli, ListAndShowSurviveDeeplyNestedElements) {
  client().rpush(kDead, std::string(300000, '['));
  client().rpush(kDead, encode_dead_letter(letter(std::string(300000, '['), "nesting")));
  const CommandResult list = cli({"dlq", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_NE(list.out.find("#0 "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("(unreadable: nests deeper than 64 levels)"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("event=?"), std::string::npos) << list.out;
  for (const char* index : {"0", "1"}) {
    const CommandResult show = cli({"dlq", "show", index});
    ASSERT_EQ(show.exit_code, 0) << show;
  }
}

TEST_F(DlqCli, ListShowsTheNewestTwenty) {
  std::vector<std::string> letters;
  for (int i = 0; i < 25; ++i)
    letters.push_back(
        encode_dead_letter(letter(user_registered(i), "letter " + std::to_string(i))));
  client().rpush_many(kDead, letters);
  const CommandResult r = cli({"dlq", "list"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("25 dead letter(s), showing 20 newest"), std::string::npos) << r.out;
  for (int i = 0; i < 25; ++i) {
    const bool shown = r.out.find("#" + std::to_string(i) + " ") != std::string::npos;
    EXPECT_EQ(shown, i >= 5) << "#" << i << "\n" << r.out;
  }
  // In index order, the newest last.
  EXPECT_LT(r.out.find("#5 "), r.out.find("#24 ")) << r.out;
}

TEST_F(DlqCli, ReplayRefusesAnUnreadableLetterAndKeepsIt) {
  const std::string good = user_registered(7);
  client().rpush(kDead, "garbage, not a dead letter");
  client().rpush(kDead, encode_dead_letter(letter(good, "no route")));
  const CommandResult r = cli({"dlq", "replay"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("dead letter #0 in events:dead not replayed: it cannot be read"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("replayed 1 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(client().lrange(kDead), std::vector<std::string>{"garbage, not a dead letter"});
  EXPECT_EQ(client().lrange(kKey), std::vector<std::string>{good}) << "only the readable one";
}

TEST_F(DlqCli, ReplayRefusesALetterThatKeepsOnlyAPrefix) {
  DeadLetter d = letter(user_registered(1) + std::string(10000, ' '), "over the limit");
  keep_prefix_only(&d);
  client().rpush(kDead, encode_dead_letter(d));
  const CommandResult r = cli({"dlq", "replay", "0"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("dead letter #0 in events:dead not replayed: it keeps only the first"),
            std::string::npos)
      << r;
  EXPECT_EQ(client().llen(kDead), 1);
  EXPECT_EQ(client().llen(kKey), 0);
  const CommandResult list = cli({"dlq", "list"});
  EXPECT_NE(list.out.find("message: first 4096 of "), std::string::npos) << list;
}

// Purge with no filter used to LRANGE, then DEL: letters pushed in between were lost unseen.
TEST_F(DlqCli, PurgeRemovesExactlyWhatItListed) {
  constexpr int kListed = 20000;
  std::vector<std::string> letters;
  for (int i = 0; i < kListed; ++i)
    letters.push_back(
        encode_dead_letter(letter(user_registered(i), "listed " + std::to_string(i))));
  client().rpush_many(kDead, letters, 1000);

  // A daemon dead-lettering meanwhile: one letter at a time until the purge has finished.
  std::atomic<bool> done{false};
  std::atomic<int> late{0};
  std::thread pusher([&] {
    RedisClient c = redis_.client();
    while (!done.load()) {
      c.rpush(kDead,
              encode_dead_letter(letter(user_registered(1), "late " + std::to_string(late))));
      ++late;
    }
  });
  const CommandResult r = cli({"dlq", "purge"});
  done = true;
  pusher.join();
  ASSERT_EQ(r.exit_code, 0) << r;
  // Nothing lost: what purge says it removed plus what is left is everything ever pushed, the
  // first kListed (there before the purge) all removed, and what is left all pushed meanwhile.
  const size_t at = r.out.find("purged ");
  ASSERT_NE(at, std::string::npos) << r;
  const long purged = std::stol(r.out.substr(at + 7));
  const std::vector<std::string> left = client().lrange(kDead);
  EXPECT_GE(purged, kListed) << r;
  EXPECT_EQ(purged + static_cast<long>(left.size()), kListed + late.load())
      << "purged " << purged << ", left " << left.size() << ", pushed " << kListed << " + "
      << late.load() << " during the purge";
  for (const std::string& l : left) ASSERT_NE(l.find("\"late "), std::string::npos) << l;
}

TEST_F(DlqCli, StatsEscapesConsumerNamesFromRedis) {
  client().command({"HSET", "events:inflight", "events:inflight:x", kTitleAndClear + "\x7f"});
  client().rpush("events:inflight:x", user_registered(1));
  const CommandResult text = cli({"stats"});
  ASSERT_EQ(text.exit_code, 0) << text;
  EXPECT_TRUE(safe_for_a_terminal(text.out));
  EXPECT_NE(text.out.find("consumer \\x1b]0;pwned\\x07\\x1b[2J\\x7f"), std::string::npos)
      << text.out;
  const CommandResult json = cli({"stats", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json;
  EXPECT_TRUE(safe_for_a_terminal(json.out));
  rapidjson::Document doc;
  doc.Parse(json.out.data(), json.out.size());
  EXPECT_FALSE(doc.HasParseError()) << json.out;
}

}  // namespace
}  // namespace switchyard::test
