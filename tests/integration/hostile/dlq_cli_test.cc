// dlq_cli_test.cc: `switchyard dlq` and `stats` against hostile K:dead and Redis contents: nothing
// a terminal acts on is printed raw, nothing crashes them, list shows the newest, replay refuses
// what it cannot replay, purge removes exactly what it listed; ids, filters, --json, --dry-run,
// and the confirmation before acting on every letter.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "records/dead_letter.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/lua_eval.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/terminal_text.h"
#include "support/wait.h"

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

DeadLetter letter(std::string message, std::string reason, const char* handler = nullptr,
                  std::string failed_at = "2026-12-04T10:00:00.000Z") {
  DeadLetter d;
  d.message = std::move(message);
  d.source = kKey;
  if (handler) d.handler = handler;
  d.reason = std::move(reason);
  d.failed_at = std::move(failed_at);
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

  // The JSON document a `--json` command printed; fails the test when it is not one.
  static rapidjson::Document json_of(const CommandResult& r) {
    rapidjson::Document doc;
    doc.Parse(r.out.data(), r.out.size());
    EXPECT_FALSE(doc.HasParseError()) << "not one JSON document: " << r;
    if (doc.HasParseError() || !doc.IsObject()) doc.SetObject();
    return doc;
  }

  // The ids `dlq list --json ARGS...` lists, in its order (the newest first).
  std::vector<std::string> listed_ids(std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"dlq", "list", "--json", "--limit", "1000"});
    const CommandResult r = cli(args);
    EXPECT_EQ(r.exit_code, 0) << r;
    const rapidjson::Document doc = json_of(r);
    std::vector<std::string> ids;
    if (doc.HasMember("letters"))
      for (const auto& l : doc["letters"].GetArray()) ids.push_back(l["id"].GetString());
    return ids;
  }

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
  const std::string id = dead_letter_id(stored);
  const CommandResult r = cli({"dlq", "show", id});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(safe_for_a_terminal(r.out));
  ASSERT_EQ(r.out.rfind(id + " ", 0), 0u) << r.out;
  rapidjson::Document shown, original;
  shown.Parse(r.out.data() + id.size() + 1, r.out.size() - id.size() - 1);
  original.Parse(stored.data(), stored.size());
  ASSERT_FALSE(shown.HasParseError()) << r.out;
  EXPECT_TRUE(shown == original) << "show must print the same dead letter, only escaped";
}

TEST_F(DlqCli, ListAndShowSurviveDeeplyNestedElements) {
  const std::vector<std::string> elements = {
      std::string(300000, '['), encode_dead_letter(letter(std::string(300000, '['), "nesting"))};
  client().rpush_many(kDead, elements);
  const CommandResult list = cli({"dlq", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  EXPECT_NE(list.out.find(dead_letter_id(elements[0]) + "  "), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("(unreadable: nests deeper than 64 levels)"), std::string::npos)
      << list.out;
  EXPECT_NE(list.out.find("event=?"), std::string::npos) << list.out;
  for (const std::string& element : elements) {
    const CommandResult show = cli({"dlq", "show", dead_letter_id(element)});
    ASSERT_EQ(show.exit_code, 0) << show;
    EXPECT_EQ(show.out.rfind(dead_letter_id(element) + " ", 0), 0u) << show.out.substr(0, 100);
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
  EXPECT_NE(r.out.find("25 dead letter(s), showing the 20 newest (newest first)"),
            std::string::npos)
      << r.out;
  for (int i = 0; i < 25; ++i) {
    const bool shown = r.out.find(dead_letter_id(letters[i]) + "  ") != std::string::npos;
    EXPECT_EQ(shown, i >= 5) << "letter " << i << "\n" << r.out;
  }
  EXPECT_LT(r.out.find(dead_letter_id(letters[24])), r.out.find(dead_letter_id(letters[5])))
      << "the newest first\n"
      << r.out;
}

TEST_F(DlqCli, ReplayRefusesAnUnreadableLetterAndKeepsIt) {
  const std::string good = user_registered(7);
  client().rpush(kDead, "garbage, not a dead letter");
  client().rpush(kDead, encode_dead_letter(letter(good, "no route")));
  const CommandResult r = cli({"dlq", "replay", "--yes"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("dead letter " + dead_letter_id("garbage, not a dead letter") +
                       " in events:dead not replayed: it cannot be read"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("replayed 1 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(client().lrange(kDead), std::vector<std::string>{"garbage, not a dead letter"});
  EXPECT_EQ(client().lrange(kKey), std::vector<std::string>{good}) << "only the readable one";
}

TEST_F(DlqCli, ReplayRefusesALetterThatKeepsOnlyAPrefix) {
  DeadLetter d = letter(user_registered(1) + std::string(10000, ' '), "over the limit");
  keep_prefix_only(&d);
  const std::string stored = encode_dead_letter(d);
  client().rpush(kDead, stored);
  const CommandResult r = cli({"dlq", "replay", dead_letter_id(stored)});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("dead letter " + dead_letter_id(stored) +
                       " in events:dead not replayed: it keeps only the first"),
            std::string::npos)
      << r;
  EXPECT_EQ(client().llen(kDead), 1);
  EXPECT_EQ(client().llen(kKey), 0);
  const CommandResult list = cli({"dlq", "list"});
  EXPECT_NE(list.out.find("message: first 4096 of "), std::string::npos) << list;
}

// Purge with no filter used to LRANGE, then DEL: letters pushed in between were lost unseen.
// Two operators replay everything at the same moment: each letter goes back exactly once (no
// duplicate in K:retry or K, none lost), whichever replay took it; each says what it did.
TEST_F(DlqCli, TwoReplaysAtOnceReplayEachLetterOnce) {
  constexpr int kLetters = 3000;
  std::vector<std::string> letters;
  for (int i = 0; i < kLetters; ++i)
    letters.push_back(encode_dead_letter(letter(user_registered(i), "failed " + std::to_string(i),
                                                i % 3 == 0 ? nullptr : "users_db")));
  client().rpush_many(kDead, letters, 1000);
  ChildProcess first, second;
  SpawnOptions a, b;
  a.output_path = dir_.file("a.out");
  b.output_path = dir_.file("b.out");
  first.spawn({SwitchyardProcess::binary(), "dlq", "replay", "--yes", "-c", config_}, a);
  second.spawn({SwitchyardProcess::binary(), "dlq", "replay", "--yes", "-c", config_}, b);
  const std::optional<int> ra = first.wait_exit(60s), rb = second.wait_exit(60s);
  ASSERT_TRUE(ra.has_value() && rb.has_value());
  EXPECT_EQ(*ra, 0) << read_file(dir_.file("a.out"));
  EXPECT_EQ(*rb, 0) << read_file(dir_.file("b.out"));
  EXPECT_EQ(client().llen(kDead), 0);
  const std::vector<std::string> pending = client().lrange(kKey);
  const int64_t retries = client().zcard("events:retry");
  EXPECT_EQ(static_cast<int64_t>(pending.size()) + retries, kLetters)
      << "K " << pending.size() << ", K:retry " << retries << "\n"
      << read_file(dir_.file("a.out")) << read_file(dir_.file("b.out"));
  EXPECT_EQ(pending.size(), static_cast<size_t>((kLetters + 2) / 3));
  EXPECT_EQ(std::set<std::string>(pending.begin(), pending.end()).size(), pending.size());
}

// A replay killed (SIGKILL) halfway: every letter is either still dead or replayed, once.
TEST_F(DlqCli, AReplayKilledHalfwayLosesAndDuplicatesNothing) {
  constexpr int kLetters = 20000;
  std::vector<std::string> letters;
  for (int i = 0; i < kLetters; ++i)
    letters.push_back(
        encode_dead_letter(letter(user_registered(i), "failed " + std::to_string(i), "users_db")));
  client().rpush_many(kDead, letters, 1000);
  ChildProcess replay;
  SpawnOptions options;
  options.output_path = dir_.file("replay.out");
  replay.spawn({SwitchyardProcess::binary(), "dlq", "replay", "--yes", "-c", config_}, options);
  ASSERT_TRUE(
      wait_until([&] { return client().zcard("events:retry") > 0; }, 60s, "the replay to start"));
  replay.kill9();
  const int64_t dead = client().llen(kDead), retries = client().zcard("events:retry");
  EXPECT_EQ(dead + retries, kLetters) << "dead " << dead << ", replayed " << retries;
  // What is left replays cleanly afterwards.
  const CommandResult r = cli({"dlq", "replay", "--yes"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(client().llen(kDead), 0);
  EXPECT_EQ(client().zcard("events:retry"), kLetters);
}

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
  const CommandResult r = cli({"dlq", "purge", "--yes"});
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

// An ISO 8601 failed_at `ago` before now.
std::string ago(std::chrono::milliseconds ago) {
  return iso8601(std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch() - ago)
                     .count());
}

TEST_F(DlqCli, AListedIdStillNamesItsLetterAfterOthersAreGone) {
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "first")),
      encode_dead_letter(letter(user_registered(2), "second")),
      encode_dead_letter(letter(user_registered(3), "third"))};
  client().rpush_many(kDead, letters);
  const std::vector<std::string> ids = listed_ids();
  ASSERT_EQ(ids, (std::vector<std::string>{dead_letter_id(letters[2]), dead_letter_id(letters[1]),
                                           dead_letter_id(letters[0])}))
      << "the newest first";

  // The oldest goes (an index listed before this would now name another letter).
  CommandResult r = cli({"dlq", "purge", ids[2]});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 1 dead letter(s)"), std::string::npos) << r;
  // The third, by the id listed before the purge; a unique prefix will do.
  r = cli({"dlq", "replay", ids[0].substr(0, 8)});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("replayed 1 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(client().lrange(kKey), std::vector<std::string>{user_registered(3)});
  EXPECT_EQ(client().lrange(kDead), std::vector<std::string>{letters[1]});
}

TEST_F(DlqCli, AnIdThatMatchesNothingIsAnError) {
  const std::string stored = encode_dead_letter(letter(user_registered(1), "kept"));
  client().rpush(kDead, stored);
  for (const char* action : {"show", "replay", "purge"}) {
    const CommandResult r = cli({"dlq", action, "0123456789abcdef"});
    EXPECT_EQ(r.exit_code, 1) << r;
    EXPECT_NE(r.err.find("no dead letter with id 0123456789abcdef in events:dead"),
              std::string::npos)
        << r;
    EXPECT_NE(r.err.find("`switchyard dlq list` shows the ids"), std::string::npos) << r;
    // A list index is not an id.
    const CommandResult index = cli({"dlq", action, "0"});
    EXPECT_EQ(index.exit_code, 2) << index;
    EXPECT_NE(index.err.find("\"0\" is not a dead-letter id"), std::string::npos) << index;
  }
  EXPECT_EQ(client().lrange(kDead), std::vector<std::string>{stored});
  EXPECT_EQ(client().llen(kKey), 0);
}

TEST_F(DlqCli, AnIdPrefixOfTwoLettersIsAnError) {
  // Two letters whose ids share their first 6 digits (about 5000 tries by the birthday bound).
  std::map<std::string, std::string> by_prefix;
  std::vector<std::string> pair;
  for (int i = 0; pair.empty() && i < 1000000; ++i) {
    const std::string l = encode_dead_letter(letter(user_registered(i), "r"));
    auto [it, added] = by_prefix.emplace(dead_letter_id(l).substr(0, 6), l);
    if (!added) pair = {it->second, l};
  }
  ASSERT_EQ(pair.size(), 2u);
  client().rpush_many(kDead, pair);
  const std::string prefix = dead_letter_id(pair[0]).substr(0, 6);
  const CommandResult r = cli({"dlq", "purge", prefix});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_NE(r.err.find("dead-letter id " + prefix + " matches 2 different letters in events:dead"),
            std::string::npos)
      << r;
  EXPECT_EQ(client().lrange(kDead), pair);
  // The whole id tells them apart.
  const CommandResult one = cli({"dlq", "purge", dead_letter_id(pair[0])});
  EXPECT_EQ(one.exit_code, 0) << one;
  EXPECT_EQ(client().lrange(kDead), std::vector<std::string>{pair[1]});
}

TEST_F(DlqCli, ListFiltersByEventHandlerReasonAndTime) {
  using std::chrono::hours;
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(quote_created(1), "gave up: timeout", "quotes_db", ago(hours(50)))),
      encode_dead_letter(letter(user_registered(2), "no route", nullptr, ago(hours(3)))),
      encode_dead_letter(letter(quote_created(3), "gave up: refused", "quotes_db", ago(hours(1)))),
      encode_dead_letter(letter(quote_created(4), "gave up: timeout", "audit", ago(hours(0))))};
  client().rpush_many(kDead, letters);
  auto ids = [&](std::initializer_list<int> which) {
    std::vector<std::string> out;
    for (int i : which) out.push_back(dead_letter_id(letters[i]));
    return out;
  };
  EXPECT_EQ(listed_ids(), ids({3, 2, 1, 0}));
  EXPECT_EQ(listed_ids({"--event", "quote.*"}), ids({3, 2, 0}));
  EXPECT_EQ(listed_ids({"--event", "*.registered"}), ids({1}));
  EXPECT_EQ(listed_ids({"--handler", "quotes_db"}), ids({2, 0}));
  EXPECT_EQ(listed_ids({"--handler", "-"}), ids({1}));
  EXPECT_EQ(listed_ids({"--reason", "timeout"}), ids({3, 0}));
  EXPECT_EQ(listed_ids({"--since", "2h"}), ids({3, 2}));
  EXPECT_EQ(listed_ids({"--before", "2h"}), ids({1, 0}));
  EXPECT_EQ(listed_ids({"--since", "2d", "--before", "30m"}), ids({2, 1}));
  EXPECT_EQ(listed_ids({"--older-than", "1d"}), ids({0}));
  int64_t cut = 0;
  DeadLetter second;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(letters[1], &second, &error)) << error;
  ASSERT_TRUE(parse_iso8601(second.failed_at, &cut));
  EXPECT_EQ(listed_ids({"--since", second.failed_at}), ids({3, 2, 1}));
  EXPECT_EQ(listed_ids({"--before", iso8601(cut)}), ids({0}));
  EXPECT_EQ(listed_ids({"--event", "quote.*", "--handler", "quotes_db", "--reason", "timeout"}),
            ids({0}));

  const CommandResult text = cli({"dlq", "list", "--event", "quote.*", "--limit", "2"});
  ASSERT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("events:dead: 4 dead letter(s), 3 matching, showing the 2 newest"),
            std::string::npos)
      << text;
  const CommandResult bad = cli({"dlq", "list", "--since", "yesterday"});
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_NE(bad.err.find("--since \"yesterday\" is neither an ISO 8601 time"), std::string::npos)
      << bad;
}

TEST_F(DlqCli, EveryDlqCommandPrintsOneJsonDocument) {
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "no route \x1b[2J")),
      encode_dead_letter(letter(quote_created(2), "gave up", "quotes_db"))};
  client().rpush_many(kDead, letters);

  CommandResult r = cli({"dlq", "list", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_TRUE(safe_for_a_terminal(r.out));
  rapidjson::Document doc = json_of(r);
  EXPECT_STREQ(doc["key"].GetString(), kDead);
  EXPECT_EQ(doc["total"].GetInt(), 2);
  EXPECT_EQ(doc["matched"].GetInt(), 2);
  ASSERT_EQ(doc["letters"].Size(), 2u);
  const auto& newest = doc["letters"][0];
  EXPECT_EQ(newest["id"].GetString(), dead_letter_id(letters[1]));
  EXPECT_STREQ(newest["handler"].GetString(), "quotes_db");
  EXPECT_STREQ(newest["event"].GetString(), "quote.created");
  EXPECT_STREQ(newest["reason"].GetString(), "gave up");
  EXPECT_EQ(newest["attempts"].GetInt(), 1);
  EXPECT_TRUE(newest["replayable"].GetBool());
  EXPECT_TRUE(doc["letters"][1]["handler"].IsNull());
  EXPECT_STREQ(doc["letters"][1]["reason"].GetString(), "no route \x1b[2J");

  r = cli({"dlq", "show", "--json", dead_letter_id(letters[0])});
  ASSERT_EQ(r.exit_code, 0) << r;
  doc = json_of(r);
  ASSERT_EQ(doc["letters"].Size(), 1u);
  EXPECT_EQ(doc["letters"][0]["id"].GetString(), dead_letter_id(letters[0]));
  EXPECT_EQ(doc["letters"][0]["letter"]["message"].GetString(), user_registered(1));

  r = cli({"dlq", "replay", "--json", "--dry-run", "--handler", "quotes_db"});
  ASSERT_EQ(r.exit_code, 0) << r;
  doc = json_of(r);
  EXPECT_TRUE(doc["dry_run"].GetBool());
  EXPECT_EQ(doc["replayed"].GetInt(), 1);
  EXPECT_STREQ(doc["letters"][0]["result"].GetString(), "would_replay");
  EXPECT_STREQ(doc["letters"][0]["to"].GetString(), "events:retry");

  r = cli({"dlq", "replay", "--json", dead_letter_id(letters[0])});
  ASSERT_EQ(r.exit_code, 0) << r;
  doc = json_of(r);
  EXPECT_FALSE(doc["dry_run"].GetBool());
  EXPECT_EQ(doc["replayed"].GetInt(), 1);
  EXPECT_EQ(doc["refused"].GetInt(), 0);
  EXPECT_EQ(doc["letters"][0]["id"].GetString(), dead_letter_id(letters[0]));
  EXPECT_STREQ(doc["letters"][0]["result"].GetString(), "replayed");
  EXPECT_STREQ(doc["letters"][0]["to"].GetString(), kKey);
  EXPECT_TRUE(doc["letters"][0]["handler"].IsNull());

  r = cli({"dlq", "purge", "--json", "--yes"});
  ASSERT_EQ(r.exit_code, 0) << r;
  doc = json_of(r);
  EXPECT_EQ(doc["purged"].GetInt(), 1);
  ASSERT_EQ(doc["ids"].Size(), 1u);
  EXPECT_EQ(doc["ids"][0].GetString(), dead_letter_id(letters[1]));
  EXPECT_EQ(client().llen(kDead), 0);
}

TEST_F(DlqCli, DryRunChangesNothing) {
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "no route")),
      encode_dead_letter(letter(quote_created(2), "gave up", "quotes_db"))};
  client().rpush_many(kDead, letters);
  client().rpush(kKey, user_registered(9));
  CommandResult r = cli({"dlq", "replay", "--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("would replay " + dead_letter_id(letters[0]) +
                       "  event=user.registered  to events (all its routes)"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("would replay " + dead_letter_id(letters[1]) +
                       "  event=quote.created  to handler quotes_db via events:retry"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("would replay 2 dead letter(s) from events:dead"), std::string::npos) << r;
  r = cli({"dlq", "purge", "--dry-run", "--reason", "gave"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("would purge 1 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(client().lrange(kDead), letters);
  EXPECT_EQ(client().lrange(kKey), std::vector<std::string>{user_registered(9)});
  EXPECT_EQ(test::type_of(client(), "events:retry"), "none");
}

TEST_F(DlqCli, PurgeOlderThanRemovesOnlyTheOldOnesWhereverTheyAre) {
  using std::chrono::hours;
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "old", nullptr, ago(hours(240)))),
      encode_dead_letter(letter(user_registered(2), "new", nullptr, ago(hours(24)))),
      encode_dead_letter(letter(user_registered(3), "old", nullptr, ago(hours(190)))),
      encode_dead_letter(letter(user_registered(4), "new", nullptr, ago(hours(0))))};
  client().rpush_many(kDead, letters);
  const CommandResult r = cli({"dlq", "purge", "--older-than", "7d"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("purged 2 dead letter(s)"), std::string::npos) << r;
  EXPECT_EQ(client().lrange(kDead), (std::vector<std::string>{letters[1], letters[3]}));
}

TEST_F(DlqCli, ActingOnEveryLetterWantsYesWithoutATerminal) {
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "no route")),
      encode_dead_letter(letter(user_registered(2), "no route"))};
  client().rpush_many(kDead, letters);
  for (const char* action : {"replay", "purge"}) {
    const CommandResult r = cli({"dlq", action});
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_NE(r.err.find(std::string("dlq ") + action +
                         " without an id or a filter acts on all 2 dead letters in events:dead; "
                         "pass --yes to confirm"),
              std::string::npos)
        << r;
  }
  EXPECT_EQ(client().lrange(kDead), letters);
  EXPECT_EQ(client().llen(kKey), 0);
  const CommandResult r = cli({"dlq", "replay", "-y"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(client().lrange(kKey),
            (std::vector<std::string>{user_registered(1), user_registered(2)}));
  EXPECT_EQ(client().llen(kDead), 0);
}

// On a terminal (script(1) gives it one), acting on every letter asks first; only "y" acts.
TEST_F(DlqCli, ActingOnEveryLetterAsksOnATerminal) {
  const std::vector<std::string> letters = {
      encode_dead_letter(letter(user_registered(1), "no route")),
      encode_dead_letter(letter(user_registered(2), "no route"))};
  client().rpush_many(kDead, letters);
  auto on_a_terminal = [&](const std::string& answer, std::string* output) {
    const std::string out = dir_.file("tty-" + answer + ".out");
    SpawnOptions options;
    options.stdin_path = dir_.write("answer-" + answer, answer + "\n");
    options.output_path = out;
    ChildProcess script;
    script.spawn(
        {"script", "-qec", SwitchyardProcess::binary() + " dlq purge -c " + config_, "/dev/null"},
        options);
    const std::optional<int> rc = script.wait_exit(60s);
    *output = read_file(out);
    return rc.value_or(-1);
  };
  std::string out;
  EXPECT_EQ(on_a_terminal("n", &out), 1) << out;
  EXPECT_NE(out.find("2 dead letters in events:dead: purge all? [y/N]"), std::string::npos) << out;
  EXPECT_NE(out.find("nothing done"), std::string::npos) << out;
  EXPECT_EQ(client().lrange(kDead), letters);
  EXPECT_EQ(on_a_terminal("y", &out), 0) << out;
  EXPECT_NE(out.find("purged 2 dead letter(s)"), std::string::npos) << out;
  EXPECT_EQ(client().llen(kDead), 0);
}

// A filtered purge takes each listed letter by its exact bytes: a daemon appending letters that
// match the same filter meanwhile loses none it did not list, and letters between stay.
TEST_F(DlqCli, FilteredPurgeRemovesExactlyWhatItListed) {
  constexpr int kListed = 2000;
  std::vector<std::string> letters;
  for (int i = 0; i < kListed; ++i)
    letters.push_back(encode_dead_letter(
        letter(user_registered(i), (i % 2 ? "keep " : "drop ") + std::to_string(i))));
  client().rpush_many(kDead, letters, 1000);
  std::atomic<bool> done{false};
  std::atomic<int> late{0};
  std::thread pusher([&] {
    RedisClient c = redis_.client();
    while (!done.load()) {
      c.rpush(kDead,
              encode_dead_letter(letter(user_registered(1), "drop late " + std::to_string(late))));
      ++late;
    }
  });
  const CommandResult r = cli({"dlq", "purge", "--reason", "drop"});
  done = true;
  pusher.join();
  ASSERT_EQ(r.exit_code, 0) << r;
  const size_t at = r.out.find("purged ");
  ASSERT_NE(at, std::string::npos) << r;
  const long purged = std::stol(r.out.substr(at + 7));
  const std::vector<std::string> left = client().lrange(kDead);
  EXPECT_EQ(purged + static_cast<long>(left.size()), kListed + late.load()) << r;
  EXPECT_GE(purged, kListed / 2);
  long kept = 0;
  for (const std::string& l : left) {
    if (l.find("\"keep ") != std::string::npos)
      ++kept;
    else
      ASSERT_NE(l.find("\"drop late "), std::string::npos) << l;
  }
  EXPECT_EQ(kept, kListed / 2);
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
