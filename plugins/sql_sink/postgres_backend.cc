// postgres_backend.cc: sql_sink's PostgreSQL backend (libpq): one prepared INSERT ... SELECT FROM
// unnest($1::type[], ...) per batch (one array parameter per column), ON CONFLICT (key) DO
// NOTHING when the batch holds a key already written.
#include <libpq-fe.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "backend.h"

namespace switchyard::sql {
namespace {

std::string quote_identifier(const std::string& name) {
  // Names are plain identifiers (checked by Mapping); quoting keeps their case.
  const size_t dot = name.find('.');
  if (dot != std::string::npos)
    return quote_identifier(name.substr(0, dot)) + "." + quote_identifier(name.substr(dot + 1));
  return "\"" + name + "\"";
}

const char* sql_type(ColumnType type) {
  switch (type) {
    case ColumnType::kSmallint:
      return "smallint";
    case ColumnType::kInt:
      return "integer";
    case ColumnType::kBigint:
      return "bigint";
    case ColumnType::kDouble:
      return "double precision";
    case ColumnType::kText:
      return "text";
    case ColumnType::kBoolean:
      return "boolean";
    case ColumnType::kTimestamptz:
      return "timestamptz";
    case ColumnType::kTimestamp:
      return "timestamp";
    case ColumnType::kDate:
      return "date";
    case ColumnType::kJson:
      return "json";
    case ColumnType::kJsonb:
      return "jsonb";
    case ColumnType::kUuid:
      return "uuid";
  }
  return "text";
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  for (size_t p; (p = s.find('\n')) != std::string::npos;) s[p] = ' ';
  return s;
}

class PostgresBackend : public Backend {
 public:
  PostgresBackend(const Mapping& mapping, const std::string& password)
      : mapping_(mapping), password_(password) {
    char* err = nullptr;
    PQconninfoOption* options = PQconninfoParse(mapping.url.c_str(), &err);
    if (!options) {
      std::string message = err ? trim(err) : "out of memory";
      PQfreemem(err);
      throw std::runtime_error("config.url: " + message);
    }
    bool inline_password = false;
    for (PQconninfoOption* o = options; o->keyword; ++o) {
      if (std::strcmp(o->keyword, "password") == 0 && o->val && *o->val) inline_password = true;
    }
    PQconninfoFree(options);
    if (inline_password)
      throw std::runtime_error(
          "config.url: the URL contains a password; put it in a file and set password_file: "
          "(or password_env:) instead");
    std::string columns;
    for (const Column& c : mapping.columns)
      columns += (columns.empty() ? "" : ", ") + quote_identifier(c.name);
    std::string key;
    for (const std::string& k : mapping.key) key += (key.empty() ? "" : ", ") + quote_identifier(k);
    // One statement for any number of rows: each column travels as one array (text format),
    // which PostgreSQL parses far faster than thousands of scalar parameters.
    std::string arrays;
    for (size_t i = 0; i < mapping.columns.size(); ++i)
      arrays += (i ? ", $" : "$") + std::to_string(i + 1) +
                "::" + sql_type(mapping.columns[i].type) + "[]";
    insert_sql_[kPlain] = "INSERT INTO " + quote_identifier(mapping.table) + " (" + columns +
                          ") SELECT * FROM unnest(" + arrays + ")";
    insert_sql_[kSkipExisting] = insert_sql_[kPlain] + " ON CONFLICT (" + key + ") DO NOTHING";
  }

  ~PostgresBackend() override { disconnect(); }

  void connect() override {
    disconnect();
    const char* keywords[] = {"dbname",           "password", "connect_timeout",
                              "application_name", "options",  nullptr};
    const char* values[] = {mapping_.url.c_str(),
                            password_.empty() ? nullptr : password_.c_str(),
                            "5",
                            "switchyard",
                            "-c TimeZone=UTC",
                            nullptr};
    if (password_.empty()) {  // keep libpq's own sources (PGPASSWORD, ~/.pgpass) in play
      keywords[1] = "connect_timeout";
      values[1] = "5";
    }
    conn_ = PQconnectdbParams(keywords, values, /*expand_dbname=*/1);
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      std::string message = conn_ ? trim(PQerrorMessage(conn_)) : "out of memory";
      disconnect();
      throw DbError("cannot connect to PostgreSQL for table " + mapping_.table + ": " + message,
                    false);
    }
  }

  bool connected() const override { return conn_ != nullptr; }

  void disconnect() override {
    if (conn_) PQfinish(conn_);
    conn_ = nullptr;
    prepared_[kPlain] = prepared_[kSkipExisting] = false;
  }

  void exec(const std::string& sql) override {
    PGresult* r = PQexec(conn_, sql.c_str());
    check(r, PGRES_COMMAND_OK, sql);
    PQclear(r);
  }

  void insert(const Row* const* rows, size_t n) override {
    fill_arrays(rows, n);
    PGresult* r = execute(kSkipExisting);
    check(r, PGRES_COMMAND_OK, "INSERT INTO " + mapping_.table);
    PQclear(r);
  }

  // One statement outside BEGIN is a transaction of its own: the server commits it before it
  // answers, so the whole batch costs one round trip instead of three (BEGIN, INSERT, COMMIT).
  // A plain INSERT first: ON CONFLICT's speculative insertion costs the server more per row,
  // and a batch rarely holds a key already written (a redelivery). Then a unique violation
  // runs the batch again with ON CONFLICT DO NOTHING.
  void insert_committed(const Row* const* rows, size_t n) override {
    fill_arrays(rows, n);
    PGresult* r = execute(kPlain);
    const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    if (PQresultStatus(r) != PGRES_COMMAND_OK && state && std::strcmp(state, "23505") == 0 &&
        PQstatus(conn_) == CONNECTION_OK) {
      PQclear(r);
      r = execute(kSkipExisting);
    }
    check(r, PGRES_COMMAND_OK, "INSERT INTO " + mapping_.table);
    PQclear(r);
  }

  std::map<std::string, std::string> describe_table() override {
    const size_t dot = mapping_.table.find('.');
    const std::string schema = dot == std::string::npos ? "" : mapping_.table.substr(0, dot);
    const std::string table =
        dot == std::string::npos ? mapping_.table : mapping_.table.substr(dot + 1);
    const char* params[] = {schema.empty() ? nullptr : schema.c_str(), table.c_str()};
    PGresult* r =
        PQexecParams(conn_,
                     "SELECT column_name, data_type FROM information_schema.columns "
                     "WHERE table_schema = coalesce($1, current_schema()) AND table_name = $2",
                     2, nullptr, params, nullptr, nullptr, 0);
    check(r, PGRES_TUPLES_OK, "describing table " + mapping_.table);
    std::map<std::string, std::string> out;
    for (int i = 0; i < PQntuples(r); ++i) out[PQgetvalue(r, i, 0)] = PQgetvalue(r, i, 1);
    PQclear(r);
    return out;
  }

  std::vector<std::vector<std::string>> unique_keys() override {
    const std::string table = quote_identifier(mapping_.table);
    const char* params[] = {table.c_str()};
    PGresult* r =
        PQexecParams(conn_,
                     "SELECT i.indexrelid, a.attname FROM pg_index i "
                     "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
                     "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                     "WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL "
                     "AND i.indexprs IS NULL ORDER BY i.indexrelid, k.n",
                     1, nullptr, params, nullptr, nullptr, 0);
    check(r, PGRES_TUPLES_OK, "listing the unique indexes of " + mapping_.table);
    std::vector<std::vector<std::string>> out;
    std::string index;
    for (int i = 0; i < PQntuples(r); ++i) {
      if (out.empty() || index != PQgetvalue(r, i, 0)) out.emplace_back();
      index = PQgetvalue(r, i, 0);
      out.back().push_back(PQgetvalue(r, i, 1));
    }
    PQclear(r);
    return out;
  }

  std::string create_table_sql() const override {
    std::string sql = "CREATE TABLE IF NOT EXISTS " + quote_identifier(mapping_.table) + " (";
    for (const Column& c : mapping_.columns)
      sql += quote_identifier(c.name) + " " + sql_type(c.type) + (c.optional ? "" : " NOT NULL") +
             ", ";
    std::string key;
    for (const std::string& k : mapping_.key)
      key += (key.empty() ? "" : ", ") + quote_identifier(k);
    return sql + "PRIMARY KEY (" + key + "))";
  }

 private:
  enum Statement { kPlain, kSkipExisting };

  // rows[0..n) as one text array literal per column, in arrays_.
  void fill_arrays(const Row* const* rows, size_t n) {
    const size_t width = mapping_.columns.size();
    arrays_.resize(width);
    for (size_t c = 0; c < width; ++c) {
      std::string& a = arrays_[c];
      a.assign("{");
      for (size_t i = 0; i < n; ++i) {
        if (i) a += ',';
        const std::optional<std::string>& v = (*rows[i])[c];
        if (!v) {
          a += "NULL";
          continue;
        }
        a += '"';
        for (char ch : *v) {
          if (ch == '"' || ch == '\\') a += '\\';
          a += ch;
        }
        a += '"';
      }
      a += '}';
    }
  }

  // Runs prepared statement `s` (preparing it on first use) with arrays_; the caller checks and
  // frees the result. Throws DbError when it cannot be prepared.
  PGresult* execute(Statement s) {
    const char* name = s == kPlain ? "sy_insert" : "sy_insert_skip";
    if (!prepared_[s]) {
      PGresult* r = PQprepare(conn_, name, insert_sql_[s].c_str(), 0, nullptr);
      check(r, PGRES_COMMAND_OK, "preparing INSERT INTO " + mapping_.table);
      PQclear(r);
      prepared_[s] = true;
    }
    values_.clear();
    for (const std::string& a : arrays_) values_.push_back(a.c_str());
    return PQexecPrepared(conn_, name, static_cast<int>(values_.size()), values_.data(), nullptr,
                          nullptr, 0);
  }

  // Throws DbError unless r has status `expected`; frees r when throwing.
  void check(PGresult* r, ExecStatusType expected, const std::string& what) {
    if (r && PQresultStatus(r) == expected) return;
    std::string message = trim(r ? PQresultErrorMessage(r) : PQerrorMessage(conn_));
    const char* state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    const char* column = r ? PQresultErrorField(r, PG_DIAG_COLUMN_NAME) : nullptr;
    const char* detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : nullptr;
    const bool data = state &&
                      (std::strncmp(state, "22", 2) == 0 || std::strncmp(state, "23", 2) == 0) &&
                      PQstatus(conn_) == CONNECTION_OK;
    std::string text = "PostgreSQL, table " + mapping_.table;
    if (column) text += ", column " + std::string(column);
    text += ": " + (message.empty() ? std::string("no result") : message);
    if (detail && message.find(detail) == std::string::npos)
      text += " (" + std::string(detail) + ")";
    if (state) text += " [SQLSTATE " + std::string(state) + "]";
    if (!data) text += " while " + what;
    if (r) PQclear(r);
    if (PQstatus(conn_) != CONNECTION_OK) disconnect();
    throw DbError(text, data);
  }

  const Mapping& mapping_;
  std::string password_;
  std::string insert_sql_[2];        // by Statement
  std::vector<std::string> arrays_;  // one array literal per column, reused across batches
  std::vector<const char*> values_;  // arrays_' texts, the statement's parameters
  PGconn* conn_ = nullptr;
  bool prepared_[2] = {false, false};  // by Statement, on this connection
};

}  // namespace

std::unique_ptr<Backend> make_postgres_backend(const Mapping& mapping,
                                               const std::string& password) {
  return std::make_unique<PostgresBackend>(mapping, password);
}

}  // namespace switchyard::sql
