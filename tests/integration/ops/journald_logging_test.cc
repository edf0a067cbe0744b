// journald_logging_test.cc: when stderr is the journal ($JOURNAL_STREAM names its device and
// inode), the real daemon starts every line with the sd-daemon(3) priority of its level (<7>
// debug, <6> info, <4> warning, <3> error), so `journalctl -p warning` works; when it is not
// (variable unset, or naming another file), no line carries a prefix.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>
#include <regex>
#include <string>

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

// "DEV:INODE" of `path`, as systemd writes $JOURNAL_STREAM for the journal's stream socket.
std::string device_inode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

enum class Stream { kJournal, kUnset, kOtherFile };

// Runs the daemon at level debug with stderr in a file, JOURNAL_STREAM as `stream` says; makes it
// log a debug line (worker start), info (start), a warning (a dead letter) and an error (a reload
// of a broken routes.yaml); returns stderr.
std::string run_daemon(Stream stream) {
  RedisServer redis;
  redis.start();
  TempDir dir;
  const std::string plugins = ops::make_plugins_dir(
      dir,
      {ops::bundled_plugin("user_registered_sink"), ops::bundled_plugin("quote_created_sink")});
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = plugins;
  spec.database = dir.file("analytics.db");
  spec.extra_yaml = "logging: { level: debug, format: text }";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  const std::string err_path = dir.write("stderr.log", "");
  const std::string other = dir.write("other.log", "");

  SpawnOptions options;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL", "JOURNAL_STREAM"};
  if (stream == Stream::kJournal) options.env["JOURNAL_STREAM"] = device_inode(err_path);
  if (stream == Stream::kOtherFile) options.env["JOURNAL_STREAM"] = device_inode(other);
  options.output_path = dir.file("stdout.log");
  options.stderr_path = err_path;
  ChildProcess daemon;
  daemon.spawn({SwitchyardProcess::binary(), "run", "-c", config}, options);

  RedisClient client = redis.client();
  client.rpush("events", envelope("no.such.route", "{}"));
  EXPECT_TRUE(wait_until([&] { return client.llen("events:dead") == 1; }, 20s, "a dead letter"))
      << tail_file(err_path);
  dir.write("routes.yaml", "sources: [this is not a routes.yaml\n");
  EXPECT_TRUE(daemon.signal(SIGHUP));
  EXPECT_TRUE(
      wait_until([&] { return read_file(err_path).find("reload failed") != std::string::npos; },
                 20s, "the failed reload logged"))
      << tail_file(err_path);
  EXPECT_TRUE(daemon.signal(SIGTERM));
  EXPECT_EQ(daemon.wait_exit(20s), 0) << tail_file(err_path);
  return read_file(err_path);
}

TEST(JournaldLoggingTest, EveryLineCarriesThePriorityOfItsLevelWhenStderrIsTheJournal) {
  const std::string text = run_daemon(Stream::kJournal);
  ASSERT_FALSE(text.empty());
  static const std::regex kLine(R"(^<([0-7])>\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} (\w+) )");
  const std::map<std::string, std::string> priority = {
      {"debug", "7"}, {"info", "6"}, {"warning", "4"}, {"error", "3"}};
  std::map<std::string, int> seen;
  for (const std::string& line : split_lines(text)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_search(line, m, kLine)) << "a line without a priority: " << line;
    auto it = priority.find(m[2].str());
    ASSERT_NE(it, priority.end()) << "unexpected level in: " << line;
    EXPECT_EQ(m[1].str(), it->second) << line;
    ++seen[m[2].str()];
  }
  for (const auto& [level, prefix] : priority)
    EXPECT_GT(seen[level], 0) << "no " << level << " line (<" << prefix << ">) in:\n" << text;
  for (const std::string& line : ops::lines_with(text, "dead-lettered a message"))
    EXPECT_EQ(line.substr(0, 3), "<4>") << line;
  for (const std::string& line : ops::lines_with(text, "reload failed"))
    EXPECT_EQ(line.substr(0, 3), "<3>") << line;
}

TEST(JournaldLoggingTest, NoPrefixWithoutJournalStream) {
  const std::string text = run_daemon(Stream::kUnset);
  ASSERT_FALSE(text.empty());
  for (const std::string& line : split_lines(text))
    EXPECT_FALSE(std::regex_search(line, std::regex("^<[0-7]>"))) << line;
  EXPECT_EQ(ops::lines_with(text, "reload failed").size(), 1u) << text;
}

// $JOURNAL_STREAM is inherited by children whose stderr was redirected elsewhere (a shell's
// `2>file` in ExecStart=): it counts only when it names stderr itself.
TEST(JournaldLoggingTest, NoPrefixWhenJournalStreamNamesAnotherFile) {
  const std::string text = run_daemon(Stream::kOtherFile);
  ASSERT_FALSE(text.empty());
  for (const std::string& line : split_lines(text))
    EXPECT_FALSE(std::regex_search(line, std::regex("^<[0-7]>"))) << line;
  EXPECT_EQ(ops::lines_with(text, "dead-lettered a message").size(), 1u) << text;
}

}  // namespace
}  // namespace switchyard::test
