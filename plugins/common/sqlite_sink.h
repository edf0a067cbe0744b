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

#include "common/payload_fields.h"
#include "common/sqlite_db.h"
#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace switchyard::sinks {

// One column value of a row: NULL, an integer or a text (a view into the batch's payloads).
using SqlValue = std::variant<std::monostate, int64_t, std::string_view>;

// NULL for nullopt, else the text.
inline SqlValue text_or_null(std::optional<std::string_view> text) {
  if (!text) return std::monostate{};
  return *text;
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

  // Appends the values of payload's row, bound before received_at, to values: all of them, or
  // none when it throws RejectError (naming the field).
  virtual void row(const PayloadFields& payload, std::vector<SqlValue>& values) const = 0;

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
    std::vector<size_t>& indexes = indexes_;  // events with a valid row, in order
    indexes.clear();
    row_starts_.clear();
    values_.clear();
    size_t bytes = 0;
    for (const sdk::Event& e : events) bytes += e.payload_json().size();
    payload_.clear(bytes, events.size());  // the rows' texts stay put until the batch is written
    for (size_t i = 0; i < events.size(); ++i) {
      try {
        payload_.parse(events[i].payload_json());
        const size_t start = values_.size();
        row(payload_, values_);
        row_starts_.push_back(start);
        indexes.push_back(i);
      } catch (const sdk::RetryError& e) {
        results[i] = sdk::Result::retry(e.what());
      } catch (const std::exception& e) {
        results[i] = sdk::Result::reject(e.what());
      }
    }
    if (indexes.empty()) return;
    row_starts_.push_back(values_.size());
    try {
      write(indexes, results);
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

  // Writes row k (values_ from row_starts_[k] to row_starts_[k + 1]) for each events[indexes[k]].
  void write(const std::vector<size_t>& indexes, std::vector<sdk::Result>& results) {
    if (!db_) open();
    const std::string received_at = utc_now_iso8601();
    db_->exec("BEGIN IMMEDIATE");
    for (size_t k = 0; k < indexes.size(); ++k) {
      int param = 1;
      for (size_t v = row_starts_[k]; v < row_starts_[k + 1]; ++v) {
        const SqlValue& value = values_[v];
        if (const int64_t* i = std::get_if<int64_t>(&value)) {
          insert_->bind_int(param, *i);
        } else if (const std::string_view* s = std::get_if<std::string_view>(&value)) {
          insert_->bind_text_static(param, *s);
        } else {
          insert_->bind_null(param);
        }
        ++param;
      }
      insert_->bind_text_static(param, received_at);
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
  // The batch being written; kept across batches for their buffers.
  PayloadFields payload_;
  std::vector<SqlValue> values_;    // the rows' values back to back
  std::vector<size_t> row_starts_;  // where each row starts in values_, then values_.size()
  std::vector<size_t> indexes_;     // the event of each row
};

}  // namespace switchyard::sinks

#endif  // SWITCHYARD_PLUGINS_COMMON_SQLITE_SINK_H_
