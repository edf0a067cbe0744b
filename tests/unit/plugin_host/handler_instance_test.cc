// handler_instance_test.cc: HandlerInstance over the real test plugins: outcomes of ok, reject,
// throwing, transiently failing and crashing handlers as the host sees them.
#include "plugin_host/handler_instance.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <fstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::create_handler;
using test::describe;
using test::EventBatch;
using test::test_plugin;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

EventBatch two_events() {
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})").add("user.registered", R"({"user_id":2})");
  return batch;
}

TEST(HandlerInstanceTest, NoopSinkAcceptsEverything) {
  auto handler = create_handler(test_plugin("noop_sink"), "noop", R"({"any":"key"})");
  ASSERT_NE(handler, nullptr);
  for (const sy_outcome& outcome : two_events().run(*handler)) EXPECT_EQ(describe(outcome), "OK");
  EXPECT_TRUE(handler->flush().is_ok());
}

TEST(HandlerInstanceTest, RejectSinkRejectsWithItsReason) {
  auto handler = create_handler(test_plugin("reject_sink"), "rejecter", "{}");
  ASSERT_NE(handler, nullptr);
  for (const sy_outcome& outcome : two_events().run(*handler)) {
    EXPECT_EQ(describe(outcome), "REJECT: rejected by reject_sink");
  }
}

TEST(HandlerInstanceTest, ExceptionFromHandlerBecomesRejectWithItsText) {
  auto handler = create_handler(test_plugin("throwing_sink"), "thrower", "{}");
  ASSERT_NE(handler, nullptr);
  std::vector<sy_outcome> outcomes = two_events().run(*handler);
  ASSERT_EQ(outcomes.size(), 2u);
  for (const sy_outcome& outcome : outcomes) {
    EXPECT_EQ(describe(outcome), "REJECT: boom from throwing_sink");
  }
}

TEST(HandlerInstanceTest, FlakySinkRetriesEachMessageNTimesAcrossRestarts) {
  test::TempDir dir;
  const std::string config = R"({"path":"out.jsonl","fail_times":2})";
  EventBatch batch = two_events();
  {
    auto handler = create_handler(test_plugin("flaky_sink"), "flaky", config, dir.path());
    ASSERT_NE(handler, nullptr);
    for (const sy_outcome& o : batch.run(*handler)) {
      EXPECT_EQ(describe(o), "RETRY: transient failure 1 of 2");
    }
  }
  // A new instance (as after a process restart) continues the per-message counts.
  auto handler = create_handler(test_plugin("flaky_sink"), "flaky", config, dir.path());
  ASSERT_NE(handler, nullptr);
  for (const sy_outcome& o : batch.run(*handler)) {
    EXPECT_EQ(describe(o), "RETRY: transient failure 2 of 2");
  }
  EXPECT_TRUE(read_lines(dir.file("out.jsonl")).empty());
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_EQ(describe(o), "OK");
  EXPECT_EQ(read_lines(dir.file("out.jsonl")),
            (std::vector<std::string>{batch.message(0), batch.message(1)}));

  EventBatch fresh;
  fresh.add("user.registered", R"({"user_id":3})");
  EXPECT_EQ(describe(fresh.run(*handler)[0]), "RETRY: transient failure 1 of 2");
}

TEST(HandlerInstanceTest, CrashSinkAppendsOrdinaryMessages) {
  test::TempDir dir;
  auto handler = create_handler(test_plugin("crash_sink"), "crasher",
                                R"({"path":")" + dir.file("out.jsonl") + R"("})");
  ASSERT_NE(handler, nullptr);
  EventBatch batch = two_events();
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_EQ(describe(o), "OK");
  EXPECT_EQ(read_lines(dir.file("out.jsonl")),
            (std::vector<std::string>{batch.message(0), batch.message(1)}));
}

// Runs batch through a fresh crash_sink; returns only if the plugin did not crash.
void run_through_crash_sink(const EventBatch& batch) {
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);  // no core file from the expected abort
  auto handler = create_handler(test_plugin("crash_sink"), "crasher", "{}");
  if (handler) batch.run(*handler);
}

TEST(HandlerInstanceDeathTest, CrashSinkKillsTheProcessOnTheMarker) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})").add("user.registered", R"({"crash":true})");
  EXPECT_DEATH(run_through_crash_sink(batch), "");
}

}  // namespace
}  // namespace switchyard
