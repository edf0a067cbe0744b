// sql_sink.cc: the bundled sql_sink plugin: payloads mapped by routes.yaml alone (JSON pointer ->
// typed column) into a PostgreSQL or MariaDB/MySQL table, one transaction per batch, idempotent
// on the key, a bad row rejected alone, the database's failures retried.
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "backend.h"
#include "mapping.h"
#include "switchyard/handler.hpp"
#include "switchyard/version.h"

namespace switchyard::sql {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kFirstBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

// The database types (information_schema's data_type, lower case, either database) a column of
// each sql_sink type can be written into.
bool compatible(ColumnType type, const std::string& db_type) {
  static const std::set<std::string> integers = {"smallint",  "integer", "int",     "bigint",
                                                 "mediumint", "tinyint", "numeric", "decimal"};
  static const std::set<std::string> numbers = {"double precision", "double", "real", "float",
                                                "numeric",          "decimal"};
  static const std::set<std::string> texts = {
      "text",     "character varying", "varchar",  "character", "char",
      "tinytext", "mediumtext",        "longtext", "enum",      "citext"};
  static const std::set<std::string> timestamps = {
      "timestamp with time zone", "timestamp without time zone", "timestamp", "datetime"};
  static const std::set<std::string> jsons = {"json", "jsonb", "longtext", "text"};
  static const std::set<std::string> uuids = {
      "uuid", "char", "character", "varchar", "character varying", "text"};
  switch (type) {
    case ColumnType::kSmallint:
    case ColumnType::kInt:
    case ColumnType::kBigint:
      return integers.count(db_type) > 0;
    case ColumnType::kDouble:
      return numbers.count(db_type) > 0;
    case ColumnType::kText:
      return texts.count(db_type) > 0;
    case ColumnType::kBoolean:
      return db_type == "boolean" || db_type == "tinyint" || db_type == "bit";
    case ColumnType::kTimestamptz:
    case ColumnType::kTimestamp:
      return timestamps.count(db_type) > 0;
    case ColumnType::kDate:
      return db_type == "date";
    case ColumnType::kJson:
    case ColumnType::kJsonb:
      return jsons.count(db_type) > 0;
    case ColumnType::kUuid:
      return uuids.count(db_type) > 0;
  }
  return false;
}

// A table that does not match the mapping: the operator's to fix, named precisely.
struct SchemaError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class SqlSink : public sdk::BatchHandler {
 public:
  SqlSink(const sdk::PluginConfig& config, sdk::Host& host) : host_(host), mapping_(config.json()) {
    backend_ = make_backend(read_password(host.check_only()));
    if (host.check_only()) return;  // validate only: no connection (probe() may connect)
    try {
      connect();
    } catch (const DbError& e) {
      // The database may come up later: events are retried per batch until it does.
      host_.warn(std::string(e.what()) + " (events will be retried)");
    } catch (const SchemaError& e) {
      throw std::runtime_error(e.what());  // the mapping cannot work: refuse to start
    }
  }

  void handle_batch(const std::vector<sdk::Event>& events,
                    std::vector<sdk::Result>& results) override {
    rows_.clear();
    indexes_.clear();
    rows_.reserve(events.size());
    for (size_t i = 0; i < events.size(); ++i) {
      try {
        rows_.push_back(make_row(mapping_, events[i].payload_json()));
        indexes_.push_back(i);
      } catch (const std::exception& e) {
        results[i] = sdk::Result::reject(e.what());
      }
    }
    if (rows_.empty()) return;
    try {
      if (!backend_->connected()) connect_with_backoff();
      write(results);
    } catch (const std::exception& e) {  // DbError (not the rows' fault) or SchemaError
      backend_->disconnect();            // the server rolls the open transaction back
      for (size_t i : indexes_)
        if (results[i].kind() == SY_OUTCOME_OK) results[i] = sdk::Result::retry(e.what());
    }
  }

  // `switchyard check --connect`: connects with the configured credentials on a connection of
  // its own and lists every way the table does not fit the mapping; creates nothing.
  sdk::ProbeResult probe() override {
    std::unique_ptr<Backend> backend = make_backend(read_password(/*validate_only=*/false));
    try {
      backend->connect();
    } catch (const DbError& e) {
      return sdk::ProbeResult::checked(
          {std::string(e.what()) +
           "; check config.url (user, host, database), the password (config.password_file or "
           "config.password_env) and that the server lets this user connect"});
    }
    const std::map<std::string, std::string> table = backend->describe_table();
    if (table.empty() && mapping_.create_table) {
      host_.info("table " + mapping_.table + " does not exist yet; create_table: true creates it");
      return sdk::ProbeResult::checked();
    }
    return sdk::ProbeResult::checked(table_problems(table, backend->unique_keys()));
  }

 private:
  std::unique_ptr<Backend> make_backend(const std::string& password) const {
    return mapping_.dialect == Dialect::kPostgres ? make_postgres_backend(mapping_, password)
                                                  : make_mysql_backend(mapping_, password);
  }

  // Every way the table (its columns name -> type, its unique keys) does not fit the mapping,
  // one line each naming the table and column and saying what to do; empty when it fits.
  std::vector<std::string> table_problems(
      const std::map<std::string, std::string>& table,
      const std::vector<std::vector<std::string>>& unique_keys) const {
    if (table.empty())
      return {"table " + mapping_.table +
              " does not exist (or this user cannot see it); create it (see the README section "
              "\"Write to PostgreSQL / MySQL\"), grant access to it, or set create_table: true"};
    std::vector<std::string> problems;
    for (const Column& c : mapping_.columns) {
      auto it = table.find(c.name);
      if (it == table.end()) {
        problems.push_back("table " + mapping_.table + ", column " + c.name +
                           ": no such column; add it or remove it from config.columns");
      } else if (!compatible(c.type, it->second)) {
        problems.push_back("table " + mapping_.table + ", column " + c.name + ": has type " +
                           it->second + ", which cannot hold " + type_name(c.type) +
                           "; change the column or config.columns." + c.name + ".type");
      }
    }
    const std::set<std::string> key(mapping_.key.begin(), mapping_.key.end());
    bool unique = false;
    for (const std::vector<std::string>& k : unique_keys)
      unique = unique || std::set<std::string>(k.begin(), k.end()) == key;
    if (!unique) {
      std::string columns;
      for (const std::string& k : mapping_.key) columns += (columns.empty() ? "" : ", ") + k;
      problems.push_back("table " + mapping_.table + ", key (" + columns +
                         "): no primary key or unique index on exactly these columns, so a "
                         "redelivered message would not be recognised; add one (ALTER TABLE " +
                         mapping_.table + " ADD PRIMARY KEY (" + columns +
                         ")) or change config.key");
    }
    return problems;
  }

  // The password from config.password_env or config.password_file ("" when neither is set).
  // validate_only checks the file's permissions without reading it.
  std::string read_password(bool validate_only) const {
    if (!mapping_.password_env.empty()) {
      const char* value = std::getenv(mapping_.password_env.c_str());
      if (!value)
        throw std::runtime_error("config.password_env: the environment variable " +
                                 mapping_.password_env +
                                 " is not set; set it in the service's "
                                 "environment (systemd: EnvironmentFile=)");
      return value;
    }
    if (mapping_.password_file.empty()) return "";
    const std::string path = host_.resolve_path(mapping_.password_file);
    struct stat st {};
    if (stat(path.c_str(), &st) != 0)
      throw std::runtime_error("config.password_file " + path +
                               ": does not exist or cannot be read");
    if (st.st_mode & S_IROTH)
      throw std::runtime_error("config.password_file " + path +
                               " is readable by other users; run: chmod o-rwx " + path);
    if (validate_only) return "";
    std::ifstream in(path);
    std::string password;
    if (!in || !std::getline(in, password))
      throw std::runtime_error("config.password_file " + path + ": cannot read it");
    while (!password.empty() && (password.back() == '\r' || password.back() == ' '))
      password.pop_back();
    return password;
  }

  // Connects, creates the table when asked, and checks the table against the mapping.
  void connect() {
    backend_->connect();
    if (mapping_.create_table) backend_->exec(backend_->create_table_sql());
    const std::map<std::string, std::string> table = backend_->describe_table();
    const std::vector<std::string> problems = table_problems(
        table, table.empty() ? std::vector<std::vector<std::string>>{} : backend_->unique_keys());
    if (!problems.empty()) {
      backend_->disconnect();
      std::string text;
      for (const std::string& p : problems) text += (text.empty() ? "" : "; ") + p;
      throw SchemaError(text);
    }
    backoff_ = kFirstBackoff;
    if (failing_) host_.info("connected to the database for table " + mapping_.table + " again");
    failing_ = false;
  }

  // connect(), but at most once per backoff period while the database keeps failing: the
  // events of the batches in between are retried at once with the last error.
  void connect_with_backoff() {
    const auto now = Clock::now();
    if (failing_ && now < next_attempt_) {
      const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_attempt_ - now);
      throw DbError(last_error_ + " (reconnecting in " + std::to_string(wait.count()) + " ms)",
                    false);
    }
    try {
      connect();
    } catch (const std::exception& e) {
      if (!failing_) host_.warn(std::string(e.what()) + " (events will be retried)");
      failing_ = true;
      last_error_ = e.what();
      next_attempt_ = now + backoff_;
      backoff_ = std::min<Clock::duration>(backoff_ * 2, kMaxBackoff);
      throw;
    }
  }

  // All valid rows in one transaction. When the database refuses some row (a data error or a
  // constraint other than the key), the batch runs again in a transaction where it is split in
  // halves inside savepoints until the refused rows are found: they are rejected, every other
  // row commits. The split costs round trips only after such a refusal.
  void write(std::vector<sdk::Result>& results) {
    pointers_.clear();
    for (const Row& r : rows_) pointers_.push_back(&r);
    std::string refused;
    try {
      backend_->insert_committed(pointers_.data(), pointers_.size());
      return;
    } catch (const DbError& e) {
      if (!e.data()) throw;
      refused = e.what();
    }
    backend_->exec("BEGIN");
    isolate(0, pointers_.size(), refused, results);
    backend_->exec("COMMIT");
  }

  // [lo, hi) holds at least one row the database refuses with `error`.
  void isolate(size_t lo, size_t hi, const std::string& error, std::vector<sdk::Result>& results) {
    if (hi - lo == 1) {
      results[indexes_[lo]] = sdk::Result::reject(error);
      return;
    }
    const size_t mid = lo + (hi - lo) / 2;
    try_range(lo, mid, results);
    try_range(mid, hi, results);
  }

  void try_range(size_t lo, size_t hi, std::vector<sdk::Result>& results) {
    backend_->exec("SAVEPOINT sy_rows");
    try {
      backend_->insert(pointers_.data() + lo, hi - lo);
    } catch (const DbError& e) {
      if (!e.data()) throw;
      backend_->exec("ROLLBACK TO SAVEPOINT sy_rows");
      backend_->exec("RELEASE SAVEPOINT sy_rows");
      isolate(lo, hi, e.what(), results);
      return;
    }
    backend_->exec("RELEASE SAVEPOINT sy_rows");
  }

  sdk::Host& host_;
  const Mapping mapping_;
  std::unique_ptr<Backend> backend_;
  bool failing_ = false;
  std::string last_error_;
  Clock::time_point next_attempt_{};
  Clock::duration backoff_ = kFirstBackoff;
  std::vector<Row> rows_;        // this batch's valid rows...
  std::vector<size_t> indexes_;  // ...and the events they came from
  std::vector<const Row*> pointers_;
};

}  // namespace
}  // namespace switchyard::sql

SWITCHYARD_PLUGIN(switchyard::sql::SqlSink, "sql_sink", SWITCHYARD_VERSION_STRING, "url",
                  "password_file", "password_env", "table", "key", "columns", "create_table")
