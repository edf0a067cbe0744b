// mysql_backend.cc: sql_sink's MariaDB/MySQL backend (MariaDB Connector/C): multi-row INSERT ...
// ON DUPLICATE KEY UPDATE (a no-op on the key) with values escaped by the connection's charset.
#include <errmsg.h>
#include <mysql.h>
#include <mysqld_error.h>

#include <cctype>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

#include "backend.h"

namespace switchyard::sql {
namespace {

constexpr size_t kMaxRowsPerStatement = 1024;
constexpr size_t kMaxStatementBytes = 4 << 20;  // well under max_allowed_packet's 16 MiB default

std::string quote_identifier(const std::string& name) {
  const size_t dot = name.find('.');
  if (dot != std::string::npos)
    return quote_identifier(name.substr(0, dot)) + "." + quote_identifier(name.substr(dot + 1));
  return "`" + name + "`";
}

const char* sql_type(const Column& c, bool key) {
  switch (c.type) {
    case ColumnType::kSmallint:
      return "SMALLINT";
    case ColumnType::kInt:
      return "INT";
    case ColumnType::kBigint:
      return "BIGINT";
    case ColumnType::kDouble:
      return "DOUBLE";
    case ColumnType::kText:
      return key ? "VARCHAR(255)" : "TEXT";
    case ColumnType::kBoolean:
      return "BOOLEAN";
    case ColumnType::kTimestamptz:
      return "DATETIME(6)";  // UTC: the session's time zone
    case ColumnType::kTimestamp:
      return "DATETIME(6)";
    case ColumnType::kDate:
      return "DATE";
    case ColumnType::kJson:
    case ColumnType::kJsonb:
      return "JSON";
    case ColumnType::kUuid:
      return "CHAR(36)";
  }
  return "TEXT";
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::strtol(s.substr(i + 1, 2).c_str(), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// Errors that are the rows' fault although their SQLSTATE is the generic HY000/01000.
bool is_data_errno(unsigned code) {
  switch (code) {
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:  // 1366 incorrect integer value
    case ER_WARN_DATA_OUT_OF_RANGE:           // 1264
    case WARN_DATA_TRUNCATED:                 // 1265
    case ER_TRUNCATED_WRONG_VALUE:            // 1292 incorrect datetime
    case ER_DATA_TOO_LONG:                    // 1406
    case ER_BAD_NULL_ERROR:                   // 1048
    case ER_DATA_OUT_OF_RANGE:                // 1690
    case ER_CONSTRAINT_FAILED:                // 4025 CHECK constraint
      return true;
    default:
      return false;
  }
}

class MysqlBackend : public Backend {
 public:
  MysqlBackend(const Mapping& mapping, const std::string& password)
      : mapping_(mapping), password_(password) {
    parse_url(mapping.url);
    std::string columns;
    for (const Column& c : mapping.columns)
      columns += (columns.empty() ? "" : ", ") + quote_identifier(c.name);
    insert_head_ = "INSERT INTO " + quote_identifier(mapping.table) + " (" + columns + ") VALUES ";
    const std::string k = quote_identifier(mapping.key.front());
    insert_tail_ = " ON DUPLICATE KEY UPDATE " + k + " = " + k;
  }

  ~MysqlBackend() override { disconnect(); }

  void connect() override {
    disconnect();
    static std::once_flag library_once;
    std::call_once(library_once, [] { mysql_library_init(0, nullptr, nullptr); });
    conn_ = mysql_init(nullptr);
    if (!conn_) throw DbError("MariaDB, table " + mapping_.table + ": out of memory", false);
    const unsigned connect_timeout = 5, io_timeout = 30;
    mysql_options(conn_, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(conn_, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(conn_, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(conn_, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(conn_, host_.empty() ? nullptr : host_.c_str(),
                            user_.empty() ? nullptr : user_.c_str(),
                            password_.empty() ? nullptr : password_.c_str(),
                            database_.empty() ? nullptr : database_.c_str(), port_,
                            socket_.empty() ? nullptr : socket_.c_str(), 0)) {
      std::string message =
          std::string(mysql_error(conn_)) + " [" + std::to_string(mysql_errno(conn_)) + "]";
      disconnect();
      throw DbError("cannot connect to MariaDB/MySQL for table " + mapping_.table + ": " + message,
                    false);
    }
    exec(
        "SET autocommit = 1, time_zone = '+00:00', sql_mode = "
        "'STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,"
        "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION'");
  }

  bool connected() const override { return conn_ != nullptr; }

  void disconnect() override {
    if (conn_) mysql_close(conn_);
    conn_ = nullptr;
  }

  void exec(const std::string& sql) override {
    if (!conn_ || mysql_real_query(conn_, sql.data(), sql.size()) != 0) fail(sql);
    // Statements run here return no rows; drain anything unexpected so the connection stays usable.
    if (MYSQL_RES* res = mysql_store_result(conn_)) mysql_free_result(res);
  }

  void insert(const Row* const* rows, size_t n) override {
    for (size_t i = 0; i < n;) exec(next_statement(rows, n, &i));
  }

  // A batch that fits one statement runs alone under autocommit (one round trip: the server
  // commits before it answers); a larger one runs its statements between BEGIN and COMMIT.
  void insert_committed(const Row* const* rows, size_t n) override {
    size_t i = 0;
    std::string first = next_statement(rows, n, &i);
    if (i == n) {
      exec(first);
      return;
    }
    exec("BEGIN");
    try {
      exec(first);
      while (i < n) exec(next_statement(rows, n, &i));
    } catch (const DbError& e) {
      if (e.data()) exec("ROLLBACK");  // other errors closed the connection, which rolls back
      throw;
    }
    exec("COMMIT");
  }

  // The information_schema condition naming the mapped table: "schema.table", or "table" in the
  // connection's database. Both names are plain identifiers (checked by Mapping), safe in quotes.
  std::string this_table_condition() const {
    const size_t dot = mapping_.table.find('.');
    const std::string schema =
        dot == std::string::npos ? "DATABASE()" : "'" + mapping_.table.substr(0, dot) + "'";
    const std::string table =
        dot == std::string::npos ? mapping_.table : mapping_.table.substr(dot + 1);
    return "TABLE_SCHEMA = " + schema + " AND TABLE_NAME = '" + table + "'";
  }

  std::map<std::string, std::string> describe_table() override {
    const std::string sql = "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS WHERE " +
                            this_table_condition();
    if (!conn_ || mysql_real_query(conn_, sql.data(), sql.size()) != 0)
      fail("describing table " + mapping_.table);
    MYSQL_RES* res = mysql_store_result(conn_);
    if (!res) fail("describing table " + mapping_.table);
    std::map<std::string, std::string> out;
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      std::string type = row[1] ? row[1] : "";
      for (char& ch : type) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      out[row[0] ? row[0] : ""] = type;
    }
    mysql_free_result(res);
    return out;
  }

  std::vector<std::vector<std::string>> unique_keys() override {
    // MariaDB has no partial indexes; SUB_PART is set for a prefix index, which is unique on the
    // prefix only.
    const std::string sql =
        "SELECT INDEX_NAME, COLUMN_NAME FROM information_schema.STATISTICS WHERE " +
        this_table_condition() +
        " AND NON_UNIQUE = 0 AND COLUMN_NAME IS NOT NULL AND SUB_PART IS NULL "
        "ORDER BY INDEX_NAME, SEQ_IN_INDEX";
    if (!conn_ || mysql_real_query(conn_, sql.data(), sql.size()) != 0)
      fail("listing the unique indexes of " + mapping_.table);
    MYSQL_RES* res = mysql_store_result(conn_);
    if (!res) fail("listing the unique indexes of " + mapping_.table);
    std::vector<std::vector<std::string>> out;
    std::string index;
    while (MYSQL_ROW row = mysql_fetch_row(res)) {
      const std::string name = row[0] ? row[0] : "";
      if (out.empty() || index != name) out.emplace_back();
      index = name;
      out.back().push_back(row[1] ? row[1] : "");
    }
    mysql_free_result(res);
    return out;
  }

  std::string create_table_sql() const override {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_identifier(mapping_.table) + " (";
    for (size_t i = 0; i < mapping_.columns.size(); ++i) {
      const Column& c = mapping_.columns[i];
      sql += quote_identifier(c.name) + " " + sql_type(c, mapping_.is_key[i]) +
             (c.optional ? " NULL" : " NOT NULL") + ", ";
    }
    std::string key;
    for (const std::string& k : mapping_.key)
      key += (key.empty() ? "" : ", ") + quote_identifier(k);
    return sql + "PRIMARY KEY (" + key + ")) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
  }

 private:
  // mysql://[USER@]HOST[:PORT]/DATABASE[?socket=/path/to/mysqld.sock]
  void parse_url(const std::string& url) {
    std::string rest = url.substr(url.find("://") + 3);
    auto bad = [&](const std::string& what) {
      throw std::runtime_error("config.url: \"" + url + "\": " + what +
                               "; write mysql://USER@HOST[:PORT]/DATABASE[?socket=PATH]");
    };
    const size_t q = rest.find('?');
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      rest.resize(q);
      size_t start = 0;
      while (start <= query.size()) {
        size_t end = query.find('&', start);
        if (end == std::string::npos) end = query.size();
        const std::string param = query.substr(start, end - start);
        if (param.rfind("socket=", 0) == 0) {
          socket_ = percent_decode(param.substr(7));
        } else if (!param.empty()) {
          bad("unknown parameter \"" + param + "\" (only socket= is understood)");
        }
        start = end + 1;
      }
    }
    const size_t slash = rest.find('/');
    if (slash != std::string::npos) {
      database_ = percent_decode(rest.substr(slash + 1));
      rest.resize(slash);
    }
    if (database_.empty()) bad("no database name");
    const size_t at = rest.rfind('@');
    if (at != std::string::npos) {
      user_ = percent_decode(rest.substr(0, at));
      rest = rest.substr(at + 1);
      if (user_.find(':') != std::string::npos)
        throw std::runtime_error(
            "config.url: the URL contains a password; put it in a file and set password_file: "
            "(or password_env:) instead");
    }
    const size_t colon = rest.rfind(':');
    if (colon != std::string::npos && rest.find(']') == std::string::npos) {
      const std::string port = rest.substr(colon + 1);
      char* end = nullptr;
      const long p = std::strtol(port.c_str(), &end, 10);
      if (port.empty() || *end || p <= 0 || p > 65535)
        bad("the port is not a number from 1 to 65535");
      port_ = static_cast<unsigned>(p);
      rest.resize(colon);
    }
    host_ = rest;
    if (host_.empty()) host_ = "localhost";
  }

  // The multi-row INSERT of rows[*i..n) that fits kMaxRowsPerStatement and kMaxStatementBytes;
  // advances *i past them.
  std::string next_statement(const Row* const* rows, size_t n, size_t* i) {
    std::string sql = insert_head_;
    size_t in_statement = 0;
    while (*i < n && in_statement < kMaxRowsPerStatement &&
           (in_statement == 0 || sql.size() < kMaxStatementBytes)) {
      sql += in_statement ? ",(" : "(";
      bool first = true;
      for (const std::optional<std::string>& v : *rows[*i]) {
        if (!first) sql += ',';
        first = false;
        if (!v) {
          sql += "NULL";
          continue;
        }
        escaped_.resize(v->size() * 2 + 1);
        const unsigned long len =
            mysql_real_escape_string(conn_, escaped_.data(), v->data(), v->size());
        sql += '\'';
        sql.append(escaped_.data(), len);
        sql += '\'';
      }
      sql += ')';
      ++*i;
      ++in_statement;
    }
    return sql + insert_tail_;
  }

  [[noreturn]] void fail(const std::string& what) {
    const unsigned code = conn_ ? mysql_errno(conn_) : CR_SERVER_LOST;
    const std::string state = conn_ ? mysql_sqlstate(conn_) : "HY000";
    const std::string message = conn_ ? mysql_error(conn_) : "not connected";
    const bool data = state.rfind("22", 0) == 0 || state.rfind("23", 0) == 0 || is_data_errno(code);
    std::string text = "MariaDB/MySQL, table " + mapping_.table + ": " + message + " [error " +
                       std::to_string(code) + ", SQLSTATE " + state + "]";
    if (!data) {
      text += " while " + (what.size() > 60 ? what.substr(0, 60) + "..." : what);
      disconnect();  // lost, killed, deadlocked or refused: start again on a fresh connection
    }
    throw DbError(text, data);
  }

  const Mapping& mapping_;
  std::string password_;
  std::string host_, user_, database_, socket_;
  unsigned port_ = 0;
  std::string insert_head_, insert_tail_;
  std::string escaped_;  // one value escaped, reused
  MYSQL* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<Backend> make_mysql_backend(const Mapping& mapping, const std::string& password) {
  return std::make_unique<MysqlBackend>(mapping, password);
}

}  // namespace switchyard::sql
