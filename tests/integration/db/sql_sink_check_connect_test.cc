// sql_sink_check_connect_test.cc: `switchyard check --connect` (the real binary) probing sql_sink
// handlers against a real PostgreSQL and a real MariaDB started by the test: a table that fits
// passes; a missing table, a missing column, an incompatible type, key columns without a unique
// index and a wrong password are each reported naming handler, table and column, with exit 1.
// The key check also runs when the daemon's handler starts. The README's SQL for the SQLite
// presets' tables fits their sql_sink mappings.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <memory>
#include <string>
#include <vector>

#include "plugin_host/handler_instance.h"
#include "plugin_host/plugin_library.h"
#include "support/events.h"
#include "support/plugin_paths.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sql_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;

class SqlSinkCheckConnectTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    redis_.start();
    std::vector<std::string> args;
    if (postgres()) {
      // The test server trusts its socket; let user "probe" in by password only, so that a
      // wrong one is refused. The server runs as another user: it must read the file.
      ASSERT_EQ(::chmod(dir_.path().c_str(), 0755), 0);
      const std::string hba =
          dir_.write("pg_hba.conf", "local all postgres trust\nlocal all all scram-sha-256\n");
      ASSERT_EQ(::chmod(hba.c_str(), 0644), 0);
      args = {"-c", "hba_file=" + hba};
    }
    db_ = make_sql_server(GetParam(), args);
    db_->start();
  }

  bool postgres() const { return GetParam() == "postgres"; }

  // Column types that differ between the two databases.
  std::string timestamp_type() const { return postgres() ? "TIMESTAMPTZ" : "DATETIME(6)"; }
  std::string json_type() const { return postgres() ? "JSONB" : "JSON"; }
  // CREATE TABLE quotes (columns).
  void create_quotes(const std::string& columns) {
    db_->exec("CREATE TABLE quotes (" + columns + ")");
  }
  void create_fitting_table() {
    create_quotes(
        "quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, qty INT NOT NULL, "
        "created_at " +
        timestamp_type() + " NULL, raw " + json_type());
  }

  // routes.yaml with handler quotes_sql (sql_sink) mapping five columns of table quotes;
  // `extra` is added to its config (indented lines).
  std::string write_config(const std::string& url, const std::string& extra = "") {
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
    spec.database = dir_.file("analytics.db");
    spec.extra_handlers =
        "quotes_sql:\n"
        "  plugin: sql_sink\n"
        "  config:\n"
        "    url: " +
        json_string(url) + "\n" + extra +
        "    table: quotes\n"
        "    key: [quote_id]\n"
        "    columns:\n"
        "      quote_id: { from: /quote_id, type: bigint }\n"
        "      user_id: { from: /user_id, type: bigint }\n"
        "      qty: { from: /qty, type: int }\n"
        "      created_at: { from: /created_at, type: timestamptz, optional: true }\n"
        "      raw: { from: \"\", type: jsonb }\n";
    spec.extra_routes = "analytics.quote: [quotes_sql]";
    return dir_.write("routes.yaml", routes_yaml(spec));
  }

  CommandResult check_connect(const std::string& config) {
    return SwitchyardProcess::exec({"check", "--connect", "-c", config}, 60s);
  }

  // Whether `table` exists in the test database.
  bool table_exists(const std::string& table) {
    return db_->query_int(postgres() ? "SELECT count(*) FROM information_schema.tables WHERE "
                                       "table_schema = current_schema() AND table_name = '" +
                                           table + "'"
                                     : "SELECT count(*) FROM information_schema.tables WHERE "
                                       "table_schema = DATABASE() AND table_name = '" +
                                           table + "'") > 0;
  }

  TempDir dir_;
  RedisServer redis_;
  std::unique_ptr<SqlServer> db_;
};

TEST_P(SqlSinkCheckConnectTest, TableThatFitsTheMappingIsOk) {
  create_fitting_table();
  const CommandResult r = check_connect(write_config(db_->url()));
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, HasSubstr("  quotes_sql: ok\n"));
  EXPECT_EQ(db_->count_rows("quotes"), 0);  // probing writes nothing
}

TEST_P(SqlSinkCheckConnectTest, MissingTableIsReportedAndCreateTableIsNotRunByTheCheck) {
  const CommandResult r = check_connect(write_config(db_->url()));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("handler quotes_sql: table quotes does not exist"),
                           HasSubstr("create_table: true")));
  // With create_table: true a missing table is fine (the daemon creates it), and the check
  // itself creates nothing.
  const CommandResult created = check_connect(write_config(db_->url(), "    create_table: true\n"));
  EXPECT_EQ(created.exit_code, 0) << created;
  EXPECT_FALSE(table_exists("quotes"));
}

TEST_P(SqlSinkCheckConnectTest, MissingColumnIsNamed) {
  create_quotes("quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, created_at " +
                timestamp_type() + " NULL, raw " + json_type());
  const CommandResult r = check_connect(write_config(db_->url()));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, HasSubstr("handler quotes_sql: table quotes, column qty: no such column; add "
                               "it or remove it from config.columns"));
  EXPECT_THAT(r.out, HasSubstr("  quotes_sql: 1 problem(s)\n"));
}

TEST_P(SqlSinkCheckConnectTest, TextColumnMappedAsBigintIsNamed) {
  create_quotes(
      "quote_id BIGINT PRIMARY KEY, user_id TEXT NOT NULL, qty INT NOT NULL, "
      "created_at " +
      timestamp_type() + " NULL, raw " + json_type());
  const CommandResult r = check_connect(write_config(db_->url()));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("handler quotes_sql: table quotes, column user_id: has type "
                                     "text, which cannot hold bigint"),
                           HasSubstr("config.columns.user_id.type")));
}

TEST_P(SqlSinkCheckConnectTest, KeyWithoutAUniqueIndexIsNamed) {
  // An index on the key that is not unique, and a unique one on other columns, do not count.
  create_quotes(
      "quote_id BIGINT NOT NULL, user_id BIGINT NOT NULL, qty INT NOT NULL, "
      "created_at " +
      timestamp_type() + " NULL, raw " + json_type());
  db_->exec("CREATE INDEX quotes_by_id ON quotes (quote_id)");
  db_->exec("CREATE UNIQUE INDEX quotes_by_both ON quotes (quote_id, user_id)");
  const CommandResult r = check_connect(write_config(db_->url()));
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_THAT(r.err, AllOf(HasSubstr("handler quotes_sql: table quotes, key (quote_id): no "
                                     "primary key or unique index"),
                           HasSubstr("ADD PRIMARY KEY (quote_id)")));
  // The daemon refuses such a table at start too: redeliveries would add rows (MariaDB) or
  // every insert fail (PostgreSQL).
  std::string error;
  auto library = PluginLibrary::load(bundled_plugin("sql_sink"), &error);
  ASSERT_NE(library, nullptr) << error;
  const std::string config_json =
      R"({"url":")" + db_->url() +
      R"(","table":"quotes","key":["quote_id"],"columns":{"quote_id":{"from":"/quote_id","type":"bigint"}}})";
  EXPECT_EQ(HandlerInstance::create(library, "quotes_sql", config_json, dir_.path(), &error),
            nullptr);
  EXPECT_THAT(error, HasSubstr("table quotes, key (quote_id): no primary key or unique index"));
  // A unique index on exactly the key is enough.
  db_->exec("CREATE UNIQUE INDEX quotes_unique_id ON quotes (quote_id)");
  const CommandResult fixed = check_connect(write_config(db_->url()));
  EXPECT_EQ(fixed.exit_code, 0) << fixed;
}

TEST_P(SqlSinkCheckConnectTest, WrongPasswordIsReportedWithoutThePassword) {
  create_fitting_table();
  std::string url = db_->url();
  if (postgres()) {
    db_->exec("CREATE ROLE probe LOGIN PASSWORD 'right-one'");
    db_->exec("GRANT SELECT, INSERT ON quotes TO probe");
    url.replace(url.find("postgres@"), 9, "probe@");
  } else {
    db_->exec("CREATE USER 'probe'@'localhost' IDENTIFIED BY 'right-one'");
    db_->exec("GRANT SELECT, INSERT, UPDATE ON analytics.quotes TO 'probe'@'localhost'");
    url.replace(url.find("root@"), 5, "probe@");
  }
  for (const char* name : {"right.password", "wrong.password"}) {
    dir_.write(name, std::string(name) == "right.password" ? "right-one\n" : "wrong-one\n");
    ASSERT_EQ(::chmod(dir_.file(name).c_str(), 0600), 0);
  }
  const CommandResult right =
      check_connect(write_config(url, "    password_file: right.password\n"));
  EXPECT_EQ(right.exit_code, 0) << right;
  EXPECT_THAT(right.out, HasSubstr("  quotes_sql: ok\n"));

  const CommandResult wrong =
      check_connect(write_config(url, "    password_file: wrong.password\n"));
  EXPECT_EQ(wrong.exit_code, 1) << wrong;
  EXPECT_THAT(
      wrong.err,
      AllOf(HasSubstr("handler quotes_sql: cannot connect to"), HasSubstr("for table quotes"),
            HasSubstr(postgres() ? "password authentication failed" : "Access denied"),
            HasSubstr("config.password_file"), Not(HasSubstr("wrong-one"))));
  EXPECT_THAT(wrong.out, Not(HasSubstr("wrong-one")));
}

// README "Bundled plugins": the SQLite presets' tables as PostgreSQL / MariaDB tables, with the
// database filling received_at, fit their sql_sink mappings and take a row.
TEST_P(SqlSinkCheckConnectTest, SqlitePresetTablesOfTheReadmeFitTheirMappings) {
  db_->exec(
      "CREATE TABLE quotes (quote_id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL, "
      "product_id BIGINT NOT NULL, qty BIGINT NOT NULL, created_at TEXT, "
      "received_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))");
  db_->exec(
      "CREATE TABLE user_registrations (user_id BIGINT PRIMARY KEY, email TEXT, name TEXT, "
      "created_at TEXT, received_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3))");
  RoutesYaml spec;
  spec.redis_url = redis_.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = dir_.file("analytics.db");
  spec.extra_handlers =
      "quotes_pg:\n  plugin: sql_sink\n  config:\n    url: " + json_string(db_->url()) +
      "\n    table: quotes\n    key: [quote_id]\n    columns:\n"
      "      quote_id: { from: /quote_id, type: bigint }\n"
      "      user_id: { from: /user_id, type: bigint }\n"
      "      product_id: { from: /product_id, type: bigint }\n"
      "      qty: { from: /qty, type: bigint }\n"
      "      created_at: { from: /created_at, type: text, optional: true }\n"
      "users_pg:\n  plugin: sql_sink\n  config:\n    url: " +
      json_string(db_->url()) +
      "\n    table: user_registrations\n    key: [user_id]\n    columns:\n"
      "      user_id: { from: /user_id, type: bigint }\n"
      "      email: { from: /email, type: text, optional: true }\n"
      "      name: { from: /name, type: text, optional: true }\n"
      "      created_at: { from: /created_at, type: text, optional: true }\n";
  spec.extra_routes = "quote.stored: [quotes_pg]\nuser.stored: [users_pg]";
  const std::string config = dir_.write("routes.yaml", routes_yaml(spec));
  const CommandResult r = check_connect(config);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_THAT(r.out, AllOf(HasSubstr("  quotes_pg: ok\n"), HasSubstr("  users_pg: ok\n")));

  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir_.file("switchyard.log"));
  RedisClient client = redis_.client();
  client.rpush_many("events",
                    {envelope("quote.stored", R"({"quote_id":1,"user_id":2,"product_id":3,"qty":4,)"
                                              R"("created_at":"2026-05-07T10:00:00Z"})"),
                     envelope("user.stored", R"({"user_id":2,"email":"a@example.com"})")},
                    10);
  auto rows = [&](const std::string& table) {
    try {
      return db_->count_rows(table);
    } catch (const std::exception&) {
      return int64_t{-1};
    }
  };
  EXPECT_TRUE(wait_until([&] { return rows("quotes") == 1 && rows("user_registrations") == 1; },
                         60s, "one row in each preset table"))
      << daemon.log_tail();
  EXPECT_EQ(db_->query_int("SELECT count(*) FROM quotes WHERE received_at IS NOT NULL AND "
                           "created_at = '2026-05-07T10:00:00Z'"),
            1);
  EXPECT_EQ(daemon.stop(), std::optional<int>(0)) << daemon.log_tail();
}

INSTANTIATE_TEST_SUITE_P(Databases, SqlSinkCheckConnectTest,
                         ::testing::Values("postgres", "mariadb"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace switchyard::test
