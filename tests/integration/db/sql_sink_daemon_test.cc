// sql_sink_daemon_test.cc: the real daemon writing through sql_sink into a real PostgreSQL and
// a real MariaDB started by the test, while they fail: the database restarted mid-drain (every
// message lands, none dead-lettered), kill -9 of switchyard mid-transaction with two tables
// written at once (exact counts in both after restart), and an outage longer than the retry budget
// (dead letters carry the database's error text; `dlq replay` after it returns lands every row).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sql_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

std::vector<std::string> quote_events(long first, long count) {
  std::vector<std::string> out;
  for (long id = first; id < first + count; ++id) {
    out.push_back(envelope("analytics.quote", R"({"quote_id":)" + std::to_string(id) +
                                                  R"(,"user_id":)" + std::to_string(id % 13) +
                                                  R"(,"qty":)" + std::to_string(id % 9 + 1) +
                                                  R"(,"created_at":"2026-05-07T10:00:00Z"})"));
  }
  return out;
}

class SqlSinkDaemonTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    redis_.start();
    db_ = make_sql_server(GetParam());
    db_->start();
  }

  // routes.yaml: source events (list), analytics.quote -> sql_sink into table quotes, and with
  // copy also into table quotes_copy (a second handler of every batch, called at the same time).
  void write_config(const std::string& retry, bool copy = false) {
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
    spec.database = dir_.file("analytics.db");
    spec.source_extra = "batch: 256\nreclaim_after: 1s\nhandlers_at_once: true";
    auto handler = [&](const std::string& name, const std::string& table) {
      return name +
             ":\n"
             "  plugin: sql_sink\n"
             "  config:\n"
             "    url: " +
             json_string(db_->url()) +
             "\n"
             "    table: " +
             table +
             "\n"
             "    key: [quote_id]\n"
             "    create_table: true\n"
             "    columns:\n"
             "      quote_id: { from: /quote_id, type: bigint }\n"
             "      user_id: { from: /user_id, type: bigint }\n"
             "      qty: { from: /qty, type: int }\n"
             "      created_at: { from: /created_at, type: timestamptz, optional: true }\n"
             "      raw: { from: \"\", type: jsonb }\n";
    };
    spec.extra_handlers =
        handler("quotes_sql", "quotes") + (copy ? handler("copy_sql", "quotes_copy") : "");
    spec.extra_routes =
        copy ? "analytics.quote: [quotes_sql, copy_sql]" : "analytics.quote: [quotes_sql]";
    spec.extra_yaml = "retry: " + retry + "\nshutdown_timeout: 5s";
    config_ = dir_.write("routes.yaml", routes_yaml(spec));
  }

  SwitchyardProcess start_daemon() {
    return SwitchyardProcess::run(config_, dir_.file("switchyard.log"));
  }

  void publish(const std::vector<std::string>& events) {
    RedisClient client = redis_.client();
    client.rpush_many("events", events, 100);
  }

  // Rows in table, -1 while the table or the server is not there.
  int64_t rows(const std::string& table = "quotes") {
    try {
      return db_->count_rows(table);
    } catch (const std::exception&) {
      return -1;
    }
  }
  int64_t dead() { return redis_.client().llen("events:dead"); }
  std::string describe() {
    return "rows=" + std::to_string(rows()) + " dead=" + std::to_string(dead()) + "\n" +
           db_->log_tail(20);
  }

  TempDir dir_;
  RedisServer redis_;
  std::unique_ptr<SqlServer> db_;
  std::string config_;
};

TEST_P(SqlSinkDaemonTest, DatabaseRestartedMidDrainLosesNothing) {
  constexpr int64_t kEvents = 20000;
  write_config("{ max_attempts: 1000, initial_backoff: 50ms, max_backoff: 1s }");
  publish(quote_events(1, kEvents));
  SwitchyardProcess daemon = start_daemon();
  ASSERT_TRUE(wait_until([&] { return rows() > 0; }, 60s, "the first rows"))
      << describe() << daemon.log_tail();
  db_->restart();
  ASSERT_TRUE(wait_until([&] { return rows() == kEvents; }, 180s, "every row after the restart"))
      << describe() << daemon.log_tail();
  EXPECT_EQ(dead(), 0) << describe();
  EXPECT_EQ(db_->query_int("SELECT count(DISTINCT quote_id) FROM quotes"), kEvents);
  EXPECT_EQ(daemon.stop(), std::optional<int>(0)) << daemon.log_tail();
}

// Two tables, each batch written to both at once (two handlers, two transactions in flight).
TEST_P(SqlSinkDaemonTest, Kill9MidTransactionLeavesExactCountsAfterRestart) {
  constexpr int64_t kEvents = 20000;
  write_config("{ max_attempts: 100, initial_backoff: 50ms, max_backoff: 1s }", true);
  publish(quote_events(1, kEvents));
  int killed_mid_drain = 0;
  for (int round = 0; round < 3; ++round) {
    SwitchyardProcess daemon = start_daemon();
    const int64_t before = std::max<int64_t>(rows(), 0);
    ASSERT_TRUE(wait_until([&] { return rows() > before || rows() == kEvents; }, 60s,
                           "rows written in round " + std::to_string(round)))
        << describe() << daemon.log_tail();
    daemon.kill9();  // most likely inside a transaction: batches run back to back
    if (rows() < kEvents) ++killed_mid_drain;
  }
  EXPECT_GT(killed_mid_drain, 0) << "every kill came after the drain: the test proved nothing";
  SwitchyardProcess daemon = start_daemon();
  ASSERT_TRUE(wait_until(
      [&] {
        return rows() == kEvents && rows("quotes_copy") == kEvents &&
               redis_.client().llen("events") == 0;
      },
      180s, "every row of both tables after the last restart"))
      << describe() << " quotes_copy=" << rows("quotes_copy") << daemon.log_tail();
  EXPECT_EQ(dead(), 0) << describe();
  EXPECT_EQ(daemon.stop(), std::optional<int>(0)) << daemon.log_tail();
  EXPECT_EQ(rows(), kEvents);
  EXPECT_EQ(rows("quotes_copy"), kEvents);
  EXPECT_EQ(db_->query_int("SELECT count(DISTINCT quote_id) FROM quotes_copy"), kEvents);
}

TEST_P(SqlSinkDaemonTest, OutageLongerThanRetryBudgetDeadLettersWithItsTextThenReplayLandsAll) {
  constexpr int64_t kEvents = 500;
  write_config("{ max_attempts: 3, initial_backoff: 20ms, max_backoff: 100ms }");
  SwitchyardProcess daemon = start_daemon();
  // The table exists once the handler connected: wait for it before the outage.
  ASSERT_TRUE(wait_until([&] { return rows() == 0; }, 60s, "the table created by sql_sink"))
      << describe() << daemon.log_tail();
  db_->stop();
  publish(quote_events(1, kEvents));
  ASSERT_TRUE(wait_until([&] { return dead() == kEvents; }, 120s, "every message dead-lettered"))
      << describe() << daemon.log_tail();
  // The database's own words, so the operator knows what failed.
  const std::string letter = redis_.client().lrange("events:dead", 0, 0).at(0);
  const std::string expected = GetParam() == "postgres"
                                   ? "cannot connect to PostgreSQL for table quotes"
                                   : "cannot connect to MariaDB/MySQL for table quotes";
  EXPECT_NE(letter.find(expected), std::string::npos) << letter;
  EXPECT_NE(letter.find(GetParam() == "postgres" ? "No such file or directory"
                                                 : "Can't connect to local server"),
            std::string::npos)
      << letter;

  db_->start();
  CommandResult replay = SwitchyardProcess::exec({"dlq", "replay", "--yes", "-c", config_});
  ASSERT_EQ(replay.exit_code, 0) << replay;
  ASSERT_TRUE(wait_until([&] { return rows() == kEvents; }, 120s, "every replayed row"))
      << describe() << daemon.log_tail();
  EXPECT_EQ(dead(), 0) << describe();
  EXPECT_EQ(daemon.stop(), std::optional<int>(0)) << daemon.log_tail();
}

INSTANTIATE_TEST_SUITE_P(Databases, SqlSinkDaemonTest, ::testing::Values("postgres", "mariadb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace switchyard::test
