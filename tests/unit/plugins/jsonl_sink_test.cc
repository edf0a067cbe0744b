// jsonl_sink_test.cc: the bundled jsonl_sink, loaded by the real host: one line per envelope,
// byte for byte, appended across batches and instances; config errors; I/O errors retried.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::bundled_plugin;
using test::create_handler;
using test::describe;
using test::EventBatch;
using ::testing::HasSubstr;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class JsonlSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<HandlerInstance> sink(const std::string& path = "audit.jsonl") {
    return create_handler(bundled_plugin("jsonl_sink"), "audit", R"({"path":")" + path + R"("})",
                          dir_.path());
  }
  test::TempDir dir_;
};

TEST_F(JsonlSinkTest, AppendsEachEnvelopeVerbatimAsOneLine) {
  dir_.write("audit.jsonl", "earlier line\n");
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch first;
  first.add("user.registered", R"({"user_id":1,"name":"Zo\u00eb \"Z\"","tags":[]})")
      .add("quote.created", R"({ "quote_id" : 2 })");
  EventBatch second;
  second.add("user.registered", R"({"name":"Jürgen ✓"})");
  for (const sy_outcome& o : first.run(*handler)) EXPECT_EQ(describe(o), "OK");
  for (const sy_outcome& o : second.run(*handler)) EXPECT_EQ(describe(o), "OK");
  EXPECT_TRUE(handler->flush().is_ok());
  EXPECT_EQ(read_file(dir_.file("audit.jsonl")), "earlier line\n" + first.message(0) + "\n" +
                                                     first.message(1) + "\n" + second.message(0) +
                                                     "\n");

  // Another instance (a restart) appends after what is there.
  handler = sink(dir_.file("audit.jsonl"));  // absolute path this time
  ASSERT_NE(handler, nullptr);
  second.run(*handler);
  handler.reset();
  EXPECT_THAT(read_file(dir_.file("audit.jsonl")),
              ::testing::EndsWith(second.message(0) + "\n" + second.message(0) + "\n"));
}

TEST_F(JsonlSinkTest, MultiLineEnvelopeStaysOnOneLine) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", "{\n  \"user_id\": 1,\r\n  \"note\": \"a\\nb\"\n}");
  EXPECT_EQ(describe(batch.run(*handler)[0]), "OK");
  EXPECT_EQ(read_file(dir_.file("audit.jsonl")),
            R"({"event":"user.registered","payload":{   "user_id": 1,    "note": "a\nb" }})"
            "\n");
}

TEST_F(JsonlSinkTest, ConfigErrorsFailCreation) {
  std::string error;
  auto library = PluginLibrary::load(bundled_plugin("jsonl_sink"), &error);
  ASSERT_NE(library, nullptr) << error;
  EXPECT_EQ(library->config_keys(), std::vector<std::string>{"path"});
  EXPECT_EQ(HandlerInstance::create(library, "audit", "{}", dir_.path(), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("handler audit (plugin " + library->path() + ")"));
  EXPECT_THAT(error, HasSubstr("config.path: required string is missing"));
  EXPECT_EQ(HandlerInstance::create(library, "audit", R"({"path":1})", dir_.path(), &error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("config.path: expected string"));
}

TEST_F(JsonlSinkTest, UnopenablePathIsRetriedUntilItWorks) {
  auto handler = sink("logs/audit.jsonl");  // logs/ does not exist yet
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})").add("user.registered", R"({"user_id":2})");
  for (const sy_outcome& o : batch.run(*handler)) {
    EXPECT_EQ(o.kind, SY_OUTCOME_RETRY) << describe(o);
    EXPECT_THAT(std::string(o.reason), HasSubstr(dir_.file("logs/audit.jsonl") + ": cannot open"));
  }
  std::filesystem::create_directory(dir_.file("logs"));
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_EQ(describe(o), "OK");
  EXPECT_EQ(read_file(dir_.file("logs/audit.jsonl")),
            batch.message(0) + "\n" + batch.message(1) + "\n");
}

TEST_F(JsonlSinkTest, WriteErrorIsRetried) {
  auto handler = sink("/dev/full");  // every write fails with ENOSPC
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})");
  sy_outcome outcome = batch.run(*handler)[0];
  EXPECT_EQ(outcome.kind, SY_OUTCOME_RETRY) << describe(outcome);
  EXPECT_THAT(std::string(outcome.reason),
              HasSubstr("/dev/full: write failed: No space left on device"));
}

TEST_F(JsonlSinkTest, WritesToDevNullWithoutRetrying) {
  // /dev/null cannot be fsynced (EINVAL): nothing to sync is not a failure.
  auto handler = sink("/dev/null");
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})");
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_EQ(describe(o), "OK");
  const Status flushed = handler->flush();
  EXPECT_TRUE(flushed.is_ok()) << flushed.message();
}

TEST_F(JsonlSinkTest, WritesToAFifoWithAReader) {
  const std::string fifo = dir_.file("audit.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  // The reader opens first (non-blocking, so no writer is needed yet), as a consumer would.
  const int reader = open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  ASSERT_GE(reader, 0) << strerror(errno);
  auto handler = sink(fifo);
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})").add("quote.created", R"({"quote_id":2})");
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_EQ(describe(o), "OK");
  const Status flushed = handler->flush();
  EXPECT_TRUE(flushed.is_ok()) << flushed.message();
  handler.reset();  // closes the writing end: the reader sees end of file
  std::string got;
  char buffer[4096];
  ssize_t n;
  while ((n = read(reader, buffer, sizeof buffer)) > 0) got.append(buffer, static_cast<size_t>(n));
  close(reader);
  EXPECT_EQ(got, batch.message(0) + "\n" + batch.message(1) + "\n");
}

TEST_F(JsonlSinkTest, FifoWithoutAReaderIsRetriedNotBlocking) {
  // Opening a FIFO for writing blocks until a reader comes; the sink must not hang a worker.
  const std::string fifo = dir_.file("nobody.fifo");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0) << strerror(errno);
  auto handler = sink(fifo);
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})");
  for (const sy_outcome& o : batch.run(*handler)) EXPECT_THAT(describe(o), HasSubstr("RETRY"));
}

}  // namespace
}  // namespace switchyard
