// plugin_trust_test.cc: PluginLibrary::load refuses plugin files and directories others could write
// or own, naming the file and the fix.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "plugin_host/plugin_library.h"
#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

constexpr uid_t kStranger = 54321;  // a uid nobody on a build machine uses

// A private copy of the noop_sink test plugin: DIR/plugins/noop_sink.so, dir 0755, file 0755.
class PluginTrustTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS");
    dir_ = tmp_.path() + "/plugins";
    fs::create_directory(dir_);
    chmod(dir_.c_str(), 0755);
    path_ = dir_ + "/noop_sink.so";
    fs::copy_file(test::test_plugin("noop_sink"), path_);
    chmod(path_.c_str(), 0755);
  }
  void TearDown() override { unsetenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS"); }

  std::string refusal(const std::string& path) {
    std::string error;
    auto library = PluginLibrary::load(path, &error);
    EXPECT_EQ(library, nullptr) << path << " was loaded";
    return error;
  }
  void expect_loads(const std::string& path) {
    std::string error;
    auto library = PluginLibrary::load(path, &error);
    EXPECT_NE(library, nullptr) << error;
  }
  static void skip_unless_root() {
    if (geteuid() != 0) GTEST_SKIP() << "needs root to chown files to another user";
  }

  test::TempDir tmp_;
  std::string dir_;
  std::string path_;
};

TEST_F(PluginTrustTest, SafeFileInSafeDirectoryLoads) { expect_loads(path_); }

TEST_F(PluginTrustTest, WorldWritableFileIsRefusedWithTheFix) {
  chmod(path_.c_str(), 0757);
  const std::string error = refusal(path_);
  EXPECT_THAT(error, HasSubstr("plugin " + path_ + ": refused: the file " + path_ +
                               " is writable by others (mode 0757)"));
  EXPECT_THAT(error, HasSubstr("run: chmod go-w " + path_));
  EXPECT_THAT(error, HasSubstr("SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1"));
}

TEST_F(PluginTrustTest, GroupWritableFileIsRefused) {
  chmod(path_.c_str(), 0775);
  EXPECT_THAT(refusal(path_), HasSubstr("is writable by its group (mode 0775)"));
}

TEST_F(PluginTrustTest, WritableDirectoryIsRefusedNamingIt) {
  chmod(dir_.c_str(), 0777);
  const std::string error = refusal(path_);
  EXPECT_THAT(error, HasSubstr("refused: the directory " + dir_ + " is writable by others"));
  EXPECT_THAT(error, HasSubstr("run: chmod go-w " + dir_));
  chmod(dir_.c_str(), 0775);
  EXPECT_THAT(refusal(path_), HasSubstr("the directory " + dir_ + " is writable by its group"));
}

TEST_F(PluginTrustTest, FileOwnedByAnotherUserIsRefusedWithTheFix) {
  skip_unless_root();
  ASSERT_EQ(chown(path_.c_str(), kStranger, 0), 0);
  const std::string error = refusal(path_);
  EXPECT_THAT(error, HasSubstr("refused: the file " + path_ + " is owned by uid 54321"));
  EXPECT_THAT(error, HasSubstr("not by root or by the user running switchyard"));
  EXPECT_THAT(error, HasSubstr("run: chown root:root " + path_));
}

TEST_F(PluginTrustTest, DirectoryOwnedByAnotherUserIsRefused) {
  skip_unless_root();
  ASSERT_EQ(chown(dir_.c_str(), kStranger, 0), 0);
  EXPECT_THAT(refusal(path_), HasSubstr("the directory " + dir_ + " is owned by uid 54321"));
}

TEST_F(PluginTrustTest, SymlinkIntoAnUnsafeDirectoryIsRefused) {
  // The plugins dir is safe, but the link leads to a file in a directory anyone can write.
  const std::string elsewhere = tmp_.path() + "/drop";
  fs::create_directory(elsewhere);
  chmod(elsewhere.c_str(), 0777);
  const std::string real = elsewhere + "/noop_sink.so";
  fs::rename(path_, real);
  fs::create_symlink(real, path_);
  const std::string error = refusal(path_);
  EXPECT_THAT(error, HasSubstr("plugin " + path_ + ": refused: the directory " + elsewhere));
  EXPECT_THAT(error, HasSubstr("chmod go-w " + elsewhere));
}

TEST_F(PluginTrustTest, WritableAncestorDirectoryIsRefused) {
  // Whoever can write a directory further up can rename the plugins directory away and put
  // their own in its place.
  const std::string outer = tmp_.path() + "/outer";
  const std::string inner = outer + "/lib/plugins";
  fs::create_directories(inner);
  chmod(outer.c_str(), 0777);
  fs::copy_file(path_, inner + "/noop_sink.so");
  const std::string error = refusal(inner + "/noop_sink.so");
  EXPECT_THAT(error, HasSubstr("refused: the directory " + outer + " is writable by others"));
  // Group-writable further up as well; a sticky directory (as /tmp) is fine.
  chmod(outer.c_str(), 0775);
  EXPECT_THAT(refusal(inner + "/noop_sink.so"),
              HasSubstr("the directory " + outer + " is writable by its group"));
  chmod(outer.c_str(), 01777);
  expect_loads(inner + "/noop_sink.so");
}

TEST_F(PluginTrustTest, AncestorOwnedByAnotherUserIsRefused) {
  skip_unless_root();
  const std::string outer = tmp_.path() + "/outer";
  fs::create_directories(outer + "/plugins");
  fs::copy_file(path_, outer + "/plugins/noop_sink.so");
  ASSERT_EQ(chown(outer.c_str(), kStranger, kStranger), 0);
  EXPECT_THAT(refusal(outer + "/plugins/noop_sink.so"),
              HasSubstr("the directory " + outer + " is owned by uid 54321"));
}

TEST_F(PluginTrustTest, TheFileLoadedIsTheFileChecked) {
  // Two different plugins loaded one after the other (the first unloaded in between) are each
  // what their path holds, although both were loaded through a /proc/self/fd name.
  std::string error;
  auto first = PluginLibrary::load(path_, &error);
  ASSERT_NE(first, nullptr) << error;
  const std::string first_name = first->name();
  first.reset();
  const std::string other = dir_ + "/reject_sink.so";
  fs::copy_file(test::test_plugin("reject_sink"), other);
  auto second = PluginLibrary::load(other, &error);
  ASSERT_NE(second, nullptr) << error;
  EXPECT_NE(second->name(), first_name);
  auto again = PluginLibrary::load(path_, &error);
  ASSERT_NE(again, nullptr) << error;
  EXPECT_EQ(again->name(), first_name);
  EXPECT_NE(second->name(), again->name());
}

TEST_F(PluginTrustTest, OptOutLoadsAnywayForDevelopment) {
  chmod(path_.c_str(), 0777);
  chmod(dir_.c_str(), 0777);
  setenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS", "1", 1);
  expect_loads(path_);
  // Only exactly "1" opts out.
  setenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS", "yes", 1);
  EXPECT_THAT(refusal(tmp_.path() + "/plugins/../plugins/noop_sink.so"), HasSubstr("refused"));
}

TEST_F(PluginTrustTest, MissingFileIsLeftToTheLoader) {
  const std::string error = refusal(dir_ + "/absent.so");
  EXPECT_THAT(error, HasSubstr("cannot load"));
}

TEST_F(PluginTrustTest, BuildTreePluginsAreTrusted) {
  // Build trees are created with umask 022 and owned by the user who builds and tests.
  expect_loads(test::bundled_plugin("quote_created_sink"));
  expect_loads(test::test_plugin("reject_sink"));
}

}  // namespace
}  // namespace switchyard
