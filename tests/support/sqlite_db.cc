// sqlite_db.cc: count_rows, query_int and query_row over a read-only SQLite connection.
#include "support/sqlite_db.h"

#include <sqlite3.h>

#include <filesystem>
#include <memory>
#include <stdexcept>

namespace switchyard::test {
namespace {

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;
using Stmt = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

Db open_read_only(const std::string& path) {
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);
  if (rc != SQLITE_OK) {
    throw std::runtime_error("sqlite open " + path + ": " +
                             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(db.get(), 5000);
  return db;
}

// Prepares and steps once; returns the statement positioned on the first row, or null if none.
Stmt first_row(sqlite3* db, const std::string& path, const std::string& sql,
               const std::string& bind_text = "", bool bind = false) {
  sqlite3_stmt* raw = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), static_cast<int>(sql.size()), &raw, nullptr) !=
      SQLITE_OK) {
    throw std::runtime_error("sqlite " + path + ": " + sql + ": " + sqlite3_errmsg(db));
  }
  Stmt stmt(raw);
  if (bind) {
    sqlite3_bind_text(raw, 1, bind_text.data(), static_cast<int>(bind_text.size()),
                      SQLITE_TRANSIENT);
  }
  int rc = sqlite3_step(raw);
  if (rc == SQLITE_DONE) return nullptr;
  if (rc != SQLITE_ROW) {
    throw std::runtime_error("sqlite " + path + ": " + sql + ": " + sqlite3_errmsg(db));
  }
  return stmt;
}

std::string quote_identifier(const std::string& name) {
  std::string out = "\"";
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

int64_t count_rows(const std::string& db_path, const std::string& table) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(db_path, ec)) return -1;
  Db db = open_read_only(db_path);
  Stmt exists = first_row(db.get(), db_path,
                          "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?1",
                          table, true);
  if (!exists || sqlite3_column_int64(exists.get(), 0) == 0) return -1;
  exists.reset();
  Stmt count = first_row(db.get(), db_path, "SELECT count(*) FROM " + quote_identifier(table));
  if (!count) throw std::runtime_error("sqlite " + db_path + ": count(*) of " + table + ": no row");
  return sqlite3_column_int64(count.get(), 0);
}

int64_t query_int(const std::string& db_path, const std::string& sql) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(db_path, ec)) {
    throw std::runtime_error("sqlite " + db_path + ": no such file (query: " + sql + ")");
  }
  Db db = open_read_only(db_path);
  Stmt row = first_row(db.get(), db_path, sql);
  if (!row) throw std::runtime_error("sqlite " + db_path + ": " + sql + ": no row");
  if (sqlite3_column_type(row.get(), 0) == SQLITE_NULL) {
    throw std::runtime_error("sqlite " + db_path + ": " + sql + ": NULL");
  }
  return sqlite3_column_int64(row.get(), 0);
}

std::vector<std::string> query_row(const std::string& db_path, const std::string& sql) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(db_path, ec)) {
    throw std::runtime_error("sqlite " + db_path + ": no such file (query: " + sql + ")");
  }
  Db db = open_read_only(db_path);
  Stmt row = first_row(db.get(), db_path, sql);
  std::vector<std::string> out;
  if (!row) return out;
  for (int i = 0; i < sqlite3_column_count(row.get()); ++i) {
    const unsigned char* text = sqlite3_column_text(row.get(), i);
    out.push_back(text ? reinterpret_cast<const char*>(text) : "NULL");
  }
  return out;
}

}  // namespace switchyard::test
