// sqlite_sink.h: the shared base of the bundled SQLite sinks: one row per event, a whole batch
// in one transaction, idempotent inserts, per-event rejects, retry when the database fails.
// Thread safety: an instance is used by one thread at a time (the plugin ABI's promise).
#ifndef SWITCHYARD_PLUGINS_COMMON_SQLITE_SINK_H_
#define SWITCHYARD_PLUGINS_COMMON_SQLITE_SINK_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "common/sqlite_db.h"
#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace switchyard::sinks {

// One column value of a row: NULL, an integer or a text.
using SqlValue = std::variant<std::monostate, int64_t, std::string>;
using SqlRow = std::vector<SqlValue>;

// NULL for nullopt, else the text.
inline SqlValue text_or_null(std::optional<std::string> text) {
  if (!text) return std::monostate{};
  return std::move(*text);
}

// The current UTC time in ISO 8601 with milliseconds, e.g. "2026-05-07T10:00:00.123Z".
inline std::string utc_now_iso8601() {
  using namespace std::chrono;
  const auto now = system_clock::now();
  const auto seconds = time_point_cast<std::chrono::seconds>(now);
  const auto millis = duration_cast<milliseconds>(now - seconds).count();
  const std::time_t t = system_clock::to_time_t(seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[128];
  std::snprintf(text, sizeof(text), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return text;
}

// A handler that inserts one row per event into a SQLite table.
//   - config.database (required): the database file, resolved with Host::resolve_path.
//   - A subclass maps a payload to the row's values (throwing RejectError naming the field);
//     the base appends received_at as the insert's last parameter.
//   - The batch's valid rows are written in one BEGIN IMMEDIATE ... COMMIT. An invalid payload
//     (or a row violating a constraint) is rejected alone; its siblings still commit.
//   - When the database itself fails (cannot open, busy beyond the timeout, I/O error), the
//     batch's valid events get RETRY with SQLite's text, and the connection is reopened on the
//     next batch.
class SqliteSink : public sdk::BatchHandler {
 public:
  // create_table_sql: CREATE TABLE IF NOT EXISTS ...; insert_sql: an INSERT ... ON CONFLICT DO
  // NOTHING whose parameters are row()'s values followed by received_at. Throws on bad config.
  SqliteSink(const sdk::PluginConfig& config, sdk::Host& host, const char* create_table_sql,
             const char* insert_sql)
      : host_(host), create_table_sql_(create_table_sql), insert_sql_(insert_sql) {
    sdk::JsonObject options(config.json(), "config");
    const std::string database = options.required_string("database");
    if (database.empty()) throw std::runtime_error("config.database: must not be empty");
    path_ = host.resolve_path(database);
    if (host.check_only()) return;  // `switchyard check`: validate only, create no database
    try {
      open();
    } catch (const SqliteError& e) {
      // The file may become reachable later (a mount, a permission fix): retry per batch.
      host_.warn(std::string(e.what()) + " (events will be retried)");
    }
  }

  // Maps a payload to the row values bound before received_at. Throws RejectError.
  virtual SqlRow row(const sdk::JsonObject& payload) const = 0;

  // `switchyard check --connect`: a missing file must be creatable in its directory; an existing
  // one must be a writable SQLite database whose table, when it exists, takes this sink's
  // insert (columns, and a unique key for ON CONFLICT). Everything is tried inside a transaction
  // that is rolled back: the check creates and changes nothing.
  sdk::ProbeResult probe() override {
    struct stat st {};
    if (::stat(path_.c_str(), &st) != 0) {
      const size_t slash = path_.rfind('/');
      const std::string dir = slash == std::string::npos ? "." : path_.substr(0, slash + 1);
      if (::access(dir.c_str(), W_OK | X_OK) != 0)
        return sdk::ProbeResult::checked(
            {"sqlite " + path_ + ": does not exist and cannot be created in " + dir + " (" +
             std::strerror(errno) +
             "); create the directory and let the service's user write to it"});
      return sdk::ProbeResult::checked();
    }
    sqlite3* raw = nullptr;
    const int rc =
        sqlite3_open_v2(path_.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, &sqlite3_close_v2);
    auto problem = [&](const std::string& what) {
      return sdk::ProbeResult::checked(
          {"sqlite " + path_ + ": " + what + ": " +
           (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)) +
           "; make it a database this sink can write (or point config.database elsewhere)"});
    };
    if (rc != SQLITE_OK) return problem("cannot open it for writing");
    sqlite3_busy_timeout(db.get(), 5000);
    if (sqlite3_exec(db.get(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) != SQLITE_OK)
      return problem("cannot write to it");
    sdk::ProbeResult result = sdk::ProbeResult::checked();
    sqlite3_stmt* insert = nullptr;
    if (sqlite3_exec(db.get(), create_table_sql_, nullptr, nullptr, nullptr) != SQLITE_OK)
      result = problem("cannot create its table");
    else if (sqlite3_prepare_v2(db.get(), insert_sql_, -1, &insert, nullptr) != SQLITE_OK)
      result = problem("its table does not take this sink's rows");
    sqlite3_finalize(insert);
    sqlite3_exec(db.get(), "ROLLBACK", nullptr, nullptr, nullptr);
    return result;
  }

  void handle_batch(const std::vector<sdk::Event>& events,
                    std::vector<sdk::Result>& results) override {
    std::vector<size_t> indexes;  // events with a valid row, in order
    std::vector<SqlRow> rows;
    indexes.reserve(events.size());
    rows.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      try {
        sdk::JsonObject payload(events[i].payload_json(), "payload");
        rows.push_back(row(payload));
        indexes.push_back(i);
      } catch (const sdk::RetryError& e) {
        results[i] = sdk::Result::retry(e.what());
      } catch (const std::exception& e) {
        results[i] = sdk::Result::reject(e.what());
      }
    }
    if (rows.empty()) return;
    try {
      write(rows, indexes, results);
    } catch (const SqliteError& e) {
      insert_.reset();
      db_.reset();  // closing rolls back an open transaction; reopened on the next batch
      for (size_t i : indexes) {
        if (results[i].kind() == SY_OUTCOME_OK) results[i] = sdk::Result::retry(e.what());
      }
    }
  }

 private:
  void open() {
    auto db = std::make_unique<SqliteDb>(path_);
    db->exec(create_table_sql_);
    auto insert = std::make_unique<Statement>(*db, insert_sql_);
    db_ = std::move(db);
    insert_ = std::move(insert);
  }

  void write(const std::vector<SqlRow>& rows, const std::vector<size_t>& indexes,
             std::vector<sdk::Result>& results) {
    if (!db_) open();
    const std::string received_at = utc_now_iso8601();
    db_->exec("BEGIN IMMEDIATE");
    for (size_t k = 0; k < rows.size(); ++k) {
      int param = 1;
      for (const SqlValue& value : rows[k]) {
        if (const int64_t* i = std::get_if<int64_t>(&value)) {
          insert_->bind_int(param, *i);
        } else if (const std::string* s = std::get_if<std::string>(&value)) {
          insert_->bind_text(param, *s);
        } else {
          insert_->bind_null(param);
        }
        ++param;
      }
      insert_->bind_text(param, received_at);
      try {
        insert_->step();
      } catch (const SqliteError& e) {
        // A constraint failure undoes only this statement; the transaction goes on.
        if (!e.is_constraint()) throw;
        results[indexes[k]] = sdk::Result::reject(e.what());
      }
    }
    db_->exec("COMMIT");
  }

  sdk::Host& host_;
  const char* create_table_sql_;
  const char* insert_sql_;
  std::string path_;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<Statement> insert_;  // declared after db_: finalized before the close
};

}  // namespace switchyard::sinks

#endif  // SWITCHYARD_PLUGINS_COMMON_SQLITE_SINK_H_
