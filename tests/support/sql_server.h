// sql_server.h: a real PostgreSQL or MariaDB server private to one test, in its own TempDir,
// listening on a unix socket only, plus a tiny client for assertions (test kit, no GTest).
#ifndef SWITCHYARD_TESTS_SUPPORT_SQL_SERVER_H_
#define SWITCHYARD_TESTS_SUPPORT_SQL_SERVER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/temp_dir.h"

namespace switchyard::test {

// One database server process (postgres from Debian's postgresql package, or mariadbd).
// The data directory is a copy of one initialised once per test process (initdb and
// mariadb-install-db take seconds), so each server starts empty in well under a second or two.
// As root, postgres runs as the `postgres` user (setpriv, which execs: signals reach the server,
// and it still dies with the test process).
// Ownership: owns the process and the directory; the destructor SIGKILLs and reaps the server,
// then removes the directory. Not copyable or movable.
// Thread safety: not thread-safe; drive it from the test's main thread.
// Errors: start()/restart() throw std::runtime_error with the log's tail; exec()/query_*() throw
// std::runtime_error with the database's message and the SQL.
class SqlServer {
 public:
  virtual ~SqlServer() = default;
  // "postgres" or "mariadb".
  virtual std::string kind() const = 0;
  // Starts the server and waits (bounded: 60 s) until it accepts a connection.
  virtual void start() = 0;
  // Graceful stop (PostgreSQL: fast shutdown; MariaDB: SIGTERM), bounded: after 30 s kills the
  // server and throws std::runtime_error with the log's tail. No-op if stopped.
  virtual void stop() = 0;
  // SIGKILL and reap.
  virtual void kill9() = 0;
  // stop() then start() on the same directory and socket.
  void restart() {
    stop();
    start();
  }
  virtual bool is_running() = 0;
  // The URL sql_sink is configured with (superuser, unix socket, database "analytics").
  virtual std::string url() const = 0;
  // Runs statements as the superuser in database "analytics".
  virtual void exec(const std::string& sql) = 0;
  // Column 0 of the first row of sql's result as text ("NULL" for NULL); throws when no row.
  virtual std::string query_text(const std::string& sql) = 0;
  // query_text as an integer.
  int64_t query_int(const std::string& sql) { return std::stoll(query_text(sql)); }
  // SELECT count(*) FROM table.
  int64_t count_rows(const std::string& table) {
    return query_int("SELECT count(*) FROM " + table);
  }
  // The last lines of the server's log, for failure messages.
  virtual std::string log_tail(std::size_t lines) const = 0;
};

// A new, not yet started server of the given kind ("postgres" or "mariadb"). Tests run it
// without durability (PostgreSQL fsync=off, MariaDB flushes the log once a second);
// `extra_args` are appended to the server's command line and override that, e.g.
// {"-c", "fsync=on"} or {"--innodb-flush-log-at-trx-commit=1"}.
// Throws std::invalid_argument for another kind.
std::unique_ptr<SqlServer> make_sql_server(const std::string& kind,
                                           const std::vector<std::string>& extra_args = {});

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_SQL_SERVER_H_
