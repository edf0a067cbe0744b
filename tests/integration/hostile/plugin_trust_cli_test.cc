// plugin_trust_cli_test.cc: `switchyard check` and `run` refuse a plugin file or directory others
// could write, naming the file and the fix; the development opt-out.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "support/events.h"
#include "support/plugin_paths.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
namespace fs = std::filesystem;

class PluginTrustCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS");
    redis_.start();
    plugins_ = dir_.path() + "/plugins";
    fs::create_directory(plugins_);
    chmod(plugins_.c_str(), 0755);
    for (const char* name : {"user_registered_sink", "quote_created_sink"}) {
      const std::string to = plugins_ + "/" + name + ".so";
      fs::copy_file(bundled_plugin(name), to);
      chmod(to.c_str(), 0755);
    }
    config_ = dir_.write("routes.yaml", routes_yaml(redis_.url(), plugins_, dir_.file("a.db")));
  }
  std::string plugin(const char* name) const { return plugins_ + "/" + name + ".so"; }

  RedisServer redis_;
  TempDir dir_;
  std::string plugins_;
  std::string config_;
};

TEST_F(PluginTrustCliTest, SafePluginsPassCheck) {
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config_});
  EXPECT_EQ(r.exit_code, 0) << r;
}

TEST_F(PluginTrustCliTest, WritablePluginFileIsRefusedByCheckAndRun) {
  const std::string file = plugin("quote_created_sink");
  chmod(file.c_str(), 0666);
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config_});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr(config_ + ":"));
  EXPECT_THAT(r.err, HasSubstr("handler quotes_db: plugin " + file + ": refused: the file " + file +
                               " is writable by others (mode 0666)"));
  EXPECT_THAT(r.err, HasSubstr("run: chmod go-w " + file));

  SwitchyardProcess daemon = SwitchyardProcess::run(config_, dir_.file("daemon.log"));
  const auto status = daemon.wait_exit(30s);
  ASSERT_TRUE(status.has_value()) << "run must refuse to start";
  EXPECT_EQ(*status, 2) << daemon.log_tail();
  EXPECT_THAT(daemon.log(), HasSubstr("chmod go-w " + file));
}

TEST_F(PluginTrustCliTest, WritablePluginDirectoryIsRefused) {
  chmod(plugins_.c_str(), 0775);
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config_});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("refused: the directory " + plugins_ + " is writable by its group"));
  EXPECT_THAT(r.err, HasSubstr("run: chmod go-w " + plugins_));
}

TEST_F(PluginTrustCliTest, ForeignOwnerIsRefused) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string file = plugin("user_registered_sink");
  ASSERT_EQ(chown(file.c_str(), 54321, 54321), 0);
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config_});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_THAT(r.err, HasSubstr("the file " + file + " is owned by uid 54321"));
  EXPECT_THAT(r.err, HasSubstr("run: chown root:root " + file));
}

TEST_F(PluginTrustCliTest, DevelopmentOptOutLoadsWithAWarning) {
  chmod(plugin("quote_created_sink").c_str(), 0666);
  chmod(plugins_.c_str(), 0777);
  CommandResult r = SwitchyardProcess::exec({"check", "-c", config_}, 30s,
                                            {{"SWITCHYARD_ALLOW_UNSAFE_PLUGINS", "1"}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out + r.err, HasSubstr("loaded anyway: SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1"));
  CommandResult other = SwitchyardProcess::exec({"check", "-c", config_}, 30s,
                                                {{"SWITCHYARD_ALLOW_UNSAFE_PLUGINS", "true"}});
  EXPECT_EQ(other.exit_code, 2) << "only the exact value 1 opts out: " << other;
}

}  // namespace
}  // namespace switchyard::test
