// quote_created_sink_test.cc: the bundled quote_created_sink, loaded by the real host, writing a
// real SQLite file: rows, idempotency, per-event rejects, a database shared with
// user_registered_sink across threads, busy database, and the insert rate of one 1000-row batch.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>
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

std::vector<std::string> kinds(const std::vector<sy_outcome>& outcomes) {
  std::vector<std::string> out;
  for (const sy_outcome& o : outcomes) out.push_back(describe(o));
  return out;
}

std::string quote(long id, long user_id = 2, long product_id = 3, long qty = 4) {
  return R"({"quote_id":)" + std::to_string(id) + R"(,"user_id":)" + std::to_string(user_id) +
         R"(,"product_id":)" + std::to_string(product_id) + R"(,"qty":)" + std::to_string(qty) +
         R"(,"created_at":"2026-05-07T10:00:00+00:00"})";
}

// quote.created events for quote ids [first, first + count).
EventBatch quotes(long first, long count) {
  EventBatch batch;
  for (long id = first; id < first + count; ++id) batch.add("quote.created", quote(id));
  return batch;
}

class QuoteCreatedSinkTest : public ::testing::Test {
 protected:
  std::unique_ptr<HandlerInstance> sink(const std::string& plugin = "quote_created_sink",
                                        const std::string& handler = "quotes_db") {
    return create_handler(bundled_plugin(plugin), handler, R"({"database":"analytics.db"})",
                          dir_.path());
  }
  std::string db() const { return dir_.file("analytics.db"); }

  test::TempDir dir_;
};

TEST_F(QuoteCreatedSinkTest, WritesOneRowPerEvent) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("quote.created", quote(1, 2, 3, 4))
      .add("quote.created", R"({"quote_id":5,"user_id":6,"product_id":7,"qty":0})");
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "quotes"), 2);
  EXPECT_EQ(query_row(db(),
                      "SELECT quote_id, user_id, product_id, qty, created_at FROM quotes "
                      "WHERE quote_id = 1"),
            (std::vector<std::string>{"1", "2", "3", "4", "2026-05-07T10:00:00+00:00"}));
  EXPECT_EQ(query_row(db(),
                      "SELECT created_at, received_at IS NOT NULL FROM quotes "
                      "WHERE quote_id = 5"),
            (std::vector<std::string>{"NULL", "1"}));
  EXPECT_TRUE(handler->flush().is_ok());
}

TEST_F(QuoteCreatedSinkTest, SameBatchTwiceLeavesCountUnchanged) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch = quotes(1, 100);
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "quotes"), 100);
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "quotes"), 100);
  // A new instance (a restart) replaying the batch changes nothing either.
  handler = sink();
  ASSERT_NE(handler, nullptr);
  EXPECT_THAT(kinds(batch.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(count_rows(db(), "quotes"), 100);
}

TEST_F(QuoteCreatedSinkTest, EachRequiredFieldIsCheckedWhileSiblingsCommit) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("quote.created", quote(1))
      .add("quote.created", R"({"user_id":2,"product_id":3,"qty":4})")
      .add("quote.created", R"({"quote_id":3,"product_id":3,"qty":4})")
      .add("quote.created", R"({"quote_id":4,"user_id":2,"qty":4})")
      .add("quote.created", R"({"quote_id":5,"user_id":2,"product_id":3})")
      .add("quote.created", R"({"quote_id":6,"user_id":2,"product_id":3,"qty":"4"})")
      .add("quote.created", R"({"quote_id":7,"user_id":2,"product_id":3,"qty":4.5})")
      .add("quote.created", R"({"quote_id":8,"user_id":null,"product_id":3,"qty":4})")
      .add("quote.created", R"({"quote_id":9,"user_id":2,"product_id":[3],"qty":4})")
      .add("quote.created", R"({"quote_id":10,"user_id":2,"product_id":3,"qty":4,"created_at":1})")
      .add("quote.created",
           R"({"quote_id":11,"user_id":2,"product_id":3,"qty":18446744073709551615})")
      .add("quote.created", quote(12));
  EXPECT_EQ(kinds(batch.run(*handler)),
            (std::vector<std::string>{"OK", "REJECT: payload.quote_id: required integer is missing",
                                      "REJECT: payload.user_id: required integer is missing",
                                      "REJECT: payload.product_id: required integer is missing",
                                      "REJECT: payload.qty: required integer is missing",
                                      "REJECT: payload.qty: expected integer",
                                      "REJECT: payload.qty: expected integer",
                                      "REJECT: payload.user_id: expected integer",
                                      "REJECT: payload.product_id: expected integer",
                                      "REJECT: payload.created_at: expected string",
                                      "REJECT: payload.qty: expected integer", "OK"}));
  EXPECT_EQ(query_row(db(), "SELECT group_concat(quote_id) FROM quotes"),
            std::vector<std::string>{"1,12"});
}

// Runs sql on the database through a connection of the test's own.
void exec_sql(const std::string& db_path, const char* sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(db_path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql, nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
  sqlite3_close(db);
}

TEST_F(QuoteCreatedSinkTest, ConstraintFailureRejectsOnlyThatRow) {
  auto handler = sink();  // creates the table
  ASSERT_NE(handler, nullptr);
  exec_sql(db(),
           "CREATE TRIGGER block_2 BEFORE INSERT ON quotes WHEN NEW.quote_id = 2 "
           "BEGIN SELECT RAISE(ABORT, 'quote 2 is blocked'); END");
  EventBatch batch = quotes(1, 3);
  std::vector<sy_outcome> outcomes = batch.run(*handler);
  EXPECT_EQ(describe(outcomes[0]), "OK");
  EXPECT_EQ(outcomes[1].kind, SY_OUTCOME_REJECT) << describe(outcomes[1]);
  EXPECT_THAT(std::string(outcomes[1].reason), HasSubstr("quote 2 is blocked"));
  EXPECT_EQ(describe(outcomes[2]), "OK");
  EXPECT_EQ(query_row(db(), "SELECT group_concat(quote_id) FROM quotes"),
            std::vector<std::string>{"1,3"});
}

TEST_F(QuoteCreatedSinkTest, DatabaseErrorMidBatchRollsBackTheWholeBatch) {
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  // The insert of quote 3 (only) fails inside SQLite at run time: sum() overflows.
  exec_sql(db(),
           "CREATE TRIGGER fail_3 BEFORE INSERT ON quotes WHEN NEW.quote_id = 3 BEGIN "
           "SELECT sum(v) FROM (SELECT 9223372036854775807 AS v UNION ALL "
           "SELECT NEW.quote_id); END");
  EventBatch batch = quotes(1, 5);
  batch.add("quote.created", R"({"quote_id":6})");
  std::vector<sy_outcome> outcomes = batch.run(*handler);
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(outcomes[i].kind, SY_OUTCOME_RETRY) << describe(outcomes[i]);
    EXPECT_THAT(std::string(outcomes[i].reason),
                HasSubstr("sqlite " + db() + ": integer overflow"));
  }
  EXPECT_EQ(describe(outcomes[5]), "REJECT: payload.user_id: required integer is missing");
  EXPECT_EQ(count_rows(db(), "quotes"), 0);  // quotes 1 and 2 were rolled back with the batch

  exec_sql(db(), "DROP TRIGGER fail_3");
  outcomes = batch.run(*handler);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(describe(outcomes[i]), "OK");
  EXPECT_EQ(count_rows(db(), "quotes"), 5);
}

TEST_F(QuoteCreatedSinkTest, SharesOneDatabaseWithUserSinkAcrossThreads) {
  // users_db and two quotes_db instances (as two workers or processes) write one file at once;
  // the second quote instance replays the first one's quote ids.
  constexpr long kBatches = 20, kBatchSize = 250;
  auto users = sink("user_registered_sink", "users_db");
  auto quotes_a = sink();
  auto quotes_b = sink();
  ASSERT_TRUE(users && quotes_a && quotes_b);
  std::atomic<long> not_ok{0};
  std::string first_failure;
  auto feed = [&](HandlerInstance& handler, bool user_events) {
    for (long b = 0; b < kBatches; ++b) {
      EventBatch batch;
      for (long i = 0; i < kBatchSize; ++i) {
        long id = b * kBatchSize + i + 1;
        if (user_events) {
          batch.add("user.registered", R"({"user_id":)" + std::to_string(id) + "}");
        } else {
          batch.add("quote.created", quote(id));
        }
      }
      for (const sy_outcome& o : batch.run(handler)) {
        if (o.kind != SY_OUTCOME_OK && not_ok.fetch_add(1) == 0) first_failure = describe(o);
      }
    }
  };
  std::thread t1(feed, std::ref(*users), true);
  std::thread t2(feed, std::ref(*quotes_a), false);
  std::thread t3(feed, std::ref(*quotes_b), false);
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(not_ok.load(), 0) << first_failure;
  EXPECT_EQ(count_rows(db(), "user_registrations"), kBatches * kBatchSize);
  EXPECT_EQ(count_rows(db(), "quotes"), kBatches * kBatchSize);
}

TEST_F(QuoteCreatedSinkTest, DatabaseBusyBeyondTimeoutRetriesTheBatch) {
  auto handler = sink();  // creates the table
  ASSERT_NE(handler, nullptr);
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(db().c_str(), &blocker), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(blocker, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);

  EventBatch batch = quotes(1, 3);
  batch.add("quote.created", R"({"quote_id":"x"})");
  auto started = std::chrono::steady_clock::now();
  std::vector<sy_outcome> outcomes = batch.run(*handler);  // waits out busy_timeout (5 s)
  auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(4500));
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(outcomes[i].kind, SY_OUTCOME_RETRY) << describe(outcomes[i]);
    EXPECT_THAT(std::string(outcomes[i].reason), HasSubstr("database is locked"));
  }
  EXPECT_EQ(describe(outcomes[3]), "REJECT: payload.quote_id: expected integer");

  ASSERT_EQ(sqlite3_exec(blocker, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(blocker);
  outcomes = batch.run(*handler);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(describe(outcomes[i]), "OK");
  EXPECT_EQ(count_rows(db(), "quotes"), 3);
}

// CPU time of the calling thread (SQLite and the plugin run on it), immune to a busy machine.
double thread_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST_F(QuoteCreatedSinkTest, InsertRateOfOneThousandRowBatches) {
  // Measures, never asserts a speed: each 1000-event batch is one handle_batch call (JSON parsing,
  // one transaction, 1000 inserts, commit), through the real host.
  constexpr long kBatchSize = 1000, kRounds = 11;
  auto handler = sink();
  ASSERT_NE(handler, nullptr);
  std::vector<EventBatch> batches;
  for (long r = 0; r < kRounds; ++r) batches.push_back(quotes(r * kBatchSize + 1, kBatchSize));
  std::vector<double> wall_rates, cpu_rates;
  for (const EventBatch& batch : batches) {
    const double cpu_started = thread_cpu_seconds();
    const auto started = std::chrono::steady_clock::now();
    std::vector<sy_outcome> outcomes = batch.run(*handler);
    const std::chrono::duration<double> wall = std::chrono::steady_clock::now() - started;
    const double cpu = thread_cpu_seconds() - cpu_started;
    ASSERT_THAT(kinds(outcomes), ::testing::Each("OK"));
    wall_rates.push_back(kBatchSize / wall.count());
    cpu_rates.push_back(kBatchSize / std::max(cpu, 1e-9));
  }
  EXPECT_EQ(count_rows(db(), "quotes"), kBatchSize * kRounds);
  std::sort(wall_rates.begin(), wall_rates.end());
  std::sort(cpu_rates.begin(), cpu_rates.end());
  const long wall_median = static_cast<long>(wall_rates[wall_rates.size() / 2]);
  const long cpu_median = static_cast<long>(cpu_rates[cpu_rates.size() / 2]);
  std::cout << "quote_created_sink: " << kRounds << " batches of " << kBatchSize
            << " rows, one transaction each: median " << wall_median << " rows/s wall clock (max "
            << static_cast<long>(wall_rates.back()) << "), " << cpu_median
            << " rows/s per CPU second\n";
  RecordProperty("rows_per_second_wall_median", static_cast<int>(wall_median));
  RecordProperty("rows_per_cpu_second_median", static_cast<int>(cpu_median));
}

}  // namespace
}  // namespace switchyard
