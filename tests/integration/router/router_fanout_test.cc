// router_fanout_test.cc: glob ("quote.*") and catch-all ("*") routes through the real binary:
// fan-out to a jsonl_sink and quotes_db, and union semantics (a handler matched twice runs once).
#include <algorithm>

#include "router_fixture.h"
#include "support/child_process.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

TEST_F(RouterTest, GlobAndCatchAllFanOutWithUnionSemantics) {
  const std::string audit_path = dir_.file("audit.jsonl");
  RoutesYaml spec = base_spec();
  spec.extra_handlers =
      "audit:\n  plugin: jsonl_sink\n  config: { path: " + json_string(audit_path) + " }\n";
  // A quote matches quote.created, quote.* and *: quotes_db twice, audit twice -> once each.
  // A user matches user.registered and *. Anything else matches * only.
  spec.extra_routes = "\"quote.*\": [audit, quotes_db]\n\"*\": [audit]\n";
  const std::string config = write_config(spec);

  // The routing table as check prints it (a cheap guard that the YAML says what we mean).
  const CommandResult check = SwitchyardProcess::exec({"check", "-c", config}, 20s);
  ASSERT_EQ(check.exit_code, 0) << check;
  EXPECT_NE(check.out.find("quote.* -> audit quotes_db"), std::string::npos) << check.out;
  EXPECT_NE(check.out.find("* -> audit"), std::string::npos) << check.out;

  start_daemon(config);
  std::vector<std::string> pushed = mixed_events(2'000);
  // quote.updated: only the glob and the catch-all; order.placed: only the catch-all (routed,
  // so not dead-lettered even under unrouted: dead_letter).
  for (int i = 1; i <= 100; ++i) {
    pushed.push_back(envelope("quote.updated", "{\"quote_id\":" + std::to_string(100'000 + i) +
                                                   ",\"user_id\":1,\"product_id\":1,\"qty\":1}"));
    pushed.push_back(envelope("order.placed", "{\"order_id\":" + std::to_string(i) + "}"));
  }
  client().rpush_many(kKey, pushed);
  ASSERT_TRUE(wait_drained(30s));

  // Every quote (created and updated) in quotes_db, every user in users_db.
  EXPECT_EQ(rows("quotes"), 1'000 + 100);
  EXPECT_EQ(rows("user_registrations"), 1'000);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0) << diagnostics();

  // Every message exactly once in the audit file, byte for byte: the handler matched by two or
  // three keys was run once per message.
  std::vector<std::string> lines = split_lines(read_file(audit_path));
  EXPECT_EQ(lines.size(), pushed.size()) << "one line per message";
  std::vector<std::string> expected = pushed;
  std::sort(lines.begin(), lines.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_TRUE(lines == expected) << "the audit file does not hold each message exactly once";
  EXPECT_EQ(std::adjacent_find(lines.begin(), lines.end()), lines.end()) << "a duplicated line";

  // Quotes are in both sinks: the audit file holds 1,100 quote lines.
  const auto quote_lines = std::count_if(lines.begin(), lines.end(), [](const std::string& l) {
    return l.rfind("{\"event\":\"quote.", 0) == 0;
  });
  EXPECT_EQ(quote_lines, 1'100);

  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

}  // namespace
}  // namespace switchyard::test
