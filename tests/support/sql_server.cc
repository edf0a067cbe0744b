// sql_server.cc: starts private postgres / mariadbd processes from a once-initialised template.
#include "support/sql_server.h"

#include <errmsg.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <pwd.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace switchyard::test {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kStartTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);

bool is_root() { return ::geteuid() == 0; }

void run_or_throw(const std::vector<std::string>& argv, const std::string& what) {
  CommandResult r = run_command(argv, std::chrono::seconds(180));
  if (r.exit_code != 0) {
    std::ostringstream os;
    os << r;
    throw std::runtime_error(what + " failed: " + os.str());
  }
}

// Polls ready() until it holds, the process exits, or the start timeout passes.
void wait_ready(ChildProcess& process, const std::function<bool()>& ready, const std::string& name,
                const std::function<std::string()>& log) {
  const auto deadline = Clock::now() + kStartTimeout;
  auto interval = std::chrono::milliseconds(5);
  for (;;) {
    if (ready()) return;
    if (!process.is_running())
      throw std::runtime_error(name + " exited with status " +
                               std::to_string(process.exit_status().value_or(-1)) +
                               " during startup\n" + log());
    if (Clock::now() >= deadline) {
      process.kill9();
      throw std::runtime_error(name + " did not accept connections within 60 s\n" + log());
    }
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 2, std::chrono::milliseconds(50));
  }
}

void stop_process(ChildProcess& process, int sig, const std::string& name, const std::string& log) {
  if (!process.is_running()) return;
  process.signal(sig);
  if (!process.wait_exit(kStopTimeout)) {
    const std::string message = name + " (pid " + std::to_string(process.pid()) +
                                ") did not stop within 30 s; killed it\n" + log;
    process.kill9();
    throw std::runtime_error(message);
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

std::string postgres_bindir() {
  namespace fs = std::filesystem;
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/usr/lib/postgresql", ec))
    if (fs::exists(e.path() / "bin" / "postgres")) found.push_back(e.path() / "bin");
  if (found.empty())
    throw std::runtime_error("no /usr/lib/postgresql/*/bin/postgres: run scripts/install-deps");
  std::sort(found.begin(), found.end());
  return found.back().string();
}

// Runs as the postgres user when we are root (postgres refuses root). setpriv execs, so the
// server is our direct child and signals reach it.
std::vector<std::string> as_postgres(std::vector<std::string> argv) {
  if (!is_root()) return argv;
  // Changing the uid clears the parent-death signal ChildProcess set: set it again.
  std::vector<std::string> out = {
      "setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--pdeathsig", "SIGKILL",
      "--"};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

void chown_postgres(const std::string& path) {
  if (is_root()) run_or_throw({"chown", "-R", "postgres:postgres", path}, "chown " + path);
}

class PostgresServer : public SqlServer {
 public:
  explicit PostgresServer(std::vector<std::string> extra_args)
      : extra_args_(std::move(extra_args)) {
    run_or_throw({"cp", "-a", template_dir(), dir_.file("data")},
                 "copying the PostgreSQL template");
    chown_postgres(dir_.path());
  }
  ~PostgresServer() override { kill9(); }

  std::string kind() const override { return "postgres"; }

  void start() override {
    if (process_.is_running()) throw std::logic_error("PostgresServer::start: already running");
    ::unlink((dir_.path() + "/.s.PGSQL.5432").c_str());
    ::unlink(dir_.file("data/postmaster.pid").c_str());
    std::vector<std::string> argv = {postgres_bindir() + "/postgres",
                                     "-D",
                                     dir_.file("data"),
                                     "-k",
                                     dir_.path(),
                                     "-p",
                                     "5432",
                                     "-c",
                                     "listen_addresses=",
                                     "-c",
                                     "fsync=off",
                                     "-c",
                                     "full_page_writes=off",
                                     "-c",
                                     "max_connections=60",
                                     "-c",
                                     "logging_collector=off"};
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_.spawn(as_postgres(argv), {}, log_path());
    const std::string conninfo = admin_conninfo("postgres");
    wait_ready(
        process_, [&] { return PQping(conninfo.c_str()) == PQPING_OK; }, "postgres",
        [&] { return log_tail(40); });
  }

  void stop() override { stop_process(process_, SIGINT, "postgres", log_tail(40)); }
  void kill9() override {
    if (process_.is_running()) process_.kill9();
  }
  bool is_running() override { return process_.is_running(); }

  std::string url() const override {
    return "postgresql://postgres@/analytics?host=" + dir_.path() + "&port=5432";
  }

  void exec(const std::string& sql) override { run(sql, false); }
  std::string query_text(const std::string& sql) override { return run(sql, true); }

  std::string log_tail(std::size_t lines) const override {
    return "--- " + log_path() + " ---\n" + tail_file(log_path(), lines);
  }

 private:
  // A data directory initialised once per test process, with database "analytics".
  static std::string template_dir() {
    static std::unique_ptr<TempDir> dir;
    if (dir) return dir->file("data");
    auto made = std::make_unique<TempDir>();
    chown_postgres(made->path());
    run_or_throw(as_postgres({postgres_bindir() + "/initdb", "-D", made->file("data"), "-U",
                              "postgres", "-A", "trust", "-E", "UTF8", "--no-locale", "-N"}),
                 "initdb");
    CommandResult r = run_command(as_postgres({postgres_bindir() + "/postgres", "--single", "-D",
                                               made->file("data"), "postgres"}),
                                  std::chrono::seconds(120), {}, "CREATE DATABASE analytics;\n");
    if (r.exit_code != 0) {
      std::ostringstream os;
      os << r;
      throw std::runtime_error("CREATE DATABASE analytics failed: " + os.str());
    }
    dir = std::move(made);
    return dir->file("data");
  }

  std::string admin_conninfo(const std::string& db) const {
    return "host=" + dir_.path() + " port=5432 user=postgres connect_timeout=10 dbname=" + db;
  }
  std::string log_path() const { return dir_.file("postgres.log"); }

  std::string run(const std::string& sql, bool want_row) {
    PGconn* c = PQconnectdb(admin_conninfo("analytics").c_str());
    if (PQstatus(c) != CONNECTION_OK) {
      std::string message = PQerrorMessage(c);
      PQfinish(c);
      throw std::runtime_error("cannot connect to the test PostgreSQL: " + message);
    }
    PGresult* r = PQexec(c, sql.c_str());
    const ExecStatusType status = PQresultStatus(r);
    std::string out;
    std::string error;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
      error = PQresultErrorMessage(r);
    } else if (want_row) {
      if (PQntuples(r) < 1 || PQnfields(r) < 1)
        error = "no row";
      else
        out = PQgetisnull(r, 0, 0) ? "NULL" : PQgetvalue(r, 0, 0);
    }
    PQclear(r);
    PQfinish(c);
    if (!error.empty()) throw std::runtime_error("PostgreSQL: " + sql + ": " + error);
    return out;
  }

  std::vector<std::string> extra_args_;
  TempDir dir_;
  ChildProcess process_;
};

// ---------------------------------------------------------------------------------------------
// MariaDB

std::vector<std::string> mariadb_user_args() {
  if (is_root()) return {"--user=root"};
  return {};
}

class MariaDbServer : public SqlServer {
 public:
  explicit MariaDbServer(std::vector<std::string> extra_args) : extra_args_(std::move(extra_args)) {
    run_or_throw({"cp", "-a", template_dir(), dir_.file("data")}, "copying the MariaDB template");
    std::filesystem::create_directories(dir_.file("tmp"));
    if (socket_path().size() >= sizeof(sockaddr_un{}.sun_path))
      throw std::runtime_error("unix socket path too long (set TMPDIR shorter): " + socket_path());
  }
  ~MariaDbServer() override { kill9(); }

  std::string kind() const override { return "mariadb"; }

  void start() override {
    if (process_.is_running()) throw std::logic_error("MariaDbServer::start: already running");
    ::unlink(socket_path().c_str());
    std::vector<std::string> argv = {"mariadbd",
                                     "--no-defaults",
                                     "--datadir=" + dir_.file("data"),
                                     "--socket=" + socket_path(),
                                     "--tmpdir=" + dir_.file("tmp"),
                                     "--skip-networking",
                                     "--pid-file=" + dir_.file("mariadbd.pid"),
                                     "--log-error=" + log_path(),
                                     "--skip-log-bin",
                                     "--innodb-buffer-pool-size=64M",
                                     "--innodb-flush-log-at-trx-commit=2",
                                     "--max-connections=100"};
    for (const std::string& a : mariadb_user_args()) argv.push_back(a);
    argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
    process_.spawn(argv, {}, dir_.file("mariadbd.out"));
    wait_ready(
        process_, [&] { return ping(); }, "mariadbd", [&] { return log_tail(40); });
    exec("CREATE DATABASE IF NOT EXISTS analytics");
  }

  void stop() override { stop_process(process_, SIGTERM, "mariadbd", log_tail(40)); }
  void kill9() override {
    if (process_.is_running()) process_.kill9();
  }
  bool is_running() override { return process_.is_running(); }

  std::string url() const override {
    return "mysql://root@localhost/analytics?socket=" + socket_path();
  }

  void exec(const std::string& sql) override { run(sql, false); }
  std::string query_text(const std::string& sql) override { return run(sql, true); }

  std::string log_tail(std::size_t lines) const override {
    return "--- " + log_path() + " ---\n" + tail_file(log_path(), lines) + "\n--- " +
           dir_.file("mariadbd.out") + " ---\n" + tail_file(dir_.file("mariadbd.out"), lines);
  }

 private:
  static std::string template_dir() {
    static std::unique_ptr<TempDir> dir;
    if (dir) return dir->file("data");
    auto made = std::make_unique<TempDir>();
    // Each instance has a tmpdir of its own: concurrent bootstraps sharing /tmp lost their
    // temporary tables (mysql.tmp_user_sys: "Could not remove temporary table", error 2).
    std::filesystem::create_directories(made->file("tmp"));
    std::vector<std::string> argv = {"mariadb-install-db",
                                     "--no-defaults",
                                     "--datadir=" + made->file("data"),
                                     "--tmpdir=" + made->file("tmp"),
                                     "--auth-root-authentication-method=normal",
                                     "--skip-test-db"};
    for (const std::string& a : mariadb_user_args()) argv.push_back(a);
    run_or_throw(argv, "mariadb-install-db");
    dir = std::move(made);
    return dir->file("data");
  }

  std::string socket_path() const { return dir_.file("mysqld.sock"); }
  std::string log_path() const { return dir_.file("mariadbd.log"); }

  MYSQL* connect(const char* db, std::string* error) const {
    MYSQL* c = mysql_init(nullptr);
    const unsigned timeout = 10;
    mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(c, "localhost", "root", nullptr, db, 0, socket_path().c_str(), 0)) {
      *error = mysql_error(c);
      mysql_close(c);
      return nullptr;
    }
    return c;
  }

  bool ping() const {
    std::string error;
    MYSQL* c = connect(nullptr, &error);
    if (c) mysql_close(c);
    return c != nullptr;
  }

  std::string run(const std::string& sql, bool want_row) {
    std::string error;
    MYSQL* c = connect(nullptr, &error);
    if (!c) throw std::runtime_error("cannot connect to the test MariaDB: " + error);
    std::string out;
    if (mysql_select_db(c, "analytics") != 0 && sql.find("CREATE DATABASE") == std::string::npos) {
      error = mysql_error(c);
    } else if (mysql_real_query(c, sql.data(), sql.size()) != 0) {
      error = mysql_error(c);
    } else if (MYSQL_RES* res = mysql_store_result(c)) {
      MYSQL_ROW row = mysql_fetch_row(res);
      if (want_row && !row)
        error = "no row";
      else if (want_row)
        out = row[0] ? row[0] : "NULL";
      mysql_free_result(res);
    } else if (want_row) {
      error = "no result";
    }
    mysql_close(c);
    if (!error.empty()) throw std::runtime_error("MariaDB: " + sql + ": " + error);
    return out;
  }

  std::vector<std::string> extra_args_;
  TempDir dir_;
  ChildProcess process_;
};

}  // namespace

std::unique_ptr<SqlServer> make_sql_server(const std::string& kind,
                                           const std::vector<std::string>& extra_args) {
  if (kind == "postgres") return std::make_unique<PostgresServer>(extra_args);
  if (kind == "mariadb") return std::make_unique<MariaDbServer>(extra_args);
  throw std::invalid_argument("make_sql_server: unknown kind " + kind);
}

}  // namespace switchyard::test
