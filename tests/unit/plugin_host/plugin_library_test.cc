// plugin_library_test.cc: PluginLibrary::load through Boost.DLL on real .so files: ABI refusals,
// load failures, descriptors and config keys, and creation errors surfaced by HandlerInstance.
#include "plugin_host/plugin_library.h"

#include <dlfcn.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "plugin_host/handler_instance.h"
#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using ::testing::HasSubstr;

using test::bundled_plugin;
using test::test_plugin;

// Loads path expecting a refusal; returns the error.
std::string refusal(const std::string& path) {
  std::string error;
  std::shared_ptr<PluginLibrary> library = PluginLibrary::load(path, &error);
  EXPECT_EQ(library, nullptr) << path;
  EXPECT_FALSE(error.empty());
  return error;
}

TEST(PluginLibraryTest, LoadsABundledPluginAndExposesItsDescriptor) {
  const std::string path = bundled_plugin("user_registered_sink");
  std::string error;
  std::shared_ptr<PluginLibrary> library = PluginLibrary::load(path, &error);
  ASSERT_NE(library, nullptr) << error;
  EXPECT_EQ(library->path(), path);
  EXPECT_EQ(library->name(), "user_registered_sink");
  EXPECT_FALSE(library->version().empty());
  EXPECT_EQ(library->descriptor().abi_version, static_cast<uint32_t>(SWITCHYARD_ABI_VERSION));
}

TEST(PluginLibraryTest, ExposesDeclaredConfigKeys) {
  std::string error;
  auto sink = PluginLibrary::load(bundled_plugin("quote_created_sink"), &error);
  ASSERT_NE(sink, nullptr) << error;
  EXPECT_EQ(sink->config_keys(), std::vector<std::string>{"database"});
  EXPECT_TRUE(sink->accepts_config_key("database"));
  EXPECT_FALSE(sink->accepts_config_key("databse"));

  auto flaky = PluginLibrary::load(test_plugin("flaky_sink"), &error);
  ASSERT_NE(flaky, nullptr) << error;
  EXPECT_EQ(flaky->config_keys(), (std::vector<std::string>{"path", "fail_times", "sleep_ms"}));
}

TEST(PluginLibraryTest, PluginWithoutKeyListAcceptsAnyKey) {
  std::string error;
  auto noop = PluginLibrary::load(test_plugin("noop_sink"), &error);
  ASSERT_NE(noop, nullptr) << error;
  EXPECT_TRUE(noop->config_keys().empty());
  EXPECT_TRUE(noop->accepts_config_key("anything"));
}

TEST(PluginLibraryTest, RefusesAnotherAbiVersionNamingPathAndBothVersions) {
  const std::string path = test_plugin("wrong_abi_plugin");
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("999"));
  EXPECT_THAT(error, HasSubstr("version 1"));
}

TEST(PluginLibraryTest, RefusesAPluginExportingAnOlderEntryPoint) {
  const std::string path = test_plugin("old_abi_plugin");
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("switchyard_plugin_entry_v0"));
  EXPECT_THAT(error, HasSubstr("ABI 1"));
}

TEST(PluginLibraryTest, RefusesATruncatedDescriptor) {
  const std::string path = test_plugin("small_descriptor_plugin");
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("descriptor is 8 bytes"));
  EXPECT_THAT(error, HasSubstr("needs at least " + std::to_string(SY_PLUGIN_DESCRIPTOR_MIN_SIZE)));
}

TEST(PluginLibraryTest, MissingFileNamesThePath) {
  test::TempDir dir;
  const std::string path = dir.file("absent_sink.so");
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("cannot load"));
}

TEST(PluginLibraryTest, FileThatIsNotASharedObjectIsRefused) {
  test::TempDir dir;
  const std::string path = dir.write("text_sink.so", "not an ELF file\n");
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("cannot load"));
}

TEST(PluginLibraryTest, SharedLibraryWithoutEntryPointIsNotAPlugin) {
  // libsqlite3, as this test binary loaded it: a real .so without a Switchyard entry point.
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&sqlite3_libversion), &info), 0);
  ASSERT_NE(info.dli_fname, nullptr);
  const std::string path = info.dli_fname;
  ASSERT_THAT(path, HasSubstr("libsqlite3"));
  const std::string error = refusal(path);
  EXPECT_THAT(error, HasSubstr(path));
  EXPECT_THAT(error, HasSubstr("not a Switchyard plugin"));
  EXPECT_THAT(error, HasSubstr(SWITCHYARD_PLUGIN_ENTRY_NAME));
}

TEST(PluginLibraryTest, CreateFailureNamesHandlerAndPluginPath) {
  const std::string path = bundled_plugin("user_registered_sink");
  std::string error;
  auto library = PluginLibrary::load(path, &error);
  ASSERT_NE(library, nullptr) << error;
  auto instance = HandlerInstance::create(library, "users_db", "{}", "/etc/switchyard", &error);
  EXPECT_EQ(instance, nullptr);
  EXPECT_EQ(error,
            "handler users_db (plugin " + path + "): config.database: required string is missing");

  instance = HandlerInstance::create(library, "users_db", R"({"database":7})", "", &error);
  EXPECT_EQ(instance, nullptr);
  EXPECT_THAT(error, HasSubstr("config.database: expected string"));
}

TEST(PluginLibraryTest, InstanceKeepsItsLibraryLoaded) {
  std::string error;
  std::unique_ptr<HandlerInstance> instance;
  {
    auto library = PluginLibrary::load(test_plugin("noop_sink"), &error);
    ASSERT_NE(library, nullptr) << error;
    instance = HandlerInstance::create(library, "noop", "{}", "", &error);
    ASSERT_NE(instance, nullptr) << error;
  }
  // Only the instance holds the library now; calling into it must still work.
  sy_event event{{"{}", 2}, {"e", 1}, {"{}", 2}, 1};
  sy_outcome outcome{};
  instance->handle_batch(&event, 1, &outcome);
  EXPECT_EQ(outcome.kind, SY_OUTCOME_OK);
  EXPECT_EQ(instance->library().name(), "noop_sink");
}

}  // namespace
}  // namespace switchyard
