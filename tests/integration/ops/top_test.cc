// top_test.cc: `switchyard top` in a real terminal (tmux: send-keys, capture-pane) against the
// real daemon draining a backlog: a rate that changes, a sort key, q to quit; and the plain-text
// frame when stdout is not a terminal.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <sstream>
#include <string>
#include <vector>

#include "integration/ops/ops_support.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// A private tmux server (its own socket name), killed with the test.
class Tmux {
 public:
  Tmux() : socket_("switchyard-top-test-" + std::to_string(getpid())) {}
  ~Tmux() { run({"kill-server"}); }
  CommandResult run(std::vector<std::string> args) {
    args.insert(args.begin(), {"tmux", "-L", socket_});
    return run_command(args, 10s);
  }
  std::string capture() { return run({"capture-pane", "-p", "-t", "top"}).out; }

 private:
  std::string socket_;
};

// The whitespace-separated cells of the first line of `screen` starting with `name`.
std::vector<std::string> row_of(const std::string& screen, const std::string& name) {
  for (const std::string& line : split_lines(screen)) {
    if (line.rfind(name + " ", 0) != 0) continue;
    std::istringstream in(line);
    std::vector<std::string> cells;
    for (std::string c; in >> c;) cells.push_back(c);
    return cells;
  }
  return {};
}

class TopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    const std::string plugins = ops::make_plugins_dir(
        dir_, {ops::bundled_plugin("user_registered_sink"),
               ops::bundled_plugin("quote_created_sink"), ops::test_plugin("slow_sink")});
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = plugins;
    spec.database = dir_.file("analytics.db");
    spec.source_name = "analytics";
    spec.source_key = "events";
    spec.source_extra = "batch: 10";
    // 20 ms per batch of 10: a few hundred messages/s, so the backlog drains for a while.
    spec.extra_handlers = "slow:\n  plugin: slow_sink\n  config: { path: \"" +
                          dir_.file("slow.out") + "\", sleep_ms: 20 }";
    spec.extra_routes = "\"slow.*\": [slow]";
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
    std::vector<std::string> events;
    for (int i = 0; i < 6000; ++i)
      events.push_back(envelope("slow.test", "{\"n\":" + std::to_string(i) + "}"));
    redis_.client().rpush_many("events", events, 500);
    daemon_ = SwitchyardProcess::run(config_, dir_.file("switchyard.log"));
  }

  RedisServer redis_;
  TempDir dir_;
  std::string config_;
  SwitchyardProcess daemon_;
};

TEST_F(TopTest, ShowsAChangingRateSortsOnSAndQuitsOnQ) {
  Tmux tmux;
  CommandResult started =
      tmux.run({"new-session", "-d", "-s", "top", "-x", "160", "-y", "40",
                SwitchyardProcess::binary() + " top -c " + config_ + " --interval 0.5"});
  ASSERT_EQ(started.exit_code, 0) << started;
  // OUT/s is the 7th cell of the source's row: SOURCE PENDING INFLIGHT RETRY DEAD IN/s OUT/s.
  std::string screen, first_rate;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.capture();
        std::vector<std::string> row = row_of(screen, "analytics");
        if (row.size() < 7 || row[6] == "-" || row[6] == "0.0") return false;
        first_rate = row[6];
        return true;
      },
      30s, "top to show analytics' out rate"))
      << screen << "\n"
      << daemon_.log_tail();
  EXPECT_NE(screen.find("HANDLER"), std::string::npos) << screen;
  EXPECT_NE(screen.find("sort: name"), std::string::npos) << screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.capture();
        std::vector<std::string> row = row_of(screen, "analytics");
        return row.size() >= 7 && row[6] != "-" && row[6] != first_rate;
      },
      30s, "the out rate to change from " + first_rate))
      << screen;
  EXPECT_NE(row_of(screen, "slow").size(), 0u) << "no row for the slow handler\n" << screen;

  ASSERT_EQ(tmux.run({"send-keys", "-t", "top", "s"}).exit_code, 0);
  ASSERT_TRUE(wait_until(
      [&] { return (screen = tmux.capture()).find("sort: backlog") != std::string::npos; }, 10s,
      "s to switch the sort to backlog"))
      << screen;
  ASSERT_EQ(tmux.run({"send-keys", "-t", "top", "q"}).exit_code, 0);
  ASSERT_TRUE(wait_until(
      [&] {
        return tmux.run({"has-session", "-t", "top"}).exit_code != 0;
      },
      10s, "q to quit top (its tmux session ends)"))
      << tmux.capture();
}

// On a terminal of 20 columns and 5 rows the header stays on the first row (no line break after
// the last row scrolls it away), no line wraps, and the source's first figure still shows.
TEST_F(TopTest, ANarrowTerminalKeepsTheHeaderAndTheFirstFigure) {
  Tmux tmux;
  CommandResult started =
      tmux.run({"new-session", "-d", "-s", "top", "-x", "20", "-y", "5",
                SwitchyardProcess::binary() + " top -c " + config_ + " --interval 0.3"});
  ASSERT_EQ(started.exit_code, 0) << started;
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.capture();
        std::vector<std::string> row = row_of(screen, "analytics");
        return row.size() >= 2 && row[1] != "-";
      },
      30s, "top to show analytics' pending count in 20 columns"))
      << screen;
  const std::vector<std::string> lines = split_lines(screen);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines[0].rfind("switchyard top", 0), 0u) << screen;
  for (const std::string& line : lines) EXPECT_LE(line.size(), 20u) << screen;
  ASSERT_EQ(tmux.run({"send-keys", "-t", "top", "q"}).exit_code, 0);
}

TEST_F(TopTest, KeepsRefreshingWhenStdinIsNotATerminal) {
  Tmux tmux;
  CommandResult started =
      tmux.run({"new-session", "-d", "-s", "top", "-x", "160", "-y", "40",
                SwitchyardProcess::binary() + " top -c " + config_ + " --interval 0.5 </dev/null"});
  ASSERT_EQ(started.exit_code, 0) << started;
  std::string screen;
  ASSERT_TRUE(wait_until(
      [&] {
        screen = tmux.capture();
        std::vector<std::string> row = row_of(screen, "analytics");
        return row.size() >= 7 && row[6] != "-" && row[6] != "0.0";
      },
      30s, "top (stdin /dev/null) to refresh until analytics' out rate shows"))
      << screen;
  EXPECT_EQ(tmux.run({"has-session", "-t", "top"}).exit_code, 0) << "top exited";
}

TEST_F(TopTest, PrintsOnePlainFrameWhenNotATerminal) {
  CommandResult r = SwitchyardProcess::exec({"top", "-c", config_, "--sort", "age"}, 20s);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << "escape codes in plain text:\n" << r.out;
  EXPECT_NE(r.out.find("sort: age"), std::string::npos) << r.out;
  EXPECT_GE(row_of(r.out, "SOURCE").size(), 9u) << r.out;
  EXPECT_GE(row_of(r.out, "analytics").size(), 9u) << r.out;

  CommandResult bad = SwitchyardProcess::exec({"top", "-c", config_, "--sort", "colour"}, 20s);
  EXPECT_EQ(bad.exit_code, 2) << bad;
  EXPECT_NE(bad.err.find("--sort colour"), std::string::npos) << bad;
}

}  // namespace
}  // namespace switchyard::test
