// sqlite_sink_probe_test.cc: the probe (`switchyard check --connect`) of the bundled SQLite sinks,
// loaded by the real host on real files: a missing file in a writable directory and a database
// the sink wrote are fine; a missing directory, a file that is not a database and a table that
// does not take the sink's rows are reported naming the file; the probe creates nothing.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <memory>
#include <string>

#include "support/sqlite_db.h"
#include "support/temp_dir.h"
#include "unit/plugin_host/plugin_test_helpers.h"

namespace switchyard {
namespace {

using test::bundled_plugin;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Outcome = HandlerInstance::ProbeOutcome;

// Probes a check-only `plugin` instance whose config.database is `database`.
Outcome probe(const std::string& plugin, const std::string& database) {
  std::string error;
  auto library = PluginLibrary::load(bundled_plugin(plugin), &error);
  if (!library) return {Outcome::kProblems, {error}};
  auto instance = HandlerInstance::create(library, "db", R"({"database":")" + database + R"("})",
                                          "", &error, /*check_only=*/true);
  if (!instance) return {Outcome::kProblems, {error}};
  return instance->probe();
}

void exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_close(db);
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST(SqliteSinkProbeTest, MissingFileInAWritableDirectoryIsFineAndNotCreated) {
  test::TempDir dir;
  for (const char* plugin : {"quote_created_sink", "user_registered_sink"}) {
    SCOPED_TRACE(plugin);
    const Outcome outcome = probe(plugin, dir.file("analytics.db"));
    EXPECT_EQ(outcome.kind, Outcome::kOk) << ::testing::PrintToString(outcome.problems);
    EXPECT_FALSE(exists(dir.file("analytics.db")));
  }
}

TEST(SqliteSinkProbeTest, MissingDirectoryIsNamed) {
  test::TempDir dir;
  const Outcome outcome = probe("quote_created_sink", dir.file("no/such/dir/analytics.db"));
  EXPECT_EQ(outcome.kind, Outcome::kProblems);
  EXPECT_THAT(outcome.problems,
              ElementsAre(AllOf(HasSubstr(dir.file("no/such/dir/analytics.db")),
                                HasSubstr("cannot be created in"), HasSubstr("directory"))));
}

TEST(SqliteSinkProbeTest, FileThatIsNotADatabaseIsNamed) {
  test::TempDir dir;
  const std::string path =
      dir.write("analytics.db", "this is not a SQLite database, not even close\n");
  const Outcome outcome = probe("user_registered_sink", path);
  EXPECT_EQ(outcome.kind, Outcome::kProblems);
  EXPECT_THAT(outcome.problems, ElementsAre(AllOf(HasSubstr(path), HasSubstr("not a database"))));
}

TEST(SqliteSinkProbeTest, TableThatDoesNotTakeTheRowsIsNamedAndLeftAlone) {
  test::TempDir dir;
  const std::string path = dir.file("analytics.db");
  exec(path, "CREATE TABLE quotes (quote_id INTEGER PRIMARY KEY, user_id INTEGER)");
  const Outcome outcome = probe("quote_created_sink", path);
  EXPECT_EQ(outcome.kind, Outcome::kProblems);
  EXPECT_THAT(outcome.problems,
              ElementsAre(AllOf(HasSubstr(path), HasSubstr("quotes"), HasSubstr("product_id"))));
  // The other sink's table would be created at start; the probe rolled it back.
  EXPECT_EQ(probe("user_registered_sink", path).kind, Outcome::kOk);
  EXPECT_EQ(test::query_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'users'"), 0);
}

TEST(SqliteSinkProbeTest, DatabaseTheSinkWroteIsFine) {
  test::TempDir dir;
  const std::string path = dir.file("analytics.db");
  {
    auto writer = test::create_handler(bundled_plugin("quote_created_sink"), "quotes",
                                       R"({"database":")" + path + R"("})");
    ASSERT_NE(writer, nullptr);
  }
  EXPECT_EQ(probe("quote_created_sink", path).kind, Outcome::kOk);
}

}  // namespace
}  // namespace switchyard
