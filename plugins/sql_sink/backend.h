// backend.h: what sql_sink needs from one database (PostgreSQL through libpq, MariaDB/MySQL
// through MariaDB Connector/C): connect, run a statement, insert rows idempotently, describe a
// table. The batch logic (transactions, finding a bad row, retries) lives once, in sql_sink.cc.
// Thread safety: a Backend is used by one thread at a time (the plugin ABI's promise).
#ifndef SWITCHYARD_PLUGINS_SQL_SINK_BACKEND_H_
#define SWITCHYARD_PLUGINS_SQL_SINK_BACKEND_H_

#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "mapping.h"

namespace switchyard::sql {

// A failed database call. data() is true when the rows are at fault (SQLSTATE class 22 "data
// exception" or 23 "integrity constraint violation": the producer's bug, rejected per row);
// false for everything else (connection lost, deadlock, serialization failure, too many
// connections, a missing table...: retried). what() is the database's own text, prefixed with
// the table.
class DbError : public std::runtime_error {
 public:
  DbError(const std::string& message, bool data) : std::runtime_error(message), data_(data) {}
  bool data() const { return data_; }

 private:
  bool data_;
};

class Backend {
 public:
  virtual ~Backend() = default;
  // Opens the connection and sets the session up (UTC, strict mode). Throws DbError.
  virtual void connect() = 0;
  virtual bool connected() const = 0;
  // Closes the connection (an open transaction is rolled back by the server). Never throws.
  virtual void disconnect() = 0;
  // Runs one statement without a result (BEGIN, COMMIT, SAVEPOINT, CREATE TABLE). Throws DbError.
  virtual void exec(const std::string& sql) = 0;
  // Inserts rows[0..n) into the mapping's table, skipping rows whose key already exists, in as
  // few multi-row statements as the protocol allows. Throws DbError.
  virtual void insert(const Row* const* rows, size_t n) = 0;
  // insert(), as one transaction of its own, committed (durable) when it returns: the fast path
  // of a whole batch, in as few round trips as the protocol allows. Call it outside BEGIN. On a
  // DbError nothing of it is committed and no transaction is left open. Throws DbError.
  virtual void insert_committed(const Row* const* rows, size_t n) = 0;
  // The mapping's table's columns: name -> lower-case data type (information_schema); empty
  // when the table does not exist. Throws DbError.
  virtual std::map<std::string, std::string> describe_table() = 0;
  // The column lists of the mapping's table's primary key and unique indexes (those an
  // idempotent insert can rely on: not partial, not on expressions); empty when there is none
  // or no table. Throws DbError.
  virtual std::vector<std::vector<std::string>> unique_keys() = 0;
  // CREATE TABLE IF NOT EXISTS for the mapping, with the key as the primary key.
  virtual std::string create_table_sql() const = 0;
};

// The backends. password may be empty (no password, or one from the URL's own mechanisms).
// Nothing connects before connect(). Throw std::runtime_error on a malformed URL.
std::unique_ptr<Backend> make_postgres_backend(const Mapping& mapping, const std::string& password);
std::unique_ptr<Backend> make_mysql_backend(const Mapping& mapping, const std::string& password);

}  // namespace switchyard::sql

#endif  // SWITCHYARD_PLUGINS_SQL_SINK_BACKEND_H_
