// sql_sink_test.cc: the bundled sql_sink plugin, loaded by the real host, writing into a real
// PostgreSQL and a real MariaDB server started by the test: exact rows, idempotency under
// redelivery, type errors rejected with pointer and column, a bad row rejected alone, a table
// that does not match the mapping refused, and the database's outage answered with retry.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "plugin_host/handler_instance.h"
#include "support/events.h"
#include "support/sql_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::bundled_plugin;
using test::describe;
using test::EventBatch;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string quote(long id, long qty = 4,
                  const std::string& created_at = "2026-05-07T12:00:00+02:00") {
  return R"({"quote_id":)" + std::to_string(id) + R"(,"user_id":)" + std::to_string(id % 7) +
         R"(,"qty":)" + std::to_string(qty) + R"(,"created_at":")" + created_at + R"("})";
}

EventBatch quotes(long first, long count) {
  EventBatch batch;
  for (long id = first; id < first + count; ++id) batch.add("quote.created", quote(id));
  return batch;
}

std::string config(const std::string& url, bool create_table = true,
                   const std::string& table = "quotes", const std::string& extra = "") {
  return "{" + extra + R"("url":")" + url + R"(","table":")" + table + R"(","key":["quote_id"],)" +
         R"("create_table":)" + (create_table ? "true" : "false") + R"(,"columns":{)" +
         R"("quote_id":{"from":"/quote_id","type":"bigint"},)" +
         R"("user_id":{"from":"/user_id","type":"bigint"},)" +
         R"("qty":{"from":"/qty","type":"int"},)" +
         R"("created_at":{"from":"/created_at","type":"timestamptz","optional":true},)" +
         R"("raw":{"from":"","type":"jsonb"}}})";
}

class SqlSinkTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    server_ = test::make_sql_server(GetParam());
    server_->start();
  }

  std::unique_ptr<HandlerInstance> sink(const std::string& config_json,
                                        std::string* error = nullptr) {
    std::string local_error;
    auto library = PluginLibrary::load(bundled_plugin("sql_sink"), &local_error);
    if (!library) {
      ADD_FAILURE() << local_error;
      return nullptr;
    }
    auto instance = HandlerInstance::create(library, "quotes_sql", config_json, dir_.path(),
                                            error ? error : &local_error);
    if (!instance && !error) ADD_FAILURE() << local_error;
    return instance;
  }

  bool postgres() const { return GetParam() == "postgres"; }
  // The SQL for payload field `field` of column raw, as text.
  std::string raw_field(const std::string& field) const {
    return postgres() ? "raw->>'" + field + "'" : "JSON_VALUE(raw, '$." + field + "')";
  }
  std::string utc_text(const std::string& column) const {
    return postgres() ? "to_char(" + column + " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"
                      : "DATE_FORMAT(" + column + ", '%Y-%m-%d %H:%i:%s')";
  }

  test::TempDir dir_;
  std::unique_ptr<test::SqlServer> server_;
};

std::vector<std::string> kinds(const std::vector<sy_outcome>& outcomes) {
  std::vector<std::string> out;
  for (const sy_outcome& o : outcomes) out.push_back(describe(o));
  return out;
}

TEST_P(SqlSinkTest, WritesExactRowsAndRedeliveryAddsNone) {
  auto handler = sink(config(server_->url()));
  ASSERT_NE(handler, nullptr);
  EXPECT_THAT(kinds(quotes(1, 1500).run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(server_->count_rows("quotes"), 1500);
  // Redelivered messages (1..1500 again) next to new ones leave the count exact.
  EventBatch again = quotes(1, 1500);
  for (long id = 1501; id <= 1600; ++id) again.add("quote.created", quote(id));
  EXPECT_THAT(kinds(again.run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(server_->count_rows("quotes"), 1600);
  EXPECT_EQ(server_->query_int("SELECT count(DISTINCT quote_id) FROM quotes"), 1600);
  EXPECT_EQ(server_->query_int("SELECT user_id FROM quotes WHERE quote_id = 20"), 20 % 7);
  EXPECT_EQ(server_->query_int("SELECT qty FROM quotes WHERE quote_id = 20"), 4);
  // The offset is honoured: 12:00+02:00 is 10:00 UTC.
  EXPECT_EQ(
      server_->query_text("SELECT " + utc_text("created_at") + " FROM quotes WHERE quote_id = 20"),
      "2026-05-07 10:00:00");
  EXPECT_EQ(
      server_->query_text("SELECT " + raw_field("quote_id") + " FROM quotes WHERE quote_id = 20"),
      "20");
  EXPECT_EQ(handler->flush().is_ok(), true);
}

TEST_P(SqlSinkTest, TypeErrorsAreRejectedWithPointerAndColumn) {
  auto handler = sink(config(server_->url()));
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("quote.created", quote(1))
      .add("quote.created", R"({"quote_id":"two","user_id":1,"qty":1})")
      .add("quote.created", R"({"quote_id":3,"qty":1})")
      .add("quote.created", R"({"quote_id":4,"user_id":1,"qty":1,"created_at":"yesterday"})")
      .add("quote.created", R"({"quote_id":5,"user_id":1,"qty":3000000000})")
      .add("quote.created", R"({"quote_id":6,"user_id":1,"qty":2,"created_at":null})");
  const auto results = kinds(batch.run(*handler));
  ASSERT_EQ(results.size(), 6u);
  EXPECT_EQ(results[0], "OK");
  EXPECT_THAT(results[1],
              AllOf(StartsWith("REJECT"), HasSubstr("column quote_id"), HasSubstr("\"/quote_id\""),
                    HasSubstr("expected an integer, got a string")));
  EXPECT_THAT(results[2], AllOf(StartsWith("REJECT"), HasSubstr("column user_id"),
                                HasSubstr("\"/user_id\""), HasSubstr("missing")));
  EXPECT_THAT(results[3], AllOf(StartsWith("REJECT"), HasSubstr("column created_at"),
                                HasSubstr("\"/created_at\""), HasSubstr("ISO 8601")));
  EXPECT_THAT(results[4],
              AllOf(StartsWith("REJECT"), HasSubstr("column qty"), HasSubstr("out of range")));
  EXPECT_EQ(results[5], "OK");  // optional and null: SQL NULL
  EXPECT_EQ(server_->count_rows("quotes"), 2);
  EXPECT_EQ(server_->query_text("SELECT created_at FROM quotes WHERE quote_id = 6"), "NULL");
}

TEST_P(SqlSinkTest, TextWithANulCharacterIsRejectedOrStoredWhole) {
  auto handler = sink(
      R"({"url":")" + server_->url() +
      R"(","table":"notes","key":["id"],"create_table":true,)"
      R"("columns":{"id":{"from":"/id","type":"bigint"},"body":{"from":"/body","type":"text"}}})");
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  batch.add("note", R"({"id":1,"body":"a\u0000b"})").add("note", R"({"id":2,"body":"fine"})");
  const auto results = kinds(batch.run(*handler));
  if (postgres()) {  // PostgreSQL's text cannot hold U+0000: the producer's to fix
    EXPECT_THAT(results[0],
                AllOf(StartsWith("REJECT"), HasSubstr("column body"), HasSubstr("u0000")));
    EXPECT_EQ(server_->count_rows("notes"), 1);
  } else {  // MariaDB stores it, all three bytes
    EXPECT_EQ(results[0], "OK");
    EXPECT_EQ(server_->query_int("SELECT LENGTH(body) FROM notes WHERE id = 1"), 3);
    EXPECT_EQ(server_->count_rows("notes"), 2);
  }
  EXPECT_EQ(results[1], "OK");
}

TEST_P(SqlSinkTest, ConstraintViolationCostsOnlyThatMessage) {
  server_->exec(
      "CREATE TABLE quotes (quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, qty INT NOT "
      "NULL, "
      "created_at TIMESTAMP NULL, raw " +
      std::string(postgres() ? "JSONB" : "JSON") + ", CONSTRAINT qty_positive CHECK (qty > 0))");
  auto handler = sink(config(server_->url(), /*create_table=*/false));
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  for (long id = 1; id <= 300; ++id)
    batch.add("quote.created", quote(id, id == 37 || id == 250 ? 0 : 1));
  const auto results = kinds(batch.run(*handler));
  for (size_t i = 0; i < results.size(); ++i) {
    if (i + 1 == 37 || i + 1 == 250) {
      EXPECT_THAT(results[i],
                  AllOf(StartsWith("REJECT"), HasSubstr("quotes"), HasSubstr("qty_positive")))
          << "message " << i;
    } else {
      EXPECT_EQ(results[i], "OK") << "message " << i;
    }
  }
  EXPECT_EQ(server_->count_rows("quotes"), 298);
  EXPECT_EQ(server_->query_int("SELECT count(*) FROM quotes WHERE quote_id IN (37, 250)"), 0);
}

// A batch larger than one statement (MariaDB/MySQL: 1024 rows) with a refused row near its end:
// the statements already run are rolled back with it, and only that row is rejected.
TEST_P(SqlSinkTest, ConstraintViolationInABatchOfSeveralStatementsCostsOnlyThatMessage) {
  server_->exec(
      "CREATE TABLE quotes (quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, qty INT NOT "
      "NULL, created_at TIMESTAMP NULL, raw " +
      std::string(postgres() ? "JSONB" : "JSON") + ", CONSTRAINT qty_positive CHECK (qty > 0))");
  auto handler = sink(config(server_->url(), /*create_table=*/false));
  ASSERT_NE(handler, nullptr);
  EventBatch batch;
  for (long id = 1; id <= 2500; ++id) batch.add("quote.created", quote(id, id == 2400 ? 0 : 1));
  const auto results = kinds(batch.run(*handler));
  for (size_t i = 0; i < results.size(); ++i) {
    if (i + 1 == 2400) {
      EXPECT_THAT(results[i], AllOf(StartsWith("REJECT"), HasSubstr("qty_positive")));
    } else {
      EXPECT_EQ(results[i], "OK") << "message " << i;
    }
  }
  EXPECT_EQ(server_->count_rows("quotes"), 2499);
}

// A unique key other than `key`: PostgreSQL rejects the one message that breaks it, also in a
// batch that redelivers rows already written; MariaDB/MySQL keeps it out silently (ON DUPLICATE
// KEY). Either way every other row lands exactly once.
TEST_P(SqlSinkTest, AnotherUniqueKeyNextToRedeliveredRows) {
  server_->exec(
      "CREATE TABLE quotes (quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, qty INT NOT "
      "NULL, created_at TIMESTAMP NULL, raw " +
      std::string(postgres() ? "JSONB" : "JSON") + ", CONSTRAINT qty_unique UNIQUE (qty))");
  auto handler = sink(config(server_->url(), /*create_table=*/false));
  ASSERT_NE(handler, nullptr);
  EventBatch first;
  for (long id = 1; id <= 100; ++id) first.add("quote.created", quote(id, id));
  EXPECT_THAT(kinds(first.run(*handler)), ::testing::Each("OK"));
  EventBatch again;  // 51..100 redelivered, 101..150 new, 140 with the qty of 7
  for (long id = 51; id <= 150; ++id) again.add("quote.created", quote(id, id == 140 ? 7 : id));
  const auto results = kinds(again.run(*handler));
  for (size_t i = 0; i < results.size(); ++i) {
    if (i + 51 == 140 && postgres()) {
      EXPECT_THAT(results[i], AllOf(StartsWith("REJECT"), HasSubstr("qty_unique")));
    } else {
      EXPECT_EQ(results[i], "OK") << "message " << i;
    }
  }
  EXPECT_EQ(server_->count_rows("quotes"), 149);
  EXPECT_EQ(server_->query_int("SELECT count(*) FROM quotes WHERE quote_id = 140"), 0);
}

TEST_P(SqlSinkTest, TableThatDoesNotMatchTheMappingIsRefusedAtStart) {
  std::string error;
  EXPECT_EQ(sink(config(server_->url(), false, "missing_table"), &error), nullptr);
  EXPECT_THAT(error, AllOf(HasSubstr("missing_table"), HasSubstr("does not exist"),
                           HasSubstr("create_table: true")));
  server_->exec(
      "CREATE TABLE quotes (quote_id BIGINT PRIMARY KEY, user_id BIGINT, qty DATE, "
      "created_at TIMESTAMP NULL, raw TEXT)");
  error.clear();
  EXPECT_EQ(sink(config(server_->url(), false), &error), nullptr);
  EXPECT_THAT(error, AllOf(HasSubstr("table quotes, column qty"), HasSubstr("has type date"),
                           HasSubstr("config.columns.qty.type")));
}

TEST_P(SqlSinkTest, DatabaseDownIsRetriedWithItsTextThenRecovers) {
  auto handler = sink(config(server_->url()));
  ASSERT_NE(handler, nullptr);
  EXPECT_THAT(kinds(quotes(1, 10).run(*handler)), ::testing::Each("OK"));
  server_->stop();
  const auto down = kinds(quotes(11, 10).run(*handler));
  for (const std::string& r : down)
    EXPECT_THAT(r, AllOf(StartsWith("RETRY"), HasSubstr("quotes"))) << r;
  server_->start();
  // The plugin reconnects with backoff (100 ms at first): redeliver until the batch lands, as
  // the runtime's retries do.
  std::vector<std::string> up;
  EXPECT_TRUE(test::wait_until(
      [&] {
        up = kinds(quotes(11, 10).run(*handler));
        return up.front() == "OK";
      },
      std::chrono::seconds(30), "a batch to land after the database came back"));
  EXPECT_THAT(up, ::testing::Each("OK"));
  EXPECT_EQ(server_->count_rows("quotes"), 20);
}

TEST_P(SqlSinkTest, PasswordComesFromAFileOnlyItsOwnerCanRead) {
  std::string url = server_->url();
  if (!postgres()) {  // the test PostgreSQL trusts its socket; MariaDB checks the password
    server_->exec("CREATE USER 'analytics'@'localhost' IDENTIFIED BY 's3cret'");
    server_->exec("GRANT SELECT, INSERT, UPDATE, CREATE ON analytics.* TO 'analytics'@'localhost'");
    url.replace(url.find("root@"), 5, "analytics@");
  }
  const std::string file = dir_.write("db.password", "s3cret\n");
  ASSERT_EQ(::chmod(file.c_str(), 0600), 0);
  const std::string with_file = R"("password_file":"db.password",)";
  auto handler = sink(config(url, true, "quotes", with_file));
  ASSERT_NE(handler, nullptr);
  EXPECT_THAT(kinds(quotes(1, 3).run(*handler)), ::testing::Each("OK"));
  EXPECT_EQ(server_->count_rows("quotes"), 3);

  ASSERT_EQ(::chmod(file.c_str(), 0644), 0);
  std::string error;
  EXPECT_EQ(sink(config(url, true, "quotes", with_file), &error), nullptr);
  EXPECT_THAT(error, AllOf(HasSubstr(file), HasSubstr("readable by other users"),
                           HasSubstr("chmod o-rwx")));

  std::string inline_error;
  std::string inline_url = postgres() ? "postgresql://postgres:s3cret@/analytics"
                                      : "mysql://root:s3cret@localhost/analytics";
  EXPECT_EQ(sink(config(inline_url), &inline_error), nullptr);
  EXPECT_THAT(inline_error, HasSubstr("the URL contains a password"));
  EXPECT_THAT(inline_error, ::testing::Not(HasSubstr("s3cret")));

  if (!postgres()) {  // a wrong password: the database's refusal, retried (the operator fixes it)
    dir_.write("wrong.password", "nope\n");
    ASSERT_EQ(::chmod(dir_.file("wrong.password").c_str(), 0600), 0);
    auto wrong = sink(config(url, true, "quotes", R"("password_file":"wrong.password",)"));
    ASSERT_NE(wrong, nullptr);
    for (const std::string& r : kinds(quotes(10, 2).run(*wrong)))
      EXPECT_THAT(r, AllOf(StartsWith("RETRY"), HasSubstr("Access denied"),
                           ::testing::Not(HasSubstr("nope"))));
  }
}

INSTANTIATE_TEST_SUITE_P(Databases, SqlSinkTest, ::testing::Values("postgres", "mariadb"),
                         [](const auto& info) { return info.param; });

// `switchyard check` validates the mapping without connecting (the database is not even running)
// and names the key of a mistake.
TEST(SqlSinkCheckTest, CheckValidatesTheMappingWithoutConnecting) {
  test::TempDir dir;
  auto write = [&](const std::string& qty_type) {
    test::RoutesYaml spec;
    spec.redis_url = "unix://" + dir.file("no-redis.sock");
    spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
    spec.database = dir.file("analytics.db");
    spec.extra_handlers =
        "quotes_sql:\n  plugin: sql_sink\n  config:\n    url: \"postgresql://x@/a?host=" +
        dir.path() + "\"\n    table: quotes\n    key: [quote_id]\n    columns:\n" +
        "      quote_id: { from: /quote_id, type: bigint }\n" +
        "      qty: { from: /qty, type: " + qty_type + " }\n";
    spec.extra_routes = "analytics.quote: [quotes_sql]";
    return dir.write("routes.yaml", test::routes_yaml(spec));
  };
  test::CommandResult ok = test::SwitchyardProcess::exec({"check", "-c", write("int")});
  EXPECT_EQ(ok.exit_code, 0) << ok;
  test::CommandResult bad = test::SwitchyardProcess::exec({"check", "-c", write("integer64")});
  EXPECT_NE(bad.exit_code, 0) << bad;
  EXPECT_THAT(bad.out + bad.err,
              AllOf(HasSubstr("quotes_sql"), HasSubstr("config.columns.qty.type"),
                    HasSubstr("integer64"), HasSubstr("bigint")));
}

}  // namespace
}  // namespace switchyard
