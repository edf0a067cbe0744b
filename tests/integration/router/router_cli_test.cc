// router_cli_test.cc: the switchyard command line against a real redis-server: check (valid and
// each kind of broken config), version, publish (argument, --file, stdin), stats --json, and run
// refusing a missing plugin before it takes any message.
#include <rapidjson/document.h>

#include <filesystem>
#include <regex>
#include <sstream>

#include "config/config_keys.h"
#include "router_fixture.h"
#include "support/child_process.h"
#include "support/plugin_paths.h"
#include "support/wait.h"
#include "switchyard/plugin.h"
#include "switchyard/version.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class RouterCliTest : public RouterTest {
 protected:
  // `switchyard ARGS... -c config`, bounded.
  CommandResult cli(std::vector<std::string> args, const std::string& config,
                    const std::string& stdin_data = "") {
    args.push_back("-c");
    args.push_back(config);
    return SwitchyardProcess::exec(args, 20s, {}, stdin_data);
  }
};

// ------------------------------------------------------------------------------------- check

TEST_F(RouterCliTest, CheckPrintsTheRoutingTableOfAValidConfig) {
  const std::string config = write_config(base_spec());
  const CommandResult r = cli({"check"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("user.registered -> users_db"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("quote.created -> quotes_db"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bundled_plugin("user_registered_sink")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bundled_plugin("quote_created_sink")), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("events:dead"), std::string::npos) << "the keys it uses: " << r.out;
  // No contracts: said so, not left out.
  EXPECT_NE(r.out.find("\ncontracts:\n  (none: payloads are not checked)\n"), std::string::npos)
      << r.out;
  // check touches nothing in Redis.
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{});
}

TEST_F(RouterCliTest, CheckListsEachContractWithItsSchemaFile) {
  // One schema by absolute path, one relative to routes.yaml (printed resolved).
  fs::create_directories(dir_.file("schemas"));
  dir_.write("schemas/user.registered.json",
             R"({"type": "object", "required": ["user_id"],
                 "properties": {"user_id": {"type": "integer"}}})");
  const std::string quote_schema =
      std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json";
  RoutesYaml spec = base_spec();
  spec.extra_yaml =
      "contracts:\n  user.registered: schemas/user.registered.json\n"
      "  quote.created: " +
      json_string(quote_schema) + "\n";
  const std::string config = write_config(spec);
  const CommandResult r = cli({"check"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::string user_schema =
      fs::path(dir_.file("schemas/user.registered.json")).lexically_normal().string();
  const std::string quote_normal = fs::path(quote_schema).lexically_normal().string();
  // A section of its own, between the routes and the sources, one line per contract (by event).
  const std::string section =
      "\ncontracts:\n"
      "  quote.created: schema " +
      quote_normal +
      " (compiled)\n"
      "  user.registered: schema " +
      user_schema + " (compiled)\n\n";
  const size_t at = r.out.find(section);
  ASSERT_NE(at, std::string::npos) << "expected\n" << section << "in\n" << r.out;
  EXPECT_LT(r.out.find("\nroutes:\n"), at) << r.out;
  EXPECT_GT(r.out.find("\nsources:\n"), at) << r.out;
  EXPECT_EQ(r.out.find("(none"), std::string::npos) << r.out;
}

struct BrokenConfig {
  std::string name;
  RoutesYaml spec;
  std::string at;                 // text whose position the error must point at
  std::vector<std::string> says;  // substrings of the error
};

TEST_F(RouterCliTest, CheckRejectsEachKindOfBrokenConfigWithFileLineColumn) {
  // A plugins dir holding the bundled plugins plus a plugin built for ABI 999.
  const std::string plugins = dir_.file("plugins");
  fs::create_directories(plugins);
  for (const auto& entry : fs::directory_iterator(SWITCHYARD_PLUGIN_DIR))
    fs::copy_file(entry.path(), plugins + "/" + entry.path().filename().string());
  fs::copy_file(test_plugin("wrong_abi_plugin"), plugins + "/wrong_abi_plugin.so");

  std::vector<BrokenConfig> cases;
  {
    BrokenConfig c{"unknown top-level key",
                   base_spec(),
                   "bogus_setting",
                   {"\"bogus_setting\"", "unknown key"}};
    c.spec.extra_yaml = "bogus_setting: 1\n";
    cases.push_back(c);
  }
  {
    BrokenConfig c{"route to an undefined handler",
                   base_spec(),
                   "ghost_handler",
                   {"\"ghost_handler\"", "order.placed"}};
    c.spec.extra_routes = "order.placed: [ghost_handler]\n";
    cases.push_back(c);
  }
  {
    BrokenConfig c{"missing plugin .so",
                   base_spec(),
                   "no_such_sink",
                   {bundled_plugin("no_such_sink"), "not found"}};
    c.spec.extra_handlers = "ghost_db:\n  plugin: no_such_sink\n  config: {}\n";
    cases.push_back(c);
  }
  {
    BrokenConfig c{"plugin with the wrong ABI",
                   base_spec(),
                   "wrong_abi_plugin",
                   {plugins + "/wrong_abi_plugin.so", "999", "ABI version 1"}};
    c.spec.plugins_dir = plugins;
    c.spec.extra_handlers = "legacy:\n  plugin: wrong_abi_plugin\n  config: {}\n";
    cases.push_back(c);
  }
  {
    BrokenConfig c{"unknown handler config key",
                   base_spec(),
                   "databse",
                   {"\"databse\"", "typo_db", "accepted: database"}};
    c.spec.extra_handlers = "typo_db:\n  plugin: quote_created_sink\n  config: { databse: " +
                            json_string(dir_.file("typo.db")) + " }\n";
    cases.push_back(c);
  }

  for (const BrokenConfig& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string yaml = routes_yaml(c.spec);
    const std::string config = dir_.write("broken.yaml", yaml);
    const CommandResult r = cli({"check"}, config);
    EXPECT_EQ(r.exit_code, 2) << r;
    const std::string where = config + ":" + line_col(yaml, c.at) + ": ";
    EXPECT_NE(r.err.find(where), std::string::npos)
        << "stderr should start the error with " << where << "\n"
        << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(R"(broken\.yaml:\d+:\d+: )"))) << r.err;
    for (const std::string& s : c.says)
      EXPECT_NE(r.err.find(s), std::string::npos) << "stderr should say " << s << "\n" << r.err;
    EXPECT_EQ(r.out.find("OK"), std::string::npos) << r.out;
  }
}

// ----------------------------------------------------------------------------------- version

// `version` and `--version` print the same line: release, build type, plugin ABI.
TEST_F(RouterCliTest, VersionPrintsTheReleaseTheBuildTypeAndThePluginAbi) {
  const CommandResult r = SwitchyardProcess::exec({"version"}, 10s);
  ASSERT_EQ(r.exit_code, 0) << r;
  const std::regex line(
      "switchyard " + std::regex_replace(SWITCHYARD_VERSION_STRING, std::regex(R"(\.)"), R"(\.)") +
      R"( \((Debug|Release|RelWithDebInfo|MinSizeRel) build, plugin ABI )" +
      std::to_string(SWITCHYARD_ABI_VERSION) + R"(\)\n)");
  EXPECT_TRUE(std::regex_match(r.out, line)) << r;
  EXPECT_EQ(SWITCHYARD_ABI_VERSION, 1);

  const CommandResult flag = SwitchyardProcess::exec({"--version"}, 10s);
  EXPECT_EQ(flag.exit_code, 0) << flag;
  EXPECT_EQ(flag.out, r.out);
}

// `check --print-keys` prints the key table the loader reads by, one line per key, without a
// config file.
TEST_F(RouterCliTest, CheckPrintKeysListsEveryKeyWithItsTypeAndDefault) {
  const CommandResult r = SwitchyardProcess::exec(
      {"check", "--print-keys", "-c", dir_.file("no-such-routes.yaml")}, 10s);
  ASSERT_EQ(r.exit_code, 0) << r;
  std::istringstream lines(r.out);
  std::string line;
  std::getline(lines, line);  // the header
  for (const KeySpec& k : config_keys()) {
    ASSERT_TRUE(std::getline(lines, line)) << "no line for " << k.path << "\n" << r;
    std::istringstream words(line);
    std::string path;
    words >> path;
    EXPECT_EQ(path, k.path) << line;
    EXPECT_NE(line.find(describe_key_type(k)), std::string::npos) << line;
    EXPECT_NE(line.find(k.has_default ? k.default_text : "-"), std::string::npos) << line;
    EXPECT_NE(line.find(k.doc), std::string::npos) << line;
  }
  EXPECT_FALSE(std::getline(lines, line)) << "an extra line: " << line;
  for (const char* key : {"sources.*.dead_letter_max", "contracts.*", "metrics.listen"})
    EXPECT_NE(r.out.find(key), std::string::npos) << key;
}

// ----------------------------------------------------------------------------------- publish

TEST_F(RouterCliTest, PublishPushesExactlyOneEnvelope) {
  const std::string config = write_config(base_spec());
  const std::string payload =
      R"({"quote_id":1,"user_id":2,"product_id":3,"qty":4,"created_at":"2026-05-07T10:00:00+00:00"})";
  CommandResult r = cli({"publish", "quote.created", payload}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("published 1 message(s) to events"), std::string::npos) << r.out;
  // No payload: an empty object. Whitespace in the payload is not significant; non-ASCII text and
  // an event name needing escapes come out as valid JSON.
  r = cli({"publish", "user.registered"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  r = cli({"publish", "say \"hi\"", "{ \"name\" : \"Zoë\",\n \"n\": [1, 2] }"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;

  EXPECT_EQ(client().lrange(kKey),
            (std::vector<std::string>{
                envelope("quote.created", payload),
                R"({"event":"user.registered","payload":{}})",
                R"({"event":"say \"hi\"","payload":{"name":"Zoë","n":[1,2]}})",
            }));
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{kKey}) << "publish writes only K";
}

TEST_F(RouterCliTest, PublishFileFromStdinAndFromAFilePushesLinesAsIs) {
  const std::string config = write_config(base_spec());
  // CRLF line ends and blank lines are not part of a message; everything else goes as-is, even
  // a line that is not JSON (the daemon dead-letters it; publish is a transport).
  const std::string input = user_registered(1) + "\n" + quote_created(1) + "\r\n\n" + "not json\n" +
                            R"({"event":"x","payload":{},"extra":[1, 2]})";
  CommandResult r = cli({"publish", "--file", "-"}, config, input);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("published 4 message(s)"), std::string::npos) << r.out;
  EXPECT_EQ(client().lrange(kKey),
            (std::vector<std::string>{user_registered(1), quote_created(1), "not json",
                                      R"({"event":"x","payload":{},"extra":[1, 2]})"}));

  // A file of 2,500 lines (several pipelined RPUSH chunks), in order.
  client().del(kKey);
  const std::vector<std::string> events = mixed_events(2'500);
  std::string text;
  for (const auto& e : events) text += e + "\n";
  const std::string file = dir_.write("events.jsonl", text);
  r = cli({"publish", "--file", file}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(client().lrange(kKey), events);
  // And the same through stdin.
  client().del(kKey);
  r = cli({"publish", "--file", "-"}, config, text);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(client().lrange(kKey), events);
}

TEST_F(RouterCliTest, PublishRefusesABadPayloadAndPushesNothing) {
  const std::string config = write_config(base_spec());
  for (const std::string& bad : {std::string("{bad"), std::string("[1,2]"), std::string("\"s\""),
                                 std::string("{\"a\":1} trailing")}) {
    SCOPED_TRACE(bad);
    const CommandResult r = cli({"publish", "quote.created", bad}, config);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_NE(r.err.find("PAYLOAD_JSON"), std::string::npos) << r.err;
  }
  const CommandResult none = cli({"publish"}, config);
  EXPECT_EQ(none.exit_code, 2) << none;
  const CommandResult missing = cli({"publish", "--file", dir_.file("nope.jsonl")}, config);
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_NE(missing.err.find(dir_.file("nope.jsonl")), std::string::npos) << missing.err;
  const CommandResult no_source = cli({"publish", "--source", "nope", "x"}, config);
  EXPECT_EQ(no_source.exit_code, 2) << no_source;
  EXPECT_NE(no_source.err.find("nope"), std::string::npos) << no_source.err;
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{});
}

// ------------------------------------------------------------------------------------- stats

TEST_F(RouterCliTest, StatsJsonMatchesRedis) {
  const std::string config = write_config(base_spec());
  // 3 dead letters made by a real daemon, then 5 messages pending with no daemon running.
  start_daemon(config);
  client().rpush_many(kKey, {"[1]", "{", R"({"event":"nope","payload":{}})", user_registered(1)});
  ASSERT_TRUE(wait_drained(20s));
  auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  ASSERT_EQ(*stopped, 0);
  ASSERT_EQ(client().rpush_many(kKey, mixed_events(5, 10)), 5);

  const CommandResult r = cli({"stats", "--json"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  rapidjson::Document doc;
  doc.Parse(r.out.data(), r.out.size());
  ASSERT_FALSE(doc.HasParseError()) << "stats --json is not JSON: " << r.out;
  ASSERT_TRUE(doc.IsObject() && doc.HasMember("events") && doc["events"].IsObject()) << r.out;
  const auto& events = doc["events"];
  for (const char* field : {"pending", "inflight", "retrying", "dead"})
    ASSERT_TRUE(events.HasMember(field) && events[field].IsInt64()) << field << ": " << r.out;
  EXPECT_EQ(events["pending"].GetInt64(), client().llen(kKey));
  EXPECT_EQ(events["pending"].GetInt64(), 5);
  EXPECT_EQ(events["dead"].GetInt64(), client().llen("events:dead"));
  EXPECT_EQ(events["dead"].GetInt64(), 3);
  EXPECT_EQ(events["inflight"].GetInt64(), 0);
  EXPECT_EQ(events["retrying"].GetInt64(), 0);
  ASSERT_TRUE(events.HasMember("key") && events["key"].IsString()) << r.out;
  EXPECT_STREQ(events["key"].GetString(), kKey);
}

TEST_F(RouterCliTest, StatsJsonStaysJsonWhateverTheNames) {
  RoutesYaml spec = base_spec();
  spec.source_name = "ev\"x\\y";
  spec.source_key = "k\"y\\z";
  const std::string config = write_config(spec);
  ASSERT_EQ(client().rpush_many(spec.source_key, mixed_events(3)), 3);
  const CommandResult r = cli({"stats", "--json"}, config);
  ASSERT_EQ(r.exit_code, 0) << r;
  rapidjson::Document doc;
  doc.Parse(r.out.data(), r.out.size());
  ASSERT_FALSE(doc.HasParseError()) << "stats --json is not JSON: " << r.out;
  ASSERT_TRUE(doc.IsObject() && doc.HasMember(spec.source_name.c_str())) << r.out;
  const auto& source = doc[spec.source_name.c_str()];
  ASSERT_TRUE(source.HasMember("key") && source["key"].IsString()) << r.out;
  EXPECT_EQ(std::string(source["key"].GetString()), spec.source_key);
  ASSERT_TRUE(source.HasMember("pending") && source["pending"].IsInt64()) << r.out;
  EXPECT_EQ(source["pending"].GetInt64(), 3);
}

TEST_F(RouterCliTest, StatsShowsTheSourceAlertsWithControlBytesEscaped) {
  const std::string config = write_config(base_spec());
  client().command({"HSET", std::string(kKey) + ":alerts", "inflight_foreign",
                    "2026-01-01T00:00:00.000Z list x\x1b[2J held; do y"});
  const CommandResult text = cli({"stats"}, config);
  ASSERT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("ALERT inflight_foreign: 2026-01-01T00:00:00.000Z list x\\x1b[2J "
                          "held; do y\n"),
            std::string::npos)
      << text.out;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << "a control byte reached the terminal";

  const CommandResult json = cli({"stats", "--json"}, config);
  ASSERT_EQ(json.exit_code, 0) << json;
  rapidjson::Document doc;
  doc.Parse(json.out.data(), json.out.size());
  ASSERT_FALSE(doc.HasParseError()) << "stats --json is not JSON: " << json.out;
  const auto& alerts = doc["events"]["alerts"];
  ASSERT_TRUE(alerts.IsObject() && alerts.HasMember("inflight_foreign")) << json.out;
  EXPECT_EQ(std::string(alerts["inflight_foreign"].GetString()),
            "2026-01-01T00:00:00.000Z list x\x1b[2J held; do y");
}

// --------------------------------------------------------------------------------------- run

TEST_F(RouterCliTest, RunWithAMissingPluginExitsTwoBeforeTakingAnyMessage) {
  RoutesYaml spec = base_spec();
  spec.extra_handlers = "ghost_db:\n  plugin: no_such_sink\n  config: {}\n";
  spec.extra_routes = "order.placed: [ghost_db]\n";
  const std::string config = write_config(spec);
  const std::vector<std::string> queued = mixed_events(10);
  ASSERT_EQ(client().rpush_many(kKey, queued), 10);

  start_daemon(config);
  const auto status = daemon_.wait_exit(15s);
  ASSERT_TRUE(status.has_value()) << "run should refuse to start: " << daemon_.log_tail();
  EXPECT_EQ(*status, 2) << daemon_.log_tail();
  const std::string log = daemon_.log();
  EXPECT_NE(log.find(bundled_plugin("no_such_sink")), std::string::npos) << log;
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(routes\.yaml:\d+:\d+: )"))) << log;
  // K untouched, nothing else created.
  EXPECT_EQ(client().lrange(kKey), queued);
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{kKey});
  // The handlers before ghost_db may have been created (and made their table); none ran.
  EXPECT_LE(rows("user_registrations"), 0) << "no message should have been handled";
}

}  // namespace
}  // namespace switchyard::test
