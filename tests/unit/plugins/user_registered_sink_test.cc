// user_registered_sink_test.cc: the bundled user_registered_sink, loaded by the real host, writing
// a real SQLite file: rows, idempotency, per-event rejects, config errors, database failures.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "support/sqlite_db.h"
#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::bundled_plugin;
using test::count_rows;
using test::create_handler;
using test::describe;
using test::EventBatch;
using test::query_row;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;

std::vector<std::string> kinds(const std::vector<sy_outcome>& outcomes) {
  std::vector<std::string> out;
  for (const sy_outcome& o : outcomes) out.push_back(describe(o));
  return out;
}

class UserRegisteredSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<HandlerInstance> sink(const std::string& database = "analytics.db") {
    return create_handler(bundled_plugin("user_registered_sink"), "users_db",
                          R"({"database":")" + database + R"("})", dir_.path());
  }
  std::string db() const { return dir_.file("analytics.db"); }

  test::TempDir dir_;
};

TEST_F(UserRegisteredSinkTest, WritesOneRowPerEvent) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch
      .add(
          "user.registered",
          R"({"user_id":7,"email":"ada@example.com","name":"Ada","created_at":"2026-05-07T10:00:00+00:00","extra":[1]})")
      .add("user.registered", R"({"user_id":8})")
      .add("user.registered", R"({"user_id":9,"email":null,"name":"Bob"})");
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "user_registrations"), 3);
  EXPECT_EQ(query_row(db(),
                      "SELECT user_id, email, name, created_at FROM user_registrations "
                      "WHERE user_id = 7"),
            (std::vector<std::string>{"7", "ada@example.com", "Ada", "2026-05-07T10:00:00+00:00"}));
  EXPECT_EQ(query_row(db(),
                      "SELECT email, name, created_at FROM user_registrations "
                      "WHERE user_id = 9"),
            (std::vector<std::string>{"NULL", "Bob", "NULL"}));
  std::vector<std::string> received = query_row(db(), "SELECT received_at FROM user_registrations");
  ASSERT_EQ(received.size(), 1u);
  EXPECT_THAT(
      received[0],
      MatchesRegex(
          R"(20[0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]\.[0-9][0-9][0-9]Z)"));
  EXPECT_EQ(query_row(db(), "PRAGMA journal_mode"), std::vector<std::string>{"wal"});
}

TEST_F(UserRegisteredSinkTest, RedeliveryLeavesRowsUnchanged) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  for (int id = 1; id <= 10; ++id)
    batch.add("user.registered", R"({"user_id":)" + std::to_string(id) + "}");
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "user_registrations"), 10);
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "user_registrations"), 10);

  // A replay with other values keeps the first row.
  EventBatch replay;
  replay.add("user.registered", R"({"user_id":1,"email":"changed@example.com"})");
  EXPECT_EQ(describe(replay.run(*handler)[0]), "OK");
  EXPECT_EQ(query_row(db(), "SELECT email FROM user_registrations WHERE user_id = 1"),
            std::vector<std::string>{"NULL"});
  EXPECT_EQ(count_rows(db(), "user_registrations"), 10);
}

TEST_F(UserRegisteredSinkTest, InvalidPayloadsAreRejectedWhileSiblingsCommit) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})")
      .add("user.registered", R"({"email":"no-id@example.com"})")
      .add("user.registered", R"({"user_id":2,"email":5})")
      .add("user.registered", R"({"user_id":"3"})")
      .add("user.registered", R"({"user_id":4,"name":{"first":"A"}})")
      .add("user.registered", R"({"user_id":5.5})")
      .add("user.registered", R"({"user_id":6,"created_at":true})")
      .add("user.registered", R"({"user_id":7})");
  EXPECT_EQ(
      kinds(batch.run(*handler)),
      (std::vector<std::string>{
          "OK", "REJECT: payload.user_id: required integer is missing",
          "REJECT: payload.email: expected string", "REJECT: payload.user_id: expected integer",
          "REJECT: payload.name: expected string", "REJECT: payload.user_id: expected integer",
          "REJECT: payload.created_at: expected string", "OK"}));
  EXPECT_EQ(count_rows(db(), "user_registrations"), 2);
  EXPECT_EQ(query_row(db(), "SELECT group_concat(user_id) FROM user_registrations"),
            std::vector<std::string>{"1,7"});
}

// The payload is read member by member: only top-level members count (the first of a name),
// strings are stored unescaped, numbers must be integers that fit in int64, and every row of a
// large batch keeps its own strings until the batch is written.
TEST_F(UserRegisteredSinkTest, ReadsTopLevelMembersOfEachPayload) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch
      .add("user.registered",
           R"({"nested":{"user_id":"x","email":5},"user_id":1,"user_id":"dup","tags":[{"name":1}],)"
           R"("email":"a\"b\\c\u00e9@example.com","name":null})")
      .add("user.registered", R"({"user_id":18446744073709551615})")
      .add("user.registered", R"({"user_id":9223372036854775807,"name":"max"})")
      .add("user.registered", R"({"user_id":2.0})")
      .add("user.registered", R"([{"user_id":3}])")
      .add("user.registered", R"({"user_id":4,)")
      .add("user.registered", R"({"user_id":-5,"name":""})");
  const size_t fixed = batch.size();
  for (int i = 0; i < 500; ++i) {
    const std::string id = std::to_string(100 + i);
    batch.add("user.registered", R"({"user_id":)" + id + R"(,"email":"user-)" + id +
                                     std::string(static_cast<size_t>(i % 97), 'x') +
                                     R"(@example.com","name":"Name )" + id + R"("})");
  }
  std::vector<std::string> outcomes = kinds(batch.run(*handler));
  ASSERT_EQ(outcomes.size(), fixed + 500);
  EXPECT_EQ(
      std::vector<std::string>(outcomes.begin(), outcomes.begin() + fixed),
      (std::vector<std::string>{
          "OK", "REJECT: payload.user_id: expected integer", "OK",
          "REJECT: payload.user_id: expected integer", "REJECT: payload: expected an object",
          "REJECT: payload: invalid JSON at offset 13: Missing a name for object member.", "OK"}));
  EXPECT_EQ(query_row(db(), "SELECT email, name IS NULL FROM user_registrations WHERE user_id = 1"),
            (std::vector<std::string>{"a\"b\\c\xc3\xa9@example.com", "1"}));
  EXPECT_EQ(query_row(db(),
                      "SELECT name FROM user_registrations WHERE user_id = "
                      "9223372036854775807"),
            std::vector<std::string>{"max"});
  EXPECT_EQ(query_row(db(), "SELECT name FROM user_registrations WHERE user_id = -5"),
            std::vector<std::string>{""});
  for (int i = 0; i < 500; ++i) {
    const std::string id = std::to_string(100 + i);
    ASSERT_EQ(query_row(db(), "SELECT email, name FROM user_registrations WHERE user_id = " + id),
              (std::vector<std::string>{
                  "user-" + id + std::string(static_cast<size_t>(i % 97), 'x') + "@example.com",
                  "Name " + id}));
  }
}

TEST_F(UserRegisteredSinkTest, ConfigErrorsFailCreation) {
  std::string error;
  auto library = PluginLibrary::load(bundled_plugin("user_registered_sink"), &error);
  ASSERT_NE(library, nullptr) << error;
  EXPECT_EQ(HandlerInstance::create(library, "users_db", "{}", dir_.path(), &error), nullptr);
  EXPECT_THAT(error, HasSubstr("users_db"));
  EXPECT_THAT(error, HasSubstr(library->path()));
  EXPECT_THAT(error, HasSubstr("config.database: required string is missing"));
  EXPECT_EQ(
      HandlerInstance::create(library, "users_db", R"({"database":["a"]})", dir_.path(), &error),
      nullptr);
  EXPECT_THAT(error, HasSubstr("config.database: expected string"));
  EXPECT_EQ(HandlerInstance::create(library, "users_db", R"({"database":""})", dir_.path(), &error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("config.database: must not be empty"));
}

TEST_F(UserRegisteredSinkTest, RelativeDatabaseResolvesAgainstConfigDir) {
  auto handler = sink("sub/users.db");
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})");
  // sub/ does not exist yet, so the path cannot be opened: a database failure, retried.
  std::vector<sy_outcome> outcomes = batch.run(*handler);
  EXPECT_EQ(outcomes[0].kind, SY_OUTCOME_RETRY) << describe(outcomes[0]);
  EXPECT_THAT(std::string(outcomes[0].reason), HasSubstr("unable to open database file"));
  EXPECT_THAT(std::string(outcomes[0].reason), HasSubstr(dir_.file("sub/users.db")));

  // Once the directory exists the next delivery reopens the database and succeeds.
  std::filesystem::create_directory(dir_.file("sub"));
  EXPECT_EQ(describe(batch.run(*handler)[0]), "OK");
  EXPECT_EQ(count_rows(dir_.file("sub/users.db"), "user_registrations"), 1);
}

TEST_F(UserRegisteredSinkTest, DatabaseFailureRetriesValidEventsAndStillRejectsInvalidOnes) {
  dir_.write("analytics.db", std::string(8192, 'x'));  // not a database
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("user.registered", R"({"user_id":1})").add("user.registered", R"({"user_id":"1"})");
  std::vector<sy_outcome> outcomes = batch.run(*handler);
  EXPECT_EQ(outcomes[0].kind, SY_OUTCOME_RETRY) << describe(outcomes[0]);
  EXPECT_THAT(std::string(outcomes[0].reason), HasSubstr("file is not a database"));
  EXPECT_EQ(describe(outcomes[1]), "REJECT: payload.user_id: expected integer");

  std::filesystem::remove(db());  // the operator fixes the file: the retry succeeds
  EXPECT_EQ(describe(batch.run(*handler)[0]), "OK");
  EXPECT_EQ(count_rows(db(), "user_registrations"), 1);
}

}  // namespace
}  // namespace switchyard
