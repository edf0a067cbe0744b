// router_route_tests_test.cc: `switchyard test FILE` (route tests) and `check --route EVENT`
// through the real binary: passing cases, a failing case's diff and exit code, bad test files,
// call: true running the real plugin, and nothing touched in Redis or by plugins otherwise.
#include <filesystem>

#include "router_fixture.h"
#include "support/child_process.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class RouteTestsTest : public RouterTest {
 protected:
  // base_spec plus a catch-all audit handler for quote.* (jsonl_sink), the quote.created contract
  // and unrouted events dead-lettered (the default).
  std::string config() {
    RoutesYaml spec = base_spec();
    spec.extra_handlers =
        "audit:\n  plugin: jsonl_sink\n  config: {path: " + json_string(dir_.file("audit.jsonl")) +
        "}";
    spec.extra_routes = "\"quote.*\": [audit]";
    spec.extra_yaml =
        "contracts:\n  quote.created: " +
        json_string(std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json") + "\n";
    return write_config(spec);
  }
  CommandResult run_tests(const std::string& tests, const std::string& config_path) {
    const std::string file = dir_.write("routes.test.yaml", tests);
    return SwitchyardProcess::exec({"test", file, "-c", config_path}, 30s);
  }
  static constexpr const char* kQuote =
      R"({"event":"quote.created","payload":{"quote_id":1,"user_id":2,"product_id":3,"qty":4}})";
};

TEST_F(RouteTestsTest, PassingCasesExitZeroAndTouchNeitherRedisNorPlugins) {
  const std::string config_path = config();
  const CommandResult r = run_tests(std::string(R"(tests:
  - name: quote goes to its table and the audit
    input: {"event": "quote.created", "payload": {"quote_id": 1, "user_id": 2, "product_id": 3, "qty": 4}}
    expect: {handlers: [audit, quotes_db]}
  - name: raw bytes, explicit source
    input_raw: ')") + kQuote + R"('
    source: events
    expect: {handlers: [quotes_db, audit]}
  - name: users
    input: {event: user.registered, payload: {user_id: 7}}
    expect: {handlers: [users_db]}
  - name: a quote without qty breaks the contract
    input: {event: quote.created, payload: {quote_id: 1, user_id: 2, product_id: 3}}
    expect: {dead_letter: "#/qty"}
  - name: unknown events are dead-lettered
    input: {event: invoice.paid, payload: {}}
    expect: {dead_letter: no route for event "invoice.paid"}
  - name: not JSON
    input_raw: "not json"
    expect: {dead_letter: invalid JSON}
)",
                                    config_path);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("ok    quote goes to its table and the audit\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("ok    not JSON\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("6 passed, 0 failed"), std::string::npos) << r;
  // No plugin was called (quote_created_sink would have created the DB, jsonl_sink its file),
  // and Redis was never asked.
  EXPECT_FALSE(fs::exists(db_path()));
  EXPECT_FALSE(fs::exists(dir_.file("audit.jsonl")));
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{});
}

TEST_F(RouteTestsTest, AFailingCaseExitsOneWithExpectedAndGotAtItsLine) {
  const CommandResult r = run_tests(R"(tests:
  - name: users
    input: {event: user.registered, payload: {user_id: 7}}
    expect: {handlers: [users_db]}
  - name: quotes reach users_db
    input: {event: quote.created, payload: {quote_id: 1, user_id: 2, product_id: 3, qty: 4}}
    expect: {handlers: [users_db]}
  - name: a valid quote is dead-lettered
    input: {event: quote.created, payload: {quote_id: 1, user_id: 2, product_id: 3, qty: 4}}
    expect: {dead_letter: contract}
)",
                                    config());
  EXPECT_EQ(r.exit_code, 1) << r;
  const std::string file = dir_.file("routes.test.yaml");
  EXPECT_NE(r.out.find("ok    users\n"), std::string::npos) << r;
  EXPECT_NE(r.out.find("FAIL  " + file +
                       ":5:5: quotes reach users_db\n"
                       "      expected: handlers [users_db]\n"
                       "      got:      handlers [quotes_db, audit]\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("FAIL  " + file +
                       ":8:5: a valid quote is dead-lettered\n"
                       "      expected: dead letter, reason containing \"contract\"\n"
                       "      got:      handlers [quotes_db, audit]\n"),
            std::string::npos)
      << r;
  EXPECT_NE(r.out.find("1 passed, 2 failed"), std::string::npos) << r;
}

TEST_F(RouteTestsTest, ABadTestFileExitsTwoNamingFileLineAndColumn) {
  const std::string config_path = config();
  const std::string file = dir_.file("routes.test.yaml");
  struct Bad {
    std::string yaml;
    std::string error;
  };
  const std::vector<Bad> bad = {
      {"tests:\n  - name: x\n    input: {event: a, payload: {}}\n    expct: {handlers: []}\n",
       file + ":4:5: unknown key \"expct\" in tests[0]"},
      {"tests:\n  - name: x\n    input: {event: a, payload: {}}\n"
       "    expect: {handlers: [quotes_bd]}\n",
       file + ":4:25: tests[0].expect.handlers[0]: no handler \"quotes_bd\" in " + config_path +
           "; did you mean \"quotes_db\"?"},
      {"tests:\n  - name: x\n    source: evnts\n    input_raw: x\n    expect: {dead_letter: y}\n",
       file + ":3:13: tests[0].source: no source \"evnts\""},
      {"tests:\n  - name: x\n    expect: {handlers: []}\n",
       file + ":2:5: tests[0]: give exactly one of input: (YAML/JSON) or input_raw:"},
      {"tests:\n  - name: x\n    input_raw: x\n    expect: {handlers: [], dead_letter: y}\n",
       file + ":4:13: tests[0].expect: give exactly one of handlers: or dead_letter:"},
      {"tests: [\n", file + ":2:1: invalid YAML"},
      {"cases: []\n", file + ":1:1: unknown key \"cases\""},
  };
  for (const Bad& b : bad) {
    const CommandResult r = run_tests(b.yaml, config_path);
    EXPECT_EQ(r.exit_code, 2) << b.yaml << r;
    EXPECT_NE(r.err.find(b.error), std::string::npos) << b.yaml << "\nwanted: " << b.error << r;
  }
  const CommandResult missing =
      SwitchyardProcess::exec({"test", dir_.file("nope.yaml"), "-c", config_path}, 30s);
  EXPECT_EQ(missing.exit_code, 2) << missing;
  EXPECT_NE(missing.err.find(dir_.file("nope.yaml") + ": cannot read"), std::string::npos)
      << missing;
}

TEST_F(RouteTestsTest, CallTrueRunsTheRealHandlersAndReportsTheirAnswers) {
  const CommandResult r = run_tests(R"(tests:
  - name: stored for real
    input: {event: quote.created, payload: {quote_id: 1, user_id: 2, product_id: 3, qty: 4}}
    call: true
    expect: {handlers: [quotes_db, audit]}
)",
                                    config());
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("      called quotes_db: ok\n      called audit: ok\n"), std::string::npos)
      << r;
  EXPECT_EQ(rows("quotes"), 1);
  EXPECT_TRUE(fs::exists(dir_.file("audit.jsonl")));
  EXPECT_EQ(client().keys("*"), std::vector<std::string>{});
}

TEST_F(RouteTestsTest, CheckRoutePrintsTheHandlersAndTheContractOfOneEvent) {
  const std::string config_path = config();
  CommandResult r =
      SwitchyardProcess::exec({"check", "--route", "quote.created", "-c", config_path}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("event: quote.created (source events, key events)\n"), std::string::npos)
      << r;
  EXPECT_NE(r.out.find("contract: schema "), std::string::npos) << r;
  EXPECT_NE(r.out.find("quote.created.json"), std::string::npos) << r;
  EXPECT_NE(r.out.find("handlers: quotes_db audit\n"), std::string::npos) << r;

  r = SwitchyardProcess::exec({"check", "--route", "quote.updated", "-c", config_path}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("contract: none"), std::string::npos) << r;
  EXPECT_NE(r.out.find("handlers: audit\n"), std::string::npos) << r;

  r = SwitchyardProcess::exec({"check", "--route", "invoice.paid", "-c", config_path}, 30s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("handlers: none; dead-lettered to events:dead: no route for event "
                       "\"invoice.paid\""),
            std::string::npos)
      << r;

  r = SwitchyardProcess::exec(
      {"check", "--route", "quote.created", "--source", "nope", "-c", config_path}, 30s);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("--source nope: no such source"), std::string::npos) << r;
  EXPECT_FALSE(fs::exists(db_path())) << "check --route loads no plugin";
}

}  // namespace
}  // namespace switchyard::test
