// plugin_abi_test.cc: how ABI 1 grows, through the real loader and real .so files: a plugin with
// an older (minimum size) or a newer (larger) descriptor loads and works, the C++ SDK treats
// sy_host_api fields past a smaller (older) host's struct_size as absent, and the 1.1 probe
// (`check --connect`) is called when present and reported as absent for an older plugin.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "plugin_host/handler_instance.h"
#include "plugin_host/plugin_library.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using ::testing::ElementsAre;

using test::create_handler;
using test::describe;
using test::EventBatch;
using test::test_plugin;

std::shared_ptr<PluginLibrary> load(const std::string& path) {
  std::string error;
  std::shared_ptr<PluginLibrary> library = PluginLibrary::load(path, &error);
  EXPECT_NE(library, nullptr) << error;
  return library;
}

TEST(PluginAbiTest, MinimumSizesEndAtTheLastAbi10Field) {
  EXPECT_EQ(SY_PLUGIN_DESCRIPTOR_MIN_SIZE,
            offsetof(sy_plugin_descriptor, destroy) + sizeof(sy_plugin_descriptor::destroy));
  EXPECT_EQ(SY_HOST_API_MIN_SIZE,
            offsetof(sy_host_api, check_only) + sizeof(sy_host_api::check_only));
  EXPECT_LE(SY_PLUGIN_DESCRIPTOR_MIN_SIZE, sizeof(sy_plugin_descriptor));
  EXPECT_LE(SY_HOST_API_MIN_SIZE, sizeof(sy_host_api));
}

TEST(PluginAbiTest, PluginWithAnOlderDescriptorLoadsAndWorks) {
  auto library = load(test_plugin("older_descriptor_plugin"));
  ASSERT_NE(library, nullptr);
  EXPECT_EQ(library->descriptor().struct_size, SY_PLUGIN_DESCRIPTOR_MIN_SIZE);
  EXPECT_EQ(library->config_keys(), std::vector<std::string>{"path"});

  std::string error;
  auto instance = HandlerInstance::create(library, "older", "{}", "", &error);
  ASSERT_NE(instance, nullptr) << error;
  EventBatch batch;
  batch.add("user.registered", "{}").add("quote.created", "{}");
  std::vector<std::string> seen;
  for (const sy_outcome& o : batch.run(*instance)) seen.push_back(describe(o));
  EXPECT_THAT(seen, ElementsAre("REJECT: older_descriptor_plugin handled user.registered",
                                "REJECT: older_descriptor_plugin handled quote.created"));
  EXPECT_TRUE(instance->flush().is_ok());  // it has no flush
}

TEST(PluginAbiTest, PluginWithANewerDescriptorLoadsAndWorks) {
  auto library = load(test_plugin("newer_descriptor_plugin"));
  ASSERT_NE(library, nullptr);
  EXPECT_GT(library->descriptor().struct_size, sizeof(sy_plugin_descriptor));
  EXPECT_EQ(library->name(), "newer_descriptor_plugin");
  EXPECT_EQ(library->version(), "1.9.0");
  EXPECT_EQ(library->config_keys(), std::vector<std::string>{"path"});

  std::string error;
  auto instance = HandlerInstance::create(library, "newer", "{}", "", &error);
  ASSERT_NE(instance, nullptr) << error;
  EventBatch batch;
  batch.add("user.registered", "{}");
  EXPECT_EQ(describe(batch.run(*instance).at(0)),
            "REJECT: newer_descriptor_plugin handled user.registered after 0 flushes");
  ASSERT_TRUE(instance->flush().is_ok());
  EXPECT_EQ(describe(batch.run(*instance).at(0)),
            "REJECT: newer_descriptor_plugin handled user.registered after 1 flushes");
}

// A host api as an older host would pass it: struct_size ends early, and the bytes after it
// (here: the rest of this struct) hold values that must never be read.
struct OlderHost {
  sy_host_api api{};
  std::vector<std::string> logged;

  explicit OlderHost(size_t struct_size) {
    api.abi_version = SWITCHYARD_ABI_VERSION;
    api.struct_size = static_cast<uint32_t>(struct_size);
    api.context = this;
    api.log = [](void* context, int32_t, const char* message) {
      static_cast<OlderHost*>(context)->logged.emplace_back(message);
    };
    api.config_dir = "/not/the/hosts";
    api.handler_name = "not-the-hosts";
    api.check_only = 1;
  }
};

// Creates host_view_sink with host, runs one event through it, destroys it; returns its
// answer ("handler_name=[...] path=[...] check_only=N").
std::string host_view(const PluginLibrary& library, const sy_host_api& host) {
  const sy_plugin_descriptor& d = library.descriptor();
  void* instance = nullptr;
  char error[256] = {0};
  if (d.create("{}", &host, &instance, error, sizeof(error)) != 0) return error;
  const std::string message = R"({"event":"e","payload":{}})";
  sy_event event{{message.data(), message.size()}, {"e", 1}, {"{}", 2}, 1};
  sy_outcome outcome{};
  d.handle_batch(instance, &event, 1, &outcome);
  d.destroy(instance);
  return describe(outcome);
}

TEST(PluginAbiTest, SdkReadsEveryFieldOfACompleteHostApi) {
  auto library = load(test_plugin("host_view_sink"));
  ASSERT_NE(library, nullptr);
  OlderHost host(sizeof(sy_host_api));
  EXPECT_EQ(host_view(*library, host.api),
            "REJECT: handler_name=[not-the-hosts] path=[/not/the/hosts/out.txt] check_only=1");
  EXPECT_THAT(host.logged, ElementsAre("host_view_sink created"));
}

TEST(PluginAbiTest, SdkTreatsHostApiFieldsPastStructSizeAsAbsent) {
  auto library = load(test_plugin("host_view_sink"));
  ASSERT_NE(library, nullptr);
  OlderHost host(SY_FIELD_END(sy_host_api, log));  // a host that only offers log
  EXPECT_EQ(host_view(*library, host.api), "REJECT: handler_name=[] path=[out.txt] check_only=0");
  EXPECT_THAT(host.logged, ElementsAre("host_view_sink created"));

  OlderHost header_only(offsetof(sy_host_api, log));  // not even log
  EXPECT_EQ(host_view(*library, header_only.api),
            "REJECT: handler_name=[] path=[out.txt] check_only=0");
  EXPECT_TRUE(header_only.logged.empty());
}

TEST(PluginAbiTest, SdkTreatsNullHostApiFieldsAsAbsent) {
  auto library = load(test_plugin("host_view_sink"));
  ASSERT_NE(library, nullptr);
  OlderHost host(sizeof(sy_host_api));
  host.api.log = nullptr;
  host.api.config_dir = nullptr;
  host.api.handler_name = nullptr;
  host.api.check_only = 0;
  EXPECT_EQ(host_view(*library, host.api), "REJECT: handler_name=[] path=[out.txt] check_only=0");
}

TEST(PluginAbiTest, PluginWrittenWithTheSdk01NamesStillWorks) {
  auto handler = create_handler(test_plugin("legacy_names_sink"), "legacy", "{}");
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"id":7})").add("user.registered", "{}");
  std::vector<std::string> seen;
  for (const sy_outcome& o : batch.run(*handler)) seen.push_back(describe(o));
  EXPECT_THAT(seen, ElementsAre("REJECT: legacy_names_sink: 7", "REJECT: payload.id is missing"));
}

// Creates a check-only instance of the plugin at path with config_json and probes it.
HandlerInstance::ProbeOutcome probe(const std::string& path, const std::string& config_json) {
  auto library = load(path);
  if (!library) return {HandlerInstance::ProbeOutcome::kProblems, {"not loaded"}};
  std::string error;
  auto instance = HandlerInstance::create(library, "probed", config_json, "", &error,
                                          /*check_only=*/true);
  if (!instance) return {HandlerInstance::ProbeOutcome::kProblems, {error}};
  return instance->probe();
}

TEST(PluginAbiTest, ProbeIsTheFirstFieldAfterAbi10) {
  EXPECT_EQ(offsetof(sy_plugin_descriptor, probe), SY_PLUGIN_DESCRIPTOR_MIN_SIZE);
}

TEST(PluginAbiTest, PluginWithoutTheProbeFieldHasNoConnectionCheck) {
  auto outcome = probe(test_plugin("older_descriptor_plugin"), "{}");
  EXPECT_EQ(outcome.kind, HandlerInstance::ProbeOutcome::kUnsupported);
  EXPECT_TRUE(outcome.problems.empty());
}

TEST(PluginAbiTest, SdkPluginThatDoesNotOverrideProbeHasNoConnectionCheck) {
  auto library = load(test_plugin("noop_sink"));
  ASSERT_NE(library, nullptr);
  EXPECT_TRUE(SY_PLUGIN_HAS(&library->descriptor(), probe));  // the SDK always fills the field
  EXPECT_EQ(probe(test_plugin("noop_sink"), "{}").kind,
            HandlerInstance::ProbeOutcome::kUnsupported);
}

TEST(PluginAbiTest, CPluginProbeReportsOneProblemPerLine) {
  auto outcome = probe(test_plugin("newer_descriptor_plugin"), "{}");
  EXPECT_EQ(outcome.kind, HandlerInstance::ProbeOutcome::kProblems);
  EXPECT_THAT(outcome.problems, ElementsAre("first problem", "second problem"));
}

TEST(PluginAbiTest, SdkProbeReportsItsProblemsOrOk) {
  EXPECT_EQ(probe(test_plugin("probed_sink"), "{}").kind, HandlerInstance::ProbeOutcome::kOk);
  auto outcome =
      probe(test_plugin("probed_sink"), R"({"problem":"table t: gone\ncolumn c: gone"})");
  EXPECT_EQ(outcome.kind, HandlerInstance::ProbeOutcome::kProblems);
  EXPECT_THAT(outcome.problems, ElementsAre("table t: gone", "column c: gone"));
}

TEST(PluginAbiTest, SdkProbeExceptionBecomesAProblemNotACrash) {
  auto outcome = probe(test_plugin("probed_sink"), R"({"throw":"cannot reach db.internal"})");
  EXPECT_EQ(outcome.kind, HandlerInstance::ProbeOutcome::kProblems);
  EXPECT_THAT(outcome.problems, ElementsAre("cannot reach db.internal"));
}

}  // namespace
}  // namespace switchyard
