// sqlite_db.h: a small header-only RAII wrapper over sqlite3 (connection + prepared statement).
// Thread safety: one SqliteDb and its Statements are used by one thread at a time (the plugin
// ABI's promise per instance); separate SqliteDb objects may share one database file from
// several threads or processes (WAL mode and a busy timeout arbitrate).
#ifndef SWITCHYARD_PLUGINS_COMMON_SQLITE_DB_H_
#define SWITCHYARD_PLUGINS_COMMON_SQLITE_DB_H_

#include <sqlite3.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

namespace switchyard::sinks {

// A failure reported by SQLite; code() is the extended result code. The text is
// "sqlite PATH: " followed by sqlite3_errmsg's text.
class SqliteError : public std::runtime_error {
 public:
  SqliteError(int code, const std::string& message) : std::runtime_error(message), code_(code) {}
  int code() const { return code_; }
  // True for a constraint violation caused by one row's values (not by the database's state).
  bool is_constraint() const { return (code_ & 0xff) == SQLITE_CONSTRAINT; }

 private:
  int code_;
};

// One open connection. Opening creates the file when missing and sets WAL, synchronous=NORMAL
// and the busy timeout. Throws SqliteError on any failure.
class SqliteDb {
 public:
  explicit SqliteDb(const std::string& path, int busy_timeout_ms = 5000) : path_(path) {
    int rc =
        sqlite3_open_v2(path.c_str(), &db_,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string text = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
      sqlite3_close_v2(db_);
      db_ = nullptr;
      throw SqliteError(rc, "sqlite " + path + ": cannot open: " + text);
    }
    sqlite3_extended_result_codes(db_, 1);
    sqlite3_busy_timeout(db_, busy_timeout_ms);
    try {
      exec("PRAGMA journal_mode=WAL");
      exec("PRAGMA synchronous=NORMAL");
    } catch (...) {
      sqlite3_close_v2(db_);
      throw;
    }
  }
  // Closes the connection; an open transaction is rolled back.
  ~SqliteDb() { sqlite3_close_v2(db_); }
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  sqlite3* handle() const { return db_; }

  // Runs one or more statements without results (rows are ignored). Throws SqliteError.
  void exec(const char* sql) {
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) throw error(rc);
  }

  // The error for result code rc: "sqlite PATH: <the connection's current message>".
  SqliteError error(int rc) const {
    return SqliteError(rc, "sqlite " + path_ + ": " + sqlite3_errmsg(db_));
  }

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// One prepared statement on a SqliteDb (which must outlive it). Throws SqliteError.
class Statement {
 public:
  Statement(SqliteDb& db, const char* sql) : db_(db) {
    int rc = sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
    if (rc != SQLITE_OK) throw db.error(rc);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1. Text is copied.
  void bind_int(int index, int64_t value) { check(sqlite3_bind_int64(stmt_, index, value)); }
  void bind_text(int index, std::string_view value) {
    check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8));
  }
  void bind_null(int index) { check(sqlite3_bind_null(stmt_, index)); }
  // Text bound without a copy: value must stay valid until the statement is stepped (step()
  // resets it and clears its bindings).
  void bind_text_static(int index, std::string_view value) {
    check(
        sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_STATIC, SQLITE_UTF8));
  }

  // Steps once: returns true for a row (call reset() when done reading), false when done;
  // throws SqliteError on failure. The statement is reset when done or failed.
  bool step() {
    int rc = sqlite3_step(stmt_);
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) {
      reset();
      return false;
    }
    SqliteError failure = db_.error(rc);  // read the message before reset() replaces it
    reset();
    throw failure;
  }
  // Resets the statement for its next use and clears its bindings.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  int64_t column_int(int index) const { return sqlite3_column_int64(stmt_, index); }

 private:
  void check(int rc) {
    if (rc != SQLITE_OK) throw db_.error(rc);
  }
  SqliteDb& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace switchyard::sinks

#endif  // SWITCHYARD_PLUGINS_COMMON_SQLITE_DB_H_
