// local_files_test.cc: the files the CLI trusts: which routes.yaml it reads, whose password_file it
// sends, where pid files live and whom `reload` signals, core dumps, and `check` creating nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;
namespace fs = std::filesystem;

constexpr uid_t kStranger = 54321;  // a uid nobody on a build machine uses

class LocalFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("SWITCHYARD_CONFIG");
    unsetenv("SWITCHYARD_REDIS_URL");
    unsetenv("SWITCHYARD_REDIS_PASSWORD");
    redis_.start();
    run_dir_ = dir_.file("run");
    fs::create_directory(run_dir_);
    chmod(run_dir_.c_str(), 0700);
  }
  static void skip_unless_root() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to chown files to another user";
  }
  // Every file under dir (relative names), to compare before and after.
  static std::set<std::string> tree(const std::string& dir) {
    std::set<std::string> names;
    for (const auto& entry : fs::recursive_directory_iterator(dir))
      names.insert(fs::relative(entry.path(), dir).string());
    return names;
  }

  RedisServer redis_;
  TempDir dir_;
  std::string run_dir_;
};

// A routes.yaml planted in the current directory (cd /tmp && sudo switchyard stats) is never
// read: it would choose the Redis server that receives the password.
TEST_F(LocalFilesTest, RoutesYamlInTheCurrentDirectoryIsNeverRead) {
  const std::string planted = dir_.file("planted");
  fs::create_directory(planted);
  // Points at the test's Redis: if it were read, `stats` would succeed and print the source.
  std::ofstream(planted + "/routes.yaml")
      << routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db"), "planted_key");
  SpawnOptions options;
  options.working_dir = planted;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL"};
  CommandResult r = run_command({SwitchyardProcess::binary(), "stats"}, 30s, options);
  EXPECT_FALSE(r.timed_out) << r;
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("planted_key"))) << r;
  EXPECT_THAT(r.err, HasSubstr("/etc/switchyard/routes.yaml")) << r;
}

TEST_F(LocalFilesTest, ConfigFileOthersCanWriteOrOwnIsRefused) {
  const std::string config = dir_.write(
      "routes.yaml", routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db")));
  chmod(config.c_str(), 0666);
  CommandResult r = SwitchyardProcess::exec({"stats", "-c", config});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr(config + ": refused: it is writable by every user")) << r;
  EXPECT_THAT(r.err, HasSubstr("chmod o-w " + config)) << r;
  chmod(config.c_str(), 0644);
  EXPECT_EQ(SwitchyardProcess::exec({"stats", "-c", config}).exit_code, 0);
  if (geteuid() != 0) return;
  ASSERT_EQ(chown(config.c_str(), kStranger, kStranger), 0);
  r = SwitchyardProcess::exec({"stats", "-c", config});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr(config + ": refused: it is owned by uid 54321")) << r;
}

// password_file: /etc/shadow in a config another user wrote must not be read and sent.
TEST_F(LocalFilesTest, PasswordFileOwnedByAnotherUserIsRefused) {
  skip_unless_root();
  const std::string secret = dir_.write("secret", "not-for-you\n");
  chmod(secret.c_str(), 0600);
  ASSERT_EQ(chown(secret.c_str(), kStranger, kStranger), 0);
  // routes_yaml writes "redis:\n  url: URL\n": password_file goes under it.
  std::string text = routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db"));
  const std::string url_line = "  url: " + json_string(redis_.url()) + "\n";
  ASSERT_NE(text.find(url_line), std::string::npos) << text;
  text.insert(text.find(url_line) + url_line.size(),
              "  password_file: " + json_string(secret) + "\n");
  const std::string config = dir_.write("routes.yaml", text);
  CommandResult r = SwitchyardProcess::exec({"stats", "-c", config});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("redis.password_file " + secret + " is owned by uid 54321")) << r;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("not-for-you"))) << r;
  // Owned by the caller (root here) and private: read and sent (this Redis has no password, so
  // AUTH is what fails now, not the file check).
  ASSERT_EQ(chown(secret.c_str(), 0, 0), 0);
  r = SwitchyardProcess::exec({"stats", "-c", config});
  EXPECT_THAT(r.err, Not(HasSubstr("is owned by"))) << r;
  EXPECT_THAT(r.err, HasSubstr("authentication failed")) << r;
  EXPECT_THAT(r.out + r.err, Not(HasSubstr("not-for-you"))) << r;
}

// A pid file only names a process to signal when it is ours, in a private directory, names this
// config, and the process is `switchyard run`: never a pid someone planted.
TEST_F(LocalFilesTest, ReloadSignalsOnlyASwitchyardRunOfThisConfig) {
  const std::string config = dir_.write(
      "routes.yaml", routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db")));
  const std::map<std::string, std::string> env = {{"RUNTIME_DIRECTORY", run_dir_}};
  // A victim process that dies of SIGHUP (its default action).
  ChildProcess victim;
  victim.spawn({"sleep", "300"});
  const std::string pid_file = dir_.file("victim.pid");
  std::ofstream(pid_file) << victim.pid() << "\n";
  CommandResult r =
      SwitchyardProcess::exec({"reload", "-c", config, "--pid-file", pid_file}, 30s, env);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("refusing to signal")) << r;
  EXPECT_TRUE(victim.is_running()) << "reload sent SIGHUP to a process that is not switchyard";

  // Even naming the config does not make `sleep` a switchyard.
  std::ofstream(pid_file) << victim.pid() << "\n" << config << "\n";
  r = SwitchyardProcess::exec({"reload", "-c", config, "--pid-file", pid_file}, 30s, env);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("is not a running `switchyard run`")) << r;
  EXPECT_TRUE(victim.is_running());

  // A pid file writable by others is not trusted at all.
  chmod(pid_file.c_str(), 0666);
  r = SwitchyardProcess::exec({"reload", "-c", config, "--pid-file", pid_file}, 30s, env);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("writable by nobody else")) << r;
  EXPECT_TRUE(victim.is_running());

  // A symlink as pid file is not followed.
  fs::remove(pid_file);
  const std::string real = dir_.file("real.pid");
  std::ofstream(real) << victim.pid() << "\n" << config << "\n";
  fs::create_symlink(real, pid_file);
  r = SwitchyardProcess::exec({"reload", "-c", config, "--pid-file", pid_file}, 30s, env);
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_TRUE(victim.is_running());

  // The real daemon, found through its default pid file in $RUNTIME_DIRECTORY, is signalled.
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"), {}, env);
  ASSERT_TRUE(wait_until(
      [&] {
        for (const auto& e : fs::directory_iterator(run_dir_))
          if (e.path().extension() == ".pid") return true;
        return false;
      },
      20s, "the daemon's pid file in $RUNTIME_DIRECTORY"))
      << daemon.log_tail();
  r = SwitchyardProcess::exec({"reload", "-c", config}, 30s, env);
  EXPECT_EQ(r.exit_code, 0) << r;
  ASSERT_TRUE(
      wait_until([&] { return daemon.log().find("SIGHUP: reloading") != std::string::npos; }, 20s,
                 "the daemon to log the reload"))
      << daemon.log_tail();
  // Its pid file is not a symlink target someone prepared: the daemon refuses to write through
  // one, and says so.
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

TEST_F(LocalFilesTest, RunDoesNotWriteItsPidFileThroughASymlink) {
  const std::string config = dir_.write(
      "routes.yaml", routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db")));
  const std::string target = dir_.write("victim.txt", "precious\n");
  const std::string pid_file = dir_.file("switchyard.pid");
  fs::create_symlink(target, pid_file);
  SwitchyardProcess daemon =
      SwitchyardProcess::run(config, dir_.file("switchyard.log"), {"--pid-file", pid_file},
                             {{"RUNTIME_DIRECTORY", run_dir_}});
  ASSERT_TRUE(
      wait_until([&] { return daemon.log().find("cannot write pid file") != std::string::npos; },
                 20s, "the daemon to refuse the symlinked pid file"))
      << daemon.log_tail();
  EXPECT_EQ(read_file(target), "precious\n");
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

// Lock and pid files never fall back to a shared directory: without RUNTIME_DIRECTORY or
// XDG_RUNTIME_DIR a non-root run is refused, root uses /run/switchyard.
TEST_F(LocalFilesTest, RuntimeFilesNeverGoToTmp) {
  const std::string config = dir_.write(
      "routes.yaml", routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db")));
  // A runtime directory other users can write is refused.
  const std::string shared = dir_.file("shared");
  fs::create_directory(shared);
  chmod(shared.c_str(), 0777);
  SwitchyardProcess daemon =
      SwitchyardProcess::run(config, dir_.file("shared.log"), {}, {{"RUNTIME_DIRECTORY", shared}});
  auto code = daemon.wait_exit(20s);
  ASSERT_TRUE(code.has_value()) << daemon.log_tail();
  EXPECT_EQ(*code, 2) << daemon.log_tail();
  EXPECT_THAT(daemon.log(), HasSubstr("runtime directory " + shared + " is not a directory owned"));
  EXPECT_TRUE(fs::is_empty(shared));
  if (geteuid() != 0) return;
  // Root without either variable: /run/switchyard, never /tmp.
  std::set<std::string> tmp_before;
  for (const auto& e : fs::directory_iterator("/tmp")) tmp_before.insert(e.path().string());
  SpawnOptions options;
  options.unset_env = {"RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"};
  options.output_path = dir_.file("root.log");
  ChildProcess root;
  root.spawn({SwitchyardProcess::binary(), "run", "-c", config}, options);
  ASSERT_TRUE(wait_until(
      [&] { return read_file(dir_.file("root.log")).find("consuming") != std::string::npos; }, 20s,
      "the daemon to start"))
      << read_file(dir_.file("root.log"));
  for (const auto& e : fs::directory_iterator("/tmp")) {
    // Other tests create their temporary directories here meanwhile: look for lock/pid files.
    const std::string ext = e.path().extension().string();
    if (tmp_before.count(e.path().string()) || (ext != ".lock" && ext != ".pid")) continue;
    ADD_FAILURE() << "runtime file in /tmp: " << e.path();
  }
  bool in_run = false;
  for (const auto& e : fs::directory_iterator("/run/switchyard"))
    if (e.path().extension() == ".pid" || e.path().extension() == ".lock") in_run = true;
  EXPECT_TRUE(in_run) << "no lock or pid file in /run/switchyard";
  root.signal(SIGTERM);
  EXPECT_EQ(root.wait_exit(20s), std::optional<int>(0)) << read_file(dir_.file("root.log"));
}

// The password in memory never reaches a core dump.
TEST_F(LocalFilesTest, DaemonHasCoreDumpsOff) {
  const std::string config = dir_.write(
      "routes.yaml", routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, dir_.file("a.db")));
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"), {},
                                                    {{"RUNTIME_DIRECTORY", run_dir_}});
  ASSERT_TRUE(wait_until([&] { return daemon.log().find("consuming") != std::string::npos; }, 20s,
                         "the daemon to start"))
      << daemon.log_tail();
  const std::string limits = read_file("/proc/" + std::to_string(daemon.pid()) + "/limits");
  std::string soft, hard;
  for (const std::string& line : split_lines(limits)) {
    if (line.rfind("Max core file size", 0) != 0) continue;
    std::istringstream fields(line.substr(std::string("Max core file size").size()));
    fields >> soft >> hard;
  }
  EXPECT_EQ(soft, "0") << limits;
  EXPECT_EQ(hard, "0") << limits;
  EXPECT_EQ(daemon.stop(), 0) << daemon.log_tail();
}

// `switchyard check` validates plugins' configs without creating their files: run as root, it
// would leave a root-owned database the service cannot write.
TEST_F(LocalFilesTest, CheckCreatesNoFiles) {
  const std::string data = dir_.file("data");
  fs::create_directory(data);
  RoutesYaml spec;
  spec.redis_url = redis_.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = data + "/analytics.db";
  spec.extra_handlers =
      "audit:\n  plugin: jsonl_sink\n  config: {path: " + json_string(data + "/audit.jsonl") + "}";
  spec.extra_routes = "\"*\": [audit]";
  const std::string config = dir_.write("routes.yaml", routes_yaml(spec));
  const std::set<std::string> before = tree(dir_.path());
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(tree(dir_.path()), before) << "check created files";
  EXPECT_TRUE(fs::is_empty(data));
}

}  // namespace
}  // namespace switchyard::test
