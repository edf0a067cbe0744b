// sqlite_test_helpers.h: reads rows of a sink's SQLite file as text, for assertions (counts and
// integers: support/sqlite_db.h).
// Thread safety: each call opens its own connection; safe from any thread.
#ifndef SWITCHYARD_TESTS_UNIT_PLUGINS_SQLITE_TEST_HELPERS_H_
#define SWITCHYARD_TESTS_UNIT_PLUGINS_SQLITE_TEST_HELPERS_H_

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <string>
#include <vector>

namespace switchyard::test {

// The first row of sql's result as text columns ("NULL" for NULL); empty when no row. Records a
// test failure on any SQLite error.
inline std::vector<std::string> query_row(const std::string& db_path, const std::string& sql) {
  std::vector<std::string> row;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << "cannot open " << db_path << ": " << sqlite3_errmsg(db);
    sqlite3_close(db);
    return row;
  }
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  } else if (int rc = sqlite3_step(stmt); rc == SQLITE_ROW) {
    for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
      const unsigned char* text = sqlite3_column_text(stmt, i);
      row.push_back(text ? reinterpret_cast<const char*>(text) : "NULL");
    }
  } else if (rc != SQLITE_DONE) {
    ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  return row;
}

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_UNIT_PLUGINS_SQLITE_TEST_HELPERS_H_
