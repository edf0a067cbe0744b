// router_tap_test.cc: `switchyard tap` against the real daemon and redis-server: it prints the
// handled events its glob matches, escaped, and exits after --limit; over 100 events/s the rest
// is dropped and counted; nobody tapping, the daemon publishes nothing.
#include <algorithm>
#include <fstream>
#include <sstream>

#include "router_fixture.h"
#include "support/child_process.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

class TapTest : public RouterTest {
 protected:
  // How many subscribers the tap channel of source "events" has.
  int64_t subscribers(const std::string& channel = "events:tap") {
    const auto reply = client().command({"PUBSUB", "NUMSUB", channel});
    return reply.elements.size() == 2 ? reply.elements[1].integer : -1;
  }
  // The calls Redis counted for command `name` (INFO commandstats); 0 when it never ran.
  int64_t calls(const std::string& name) {
    const std::string info = client().command({"INFO", "commandstats"}).str;
    const std::string key = "cmdstat_" + name + ":calls=";
    const size_t at = info.find(key);
    return at == std::string::npos ? 0 : std::stoll(info.substr(at + key.size()));
  }
  std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
};

TEST_F(TapTest, PrintsTheMatchingEventsEscapedAndExitsAfterLimit) {
  const std::string config = write_config(base_spec());
  start_daemon(config);
  ASSERT_TRUE(wait_idle(30s)) << diagnostics();

  ChildProcess tap;
  SpawnOptions options;
  options.output_path = dir_.file("tap.out");
  options.stderr_path = dir_.file("tap.err");
  tap.spawn(
      {SwitchyardProcess::binary(), "tap", "--event", "quote.*", "--limit", "3", "-c", config},
      options);
  ASSERT_TRUE(wait_until([&] { return subscribers("events:tap:event:quote.*") == 1; }, 30s,
                         "the tap to subscribe"))
      << read_file(dir_.file("tap.err"));

  // The daemon looks for listeners once a second: keep producing until the tap has printed three
  // events. Each round: a user (not matched by the glob), a quote, and an event no route takes
  // whose name carries a terminal escape (matched by the glob, printed escaped).
  int round = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        ++round;
        client().rpush(kKey, user_registered(round));
        client().rpush(kKey, quote_created(round));
        client().rpush(kKey, R"({"event":"quote.\u001b[31mred","payload":{}})");
        return !tap.is_running();
      },
      60s, "tap --limit 3 to exit"))
      << read_file(dir_.file("tap.err")) << diagnostics();
  EXPECT_EQ(tap.exit_status(), 0);

  const std::string out = read_file(dir_.file("tap.out"));
  std::istringstream lines(out);
  std::string line;
  int count = 0;
  while (std::getline(lines, line)) {
    ++count;
    const bool quote = line.find("  events  quote.created -> quotes_db  ok") != std::string::npos;
    const bool hostile =
        line.find("  events  quote.\\x1b[31mred -> (none)  dead_letter: no route for event") !=
        std::string::npos;
    EXPECT_TRUE(quote || hostile) << line;
  }
  EXPECT_EQ(count, 3) << out;
  EXPECT_EQ(out.find("user.registered"), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << "printed unescaped: " << out;
  ASSERT_TRUE(wait_until([&] { return subscribers("events:tap:event:quote.*") == 0; }, 30s,
                         "the tap to unsubscribe"));
}

// The daemon applies --event's glob before its 100/s limit: in a burst of 2000 other events the
// few matching ones are all printed, and the others are never published.
TEST_F(TapTest, TheDaemonFiltersByTheGlobSoRareEventsSurviveABurst) {
  const std::string config = write_config(base_spec());
  start_daemon(config);
  ASSERT_TRUE(wait_idle(30s)) << diagnostics();
  ChildProcess tap;
  SpawnOptions options;
  options.output_path = dir_.file("tap.out");
  options.stderr_path = dir_.file("tap.err");
  tap.spawn({SwitchyardProcess::binary(), "tap", "--event", "quote.*", "-c", config}, options);
  auto quotes_printed = [&] {
    const std::string out = read_file(dir_.file("tap.out"));
    int64_t n = 0;
    for (size_t at = out.find("quote.created"); at != std::string::npos;
         at = out.find("quote.created", at + 1))
      ++n;
    return n;
  };
  // Warm-up events the glob matches (no route takes them) until the daemon samples them.
  ASSERT_TRUE(wait_until(
      [&] {
        client().rpush(kKey, R"({"event":"quote.warmup","payload":{}})");
        return read_file(dir_.file("tap.out")).find("quote.warmup") != std::string::npos;
      },
      60s, "the first tapped event"))
      << read_file(dir_.file("tap.err")) << diagnostics();
  ASSERT_TRUE(wait_drained(60s)) << diagnostics();
  const int64_t published_before = calls("publish");
  std::vector<std::string> burst;
  for (int i = 0; i < 2000; ++i) burst.push_back(user_registered(i + 1));
  for (int i = 0; i < 20; ++i) burst.push_back(quote_created(1000 + i));
  client().rpush_many(kKey, burst);
  ASSERT_TRUE(
      wait_until([&] { return quotes_printed() >= 20; }, 60s, "the 20 quotes of the burst printed"))
      << "printed " << quotes_printed() << " of 20\n"
      << read_file(dir_.file("tap.err"));
  ASSERT_TRUE(wait_drained(60s)) << diagnostics();
  EXPECT_EQ(quotes_printed(), 20);
  EXPECT_EQ(read_file(dir_.file("tap.out")).find("user.registered"), std::string::npos);
  EXPECT_EQ(read_file(dir_.file("tap.err")).find("not sampled"), std::string::npos)
      << read_file(dir_.file("tap.err"));
  EXPECT_LE(calls("publish") - published_before, 20 + 5);  // the quotes (and warm-up stragglers)
}

TEST_F(TapTest, OverOneHundredPerSecondTheRestIsDroppedAndCounted) {
  const std::string config = write_config(base_spec());
  start_daemon(config);
  ASSERT_TRUE(wait_idle(30s)) << diagnostics();
  ChildProcess tap;
  SpawnOptions options;
  options.output_path = dir_.file("tap.out");
  options.stderr_path = dir_.file("tap.err");
  tap.spawn({SwitchyardProcess::binary(), "tap", "-c", config}, options);
  // Burst events (quotes) printed, plus the events the daemon reported as not sampled.
  auto seen = [&] {
    const std::string out = read_file(dir_.file("tap.out"));
    int64_t n = 0;
    for (size_t at = out.find("quote.created"); at != std::string::npos;
         at = out.find("quote.created", at + 1))
      ++n;
    const std::string err = read_file(dir_.file("tap.err"));
    for (size_t at = err.find("\n("); at != std::string::npos; at = err.find("\n(", at + 1))
      n += std::stoll(err.substr(at + 2));
    return n;
  };
  // Users one at a time until the daemon samples them (it looks for listeners once a second).
  int round = 0;
  ASSERT_TRUE(wait_until(
      [&] {
        client().rpush(kKey, user_registered(++round));
        return read_file(dir_.file("tap.out")).find("user.registered") != std::string::npos;
      },
      60s, "the first tapped event"))
      << read_file(dir_.file("tap.err")) << diagnostics();
  // Then a burst of quotes far over 100/s, after the users: whatever the daemon drops from now
  // on is a quote, and each quote is either printed or counted as dropped.
  std::vector<std::string> burst;
  for (int i = 0; i < 1000; ++i) burst.push_back(quote_created(i + 1));
  client().rpush_many(kKey, burst);
  ASSERT_TRUE(wait_until([&] { return seen() == 1000; }, 60s, "every quote printed or counted"))
      << "seen " << seen() << " of 1000\n"
      << read_file(dir_.file("tap.err"));
  EXPECT_NE(read_file(dir_.file("tap.err")).find("not sampled: over 100/s"), std::string::npos);
}

TEST_F(TapTest, NobodyTappingTheDaemonPublishesNothing) {
  const std::string config = write_config(base_spec());
  start_daemon(config);
  ASSERT_TRUE(wait_idle(30s)) << diagnostics();
  for (int i = 1; i <= 50; ++i) {
    client().rpush(kKey, user_registered(i));
    client().rpush(kKey, quote_created(i));
  }
  ASSERT_TRUE(wait_drained(60s)) << diagnostics();
  EXPECT_EQ(rows("quotes"), 50);
  // The daemon did look for listeners (twice, so at least a second went by with the messages
  // handled), and published nothing.
  ASSERT_TRUE(wait_until([&] { return calls("pubsub|channels") >= 2; }, 30s,
                         "the daemon to look for tap listeners"));
  EXPECT_EQ(calls("publish"), 0);
  EXPECT_EQ(subscribers(), 0);
}

}  // namespace
}  // namespace switchyard::test
