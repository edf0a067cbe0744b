// switchyard_bench.cc: throughput, latency and memory of Switchyard against its own redis-server.
//
//   switchyard_bench [--events N] [--json] [--batch B] [--repeat R] [--only LIST] ...
//
// Starts a private redis-server (unix socket and TCP loopback), then for each measurement pre-fills
// ~200-byte envelopes with pipelined RPUSH (1000 values per command) and measures:
//   1. the baseline: a bare hiredis drain (LPOP key 1000 in a loop, counting replies), both
//      transports; plus reference bounds (rows 1b-1e): the same drain decoding every message (not
//      crash-safe), the in-flight take + ack scripts alone (runtime ListSource, no decoding), the
//      envelope decoder alone (one core, in memory), and an LRANGE window + LTRIM loop (what an
//      ack scheme that does not copy messages would cost Redis);
//   2. the real build/bin/switchyard, real plugin loading, the reliable in-flight path, noop_sink
//      routed for both events, both transports: events/s and the ratio to (1) on that transport;
//      2A: the same (unix) with `archive:` on: its share of row 2's rate, and the archive's
//      Redis memory per event (INFO memory used_memory, after minus before);
//      2L: the same with `delivery: lease` (one active consumer, windows acknowledged by LTRIM);
//   3. the same with the two bundled SQLite sinks (two tables, one database file), rows verified;
//      3L: with `delivery: lease`;
//   3P/3M. the same two tables through sql_sink into a private PostgreSQL / MariaDB server,
//      configured in routes.yaml alone (handlers_at_once: true), rows verified, the server's CPU
//      per event (same run as 3);
//   4. publish-to-handled latency at a fixed offered rate (latency_sink, sent_ns in the payload);
//      4L: with `delivery: lease`;
//   5. the daemon's peak RSS (VmHWM) while draining a 1,000,000-event backlog;
//   6. workers: 1 versus workers: 2 (noop_sink);
//   S. with --scale only: 1, 2 and 4 daemon instances (workers: 1 each, delivery: inflight,
//      noop_sink, TCP) draining one key, at --batch and at batch 100, with Redis CPU per event
//      from INFO cpu (used_cpu_user + used_cpu_sys, before and after) and how busy that kept
//      Redis' one thread; the ratio is to the 1-instance row of the same batch, same run.
//   C. with --scale-shards only: a local Redis Cluster (the test kit's RedisCluster, masters
//      only) of 1 and of 3 shards, 6 list sources spread evenly over the shards by hash tag
//      ({bench0}, ...), --instances daemons (default 1, workers: 1 per source each, noop_sink,
//      TCP, redis.cluster) draining --events in all: events/s, Redis CPU per event (INFO cpu of
//      every master, summed) and how busy that kept the busiest shard; the ratio is to the
//      1-shard row of the same batch, same run.
// A drain is timed from the moment the pre-filled list appears under the source's key (RENAME
// of a staging list while the daemon is idle in BLMOVE, so start-up and plugin loading are not
// counted) until the source list and every in-flight list are empty, i.e. every message was
// handled and acknowledged. The bench polls LLEN over the unix socket every millisecond.
// Each drain runs --repeat times (default 3) and the median is reported. CPU time of the daemon
// and of redis-server per event is reported too: on a shared machine it is steadier than the
// wall-clock rate.
#include <hiredis/hiredis.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "envelope/envelope.h"
#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "source/list_source.h"
#include "support/child_process.h"
#include "support/redis_cluster.h"
#include "support/redis_server.h"
#include "support/sql_server.h"
#include "support/sqlite_db.h"
#include "support/temp_dir.h"

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;
using switchyard::test::ChildProcess;
using switchyard::test::read_file;
using switchyard::test::tail_file;
using switchyard::test::TempDir;

constexpr const char* kKey = "bench";
constexpr const char* kStaging = "bench:staging";

// ---------------------------------------------------------------------------------------------
// Options

struct Options {
  long events = 1000000;       // drains (1, 2, 6)
  long sqlite_events = -1;     // (3); -1: same as events
  long rss_events = 1000000;   // (5)
  int sql_workers = 1;         // (3P, 3M) workers: of the sql_sink rows
  int batch = 1000;            // sources.*.batch of the generated routes.yaml
  int repeat = 3;              // runs per drain measurement; the median is reported
  double rate = 10000;         // (4) offered events/s
  double latency_seconds = 5;  // (4) duration
  int envelope_bytes = 200;
  bool json = false;
  bool keep = false;  // keep the temp dir (logs, routes.yaml, redis.log)
  std::string only;   // comma list: bare,bounds,e2e,sqlite,postgres,mariadb,latency,rss,workers
                      // (or scale / shards, which run only when named: --scale, --scale-shards)
  int instances = 1;  // (C) daemons draining the cluster
  std::string wrap;   // command prefix for the daemon, e.g. "valgrind --tool=callgrind"
  std::string binary = BENCH_SWITCHYARD_BINARY;  // the switchyard executable to measure
};

const char* kUsage =
    "usage: switchyard_bench [--events N] [--json] [--batch B] [--repeat R] [--sqlite-events N]\n"
    "                        [--rss-events N] [--sql-workers W] [--rate R] [--latency-seconds S]\n"
    "                        [--envelope-bytes B] [--only "
    "bare,bounds,e2e,archive,sqlite,postgres,\n                                "
    "mariadb,latency,rss,workers]\n"
    "                        [--wrap \"CMD ARGS\"] [--switchyard PATH] [--keep] [--scale]\n"
    "                        [--scale-shards [--instances N]]\n"
    "  --events N          events per drain measurement (default 1000000)\n"
    "  --json              print the results as JSON instead of a table\n"
    "  --batch B           batch: of the generated routes.yaml and the take bound (default 1000)\n"
    "  --repeat R          run each drain R times and report the median (default 3)\n"
    "  --sqlite-events N   events for the SQLite, PostgreSQL and MariaDB rows (default: --events)\n"
    "  --rss-events N      backlog for the peak-RSS measurement (default 1000000)\n"
    "  --sql-workers W     workers: of the PostgreSQL and MariaDB rows (default 1)\n"
    "  --rate R            offered rate of the latency measurement, events/s (default 10000)\n"
    "  --latency-seconds S duration of the latency measurement (default 5)\n"
    "  --envelope-bytes B  size of each envelope (default 200)\n"
    "  --only LIST         run only these measurements\n"
    "  --scale             only the scale rows: 1, 2, 4 instances on one key (= --only scale)\n"
    "  --scale-shards      only the shard rows: a local Redis Cluster of 1 and of 3 shards,\n"
    "                      6 sources spread over them (= --only shards)\n"
    "  --instances N       daemons draining the cluster in the shard rows (default 1)\n"
    "  --wrap CMD          run the daemon under CMD (e.g. \"valgrind --tool=callgrind\")\n"
    "  --switchyard PATH   the switchyard binary to run (default: this build's bin/switchyard)\n"
    "  --keep              keep the temporary directories (logs, routes.yaml, redis.log) and "
    "print\n"
    "                      their paths\n";

bool wanted(const Options& o, const char* what) {
  // The scale rows start up to 4 daemons per drain, the shard rows a Redis Cluster: modes of
  // their own, run only when named.
  if (o.only.empty())
    return std::string_view(what) != "scale" && std::string_view(what) != "shards";
  std::stringstream ss(o.only);
  std::string item;
  while (std::getline(ss, item, ','))
    if (item == what) return true;
  return false;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what); }

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// CPU time of a process, all its live threads (sum of /proc/PID/task/*/schedstat run time, ns
// precision), in seconds; -1 when it cannot be read.
double cpu_seconds(pid_t pid) {
  std::error_code ec;
  fs::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
  if (ec) return -1;
  unsigned long long ns = 0;
  for (const auto& task : tasks) {
    std::ifstream in(task.path() / "schedstat");
    unsigned long long run = 0;
    if (in >> run) ns += run;
  }
  return static_cast<double>(ns) / 1e9;
}

// CPU seconds of the database server started by this process (a child named postgres or
// mariadbd) and of its own children (PostgreSQL's backends, which serve the daemon's
// connections, and its WAL writer); -1 when there is none.
double sql_server_cpu_seconds() {
  auto parent_of = [](const fs::path& proc, std::string* comm) -> long {
    std::ifstream in(proc / "stat");
    std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t open = stat.find('('), close = stat.rfind(')');
    if (open == std::string::npos || close == std::string::npos) return -1;
    *comm = stat.substr(open + 1, close - open - 1);
    std::istringstream rest(stat.substr(close + 2));
    std::string state;
    long ppid = -1;
    rest >> state >> ppid;
    return ppid;
  };
  std::map<long, std::vector<long>> children;
  long server = -1;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::string comm;
    const long ppid = parent_of(entry.path(), &comm);
    const long pid = std::stol(name);
    children[ppid].push_back(pid);
    if (ppid == ::getpid() && (comm == "postgres" || comm == "mariadbd")) server = pid;
  }
  if (server < 0) return -1;
  double total = std::max(0.0, cpu_seconds(static_cast<pid_t>(server)));
  for (long child : children[server])
    total += std::max(0.0, cpu_seconds(static_cast<pid_t>(child)));
  return total;
}

double thread_cpu_seconds() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// A line of /proc/PID/status in KiB (VmHWM, VmRSS), or -1.
long status_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

std::string loadavg() {
  std::string l = read_file("/proc/loadavg");
  std::istringstream in(l);
  std::string a, b, c;
  in >> a >> b >> c;
  return a + " " + b + " " + c;
}

// ---------------------------------------------------------------------------------------------
// A minimal hiredis client for the bench's own traffic.

struct ReplyFree {
  void operator()(redisReply* r) const {
    if (r) freeReplyObject(r);
  }
};
using ReplyPtr = std::unique_ptr<redisReply, ReplyFree>;

class Client {
 public:
  static Client unix_socket(const std::string& path) {
    Client c;
    c.ctx_ = redisConnectUnix(path.c_str());
    c.check_connected(path);
    return c;
  }
  static Client tcp(int port) {
    Client c;
    c.ctx_ = redisConnect("127.0.0.1", port);
    c.check_connected("127.0.0.1:" + std::to_string(port));
    return c;
  }
  Client() = default;
  Client(Client&& o) noexcept : ctx_(o.ctx_) { o.ctx_ = nullptr; }
  Client& operator=(Client&& o) noexcept {
    std::swap(ctx_, o.ctx_);
    return *this;
  }
  ~Client() {
    if (ctx_) redisFree(ctx_);
  }

  ReplyPtr cmd(const std::vector<std::string_view>& argv) {
    append(argv);
    return read();
  }
  void append(const std::vector<std::string_view>& argv) {
    argv_.clear();
    argl_.clear();
    for (auto a : argv) {
      argv_.push_back(a.data());
      argl_.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv_.data(), argl_.data()) !=
        REDIS_OK)
      fail(std::string("redis append: ") + ctx_->errstr);
  }
  ReplyPtr read() {
    void* r = nullptr;
    if (redisGetReply(ctx_, &r) != REDIS_OK || r == nullptr)
      fail(std::string("redis: ") + (ctx_->errstr[0] ? ctx_->errstr : "no reply"));
    ReplyPtr reply(static_cast<redisReply*>(r));
    if (reply->type == REDIS_REPLY_ERROR)
      fail("redis error: " + std::string(reply->str, reply->len));
    return reply;
  }
  long long integer(const std::vector<std::string_view>& argv) {
    ReplyPtr r = cmd(argv);
    if (r->type != REDIS_REPLY_INTEGER)
      fail("expected an integer reply to " + std::string(argv[0]));
    return r->integer;
  }
  redisContext* ctx() { return ctx_; }

 private:
  void check_connected(const std::string& where) {
    if (!ctx_ || ctx_->err)
      fail("cannot connect to redis at " + where + ": " + (ctx_ ? ctx_->errstr : "out of memory"));
  }
  redisContext* ctx_ = nullptr;
  std::vector<const char*> argv_;
  std::vector<size_t> argl_;
};

// ---------------------------------------------------------------------------------------------
// The private redis-server (the test kit's), on a unix socket and on TCP loopback.

class Redis {
 public:
  Redis() : server_(tcp_options()) { server_.start(); }
  std::string url(bool tcp) const { return tcp ? server_.tcp_url() : server_.url(); }
  Client client(bool tcp) const {
    return tcp ? Client::tcp(server_.port()) : Client::unix_socket(server_.socket_path());
  }
  pid_t pid() const { return server_.pid(); }
  const std::string& dir() const { return server_.dir(); }
  std::string version() {
    Client c = client(false);
    ReplyPtr r = c.cmd({"INFO", "server"});
    std::string info(r->str, r->len);
    size_t at = info.find("redis_version:");
    if (at == std::string::npos) return "?";
    size_t end = info.find('\r', at);
    return info.substr(at + 14, end - at - 14);
  }

 private:
  static switchyard::test::RedisServerOptions tcp_options() {
    switchyard::test::RedisServerOptions options;
    options.tcp = true;
    return options;
  }
  switchyard::test::RedisServer server_;
};

// A private PostgreSQL or MariaDB server for the sql_sink rows (the test kit's), run with the
// durability of a production install: fsync on, one commit per batch, 256 MB of buffers.
std::unique_ptr<switchyard::test::SqlServer> start_sql_server(const std::string& kind) {
  const std::vector<std::string> durable =
      kind == "postgres" ? std::vector<std::string>{"-c", "fsync=on",
                                                    "-c", "full_page_writes=on",
                                                    "-c", "shared_buffers=256MB"}
                         : std::vector<std::string>{"--innodb-buffer-pool-size=256M",
                                                    "--innodb-flush-log-at-trx-commit=1"};
  auto server = switchyard::test::make_sql_server(kind, durable);
  server->start();
  return server;
}

// SELECT count(*) FROM table on the server; -1 when the table does not exist.
long long count_sql_rows(switchyard::test::SqlServer& db, const std::string& table) {
  try {
    return db.count_rows(table);
  } catch (const std::exception&) {
    return -1;
  }
}

// ---------------------------------------------------------------------------------------------
// Envelopes

constexpr const char* kCreatedAt = "2026-05-07T10:00:00+00:00";

// Envelope number i: even i are user.registered (user_id i), odd i quote.created (quote_id i);
// both valid for the bundled SQLite sinks. sent_ns >= 0 adds "sent_ns". Padded with a "note"
// field to `bytes` bytes (when shorter).
void make_envelope(long i, int64_t sent_ns, size_t bytes, std::string* out) {
  char buf[512];
  int n;
  char sent[40] = "";
  if (sent_ns >= 0)
    std::snprintf(sent, sizeof sent, ",\"sent_ns\":%lld", static_cast<long long>(sent_ns));
  if (i % 2 == 0) {
    n = std::snprintf(
        buf, sizeof buf,
        "{\"event\":\"user.registered\",\"payload\":{\"user_id\":%ld,\"email\":\"user%ld@"
        "example.com\",\"name\":\"User %ld\",\"created_at\":\"%s\"%s,\"note\":\"",
        i, i, i, kCreatedAt, sent);
  } else {
    n = std::snprintf(buf, sizeof buf,
                      "{\"event\":\"quote.created\",\"payload\":{\"quote_id\":%ld,\"user_id\":%ld,"
                      "\"product_id\":%ld,\"qty\":%ld,\"created_at\":\"%s\"%s,\"note\":\"",
                      i, i / 2, i % 100 + 1, i % 10 + 1, kCreatedAt, sent);
  }
  out->assign(buf, static_cast<size_t>(n));
  const size_t closing = 3;  // "}}
  if (out->size() + closing < bytes) out->append(bytes - out->size() - closing, 'x');
  out->append("\"}}");
}

// RPUSHes events [first, first + count) to key, 1000 values per command, 8 commands in flight.
void prefill(Client& c, const std::string& key, long first, long count, size_t bytes) {
  constexpr long kPerCommand = 1000;
  constexpr int kInFlight = 8;
  std::vector<std::string> values(kPerCommand);
  std::vector<std::string_view> argv;
  int pending = 0;
  for (long at = 0; at < count; at += kPerCommand) {
    long n = std::min(kPerCommand, count - at);
    argv.assign({"RPUSH", key});
    for (long k = 0; k < n; ++k) {
      make_envelope(first + at + k, -1, bytes, &values[k]);
      argv.push_back(values[k]);
    }
    c.append(argv);
    if (++pending == kInFlight) {
      for (; pending > 0; --pending) c.read();
    }
  }
  for (; pending > 0; --pending) c.read();
}

// ---------------------------------------------------------------------------------------------
// Results

struct Result {
  std::string id;         // "1", "2", ...
  std::string name;       // what was measured
  std::string transport;  // unix | tcp | memory
  long events = 0;
  double seconds = 0;
  double rate = 0;    // events/s
  double ratio = -1;  // to the bare drain on the same transport
  int workers = 0;
  double consumer_cpu = -1;             // s: the daemon, or the bench thread for the bounds
  double redis_cpu = -1;                // s
  double rss_mib = -1;                  // daemon VmHWM
  std::string check;                    // verification summary
  std::map<std::string, double> extra;  // p50_us, ...
  std::vector<double> runs;             // rates of every repetition
};

std::string human_rate(double r) {
  char buf[32];
  if (r >= 1e6)
    std::snprintf(buf, sizeof buf, "%.2fM", r / 1e6);
  else if (r >= 1e3)
    std::snprintf(buf, sizeof buf, "%.1fk", r / 1e3);
  else
    std::snprintf(buf, sizeof buf, "%.0f", r);
  return buf;
}

Result median_of(int repeat, const std::function<Result()>& run) {
  std::vector<Result> all;
  for (int i = 0; i < repeat; ++i) all.push_back(run());
  std::sort(all.begin(), all.end(),
            [](const Result& a, const Result& b) { return a.rate < b.rate; });
  Result r = all[all.size() / 2];
  for (const auto& a : all) r.runs.push_back(a.rate);
  return r;
}

// ---------------------------------------------------------------------------------------------
// The benchmark

class Bench {
 public:
  explicit Bench(Options o)
      : o_(std::move(o)), dir_("switchyard-bench"), control_(redis_.client(false)) {
    if (o_.keep) dir_.keep();
    if (o_.sqlite_events < 0) o_.sqlite_events = o_.events;
    plugins_ = dir_.path() + "/plugins";
    fs::create_directories(plugins_);
    for (const char* so :
         {BENCH_NOOP_SINK, BENCH_LATENCY_SINK, BENCH_USER_SINK, BENCH_QUOTE_SINK, BENCH_SQL_SINK}) {
      if (!fs::exists(so)) fail(std::string("plugin not built: ") + so);
      fs::create_symlink(so, plugins_ + "/" + fs::path(so).filename().string());
    }
    if (!fs::exists(o_.binary)) fail("not built: " + o_.binary);
  }

  void run() {
    load_start_ = loadavg();
    redis_version_ = redis_.version();
    if (wanted(o_, "bare")) {
      for (bool tcp : {false, true}) {
        Result r = median_of(o_.repeat, [&] { return bare_drain(tcp); });
        bare_[tcp] = r.rate;
        add(r);
      }
    }
    if (wanted(o_, "bounds")) {
      add(median_of(o_.repeat, [&] { return lpop_decode(); }));
      for (bool tcp : {false, true}) add(median_of(o_.repeat, [&] { return take_ack_only(tcp); }));
      add(median_of(o_.repeat, [&] { return decode_only(); }));
      add(median_of(o_.repeat, [&] { return window_trim(false); }));
    }
    std::optional<Result> unix_w1;
    if (wanted(o_, "e2e")) {
      for (bool tcp : {false, true}) {
        Result r = median_of(o_.repeat, [&] {
          return drain("2", "switchyard end to end, noop_sink", tcp, 1, Handlers::kNoop, o_.events);
        });
        if (!tcp) unix_w1 = r;
        add(r);
      }
      for (bool tcp : {false, true}) {
        add(median_of(o_.repeat, [&] {
          return drain("2L", "switchyard end to end, noop_sink, delivery: lease", tcp, 1,
                       Handlers::kNoop, o_.events, true);
        }));
      }
    }
    if (wanted(o_, "archive")) {
      // Row 2 (unix) is the reference; run it here when e2e did not.
      if (!unix_w1)
        unix_w1 = median_of(o_.repeat, [&] {
          return drain("2", "switchyard end to end, noop_sink", false, 1, Handlers::kNoop,
                       o_.events);
        });
      add(archive_drain(unix_w1));
    }
    if (wanted(o_, "sqlite")) {
      add(median_of(o_.repeat, [&] {
        return drain("3", "switchyard end to end, 2 SQLite sinks", false, 1, Handlers::kSqlite,
                     o_.sqlite_events);
      }));
      add(median_of(o_.repeat, [&] {
        return drain("3L", "switchyard end to end, 2 SQLite sinks, delivery: lease", false, 1,
                     Handlers::kSqlite, o_.sqlite_events, true);
      }));
    }
    for (const char* kind : {"postgres", "mariadb"}) {
      if (!wanted(o_, kind)) continue;
      std::unique_ptr<switchyard::test::SqlServer> db = start_sql_server(kind);
      db_ = db.get();
      const std::string name = std::string("switchyard end to end, 2 sql_sink tables, ") +
                               (std::string(kind) == "postgres" ? "PostgreSQL" : "MariaDB");
      add(median_of(o_.repeat, [&] {
        return drain(std::string(kind) == "postgres" ? "3P" : "3M", name, false, o_.sql_workers,
                     Handlers::kSql, o_.sqlite_events);
      }));
      db_ = nullptr;
    }
    if (wanted(o_, "latency")) {
      add(latency(false));
      add(latency(false, true));
    }
    if (wanted(o_, "rss")) {
      Result r;
      if (unix_w1 && o_.events == o_.rss_events) {
        r = *unix_w1;
        r.check = "same run as 2 (unix)";
      } else {
        r = drain("5", "", false, 1, Handlers::kNoop, o_.rss_events);
      }
      r.id = "5";
      r.name = "peak RSS (VmHWM) draining a backlog, noop_sink";
      add(r);
    }
    if (wanted(o_, "workers")) {
      Result w1 = unix_w1 ? *unix_w1 : median_of(o_.repeat, [&] {
        return drain("6", "", false, 1, Handlers::kNoop, o_.events);
      });
      w1.id = "6";
      w1.name = "workers: 1, noop_sink";
      add(w1);
      Result w2 = median_of(o_.repeat, [&] {
        return drain("6", "workers: 2, noop_sink", false, 2, Handlers::kNoop, o_.events);
      });
      add(w2);
    }
    if (wanted(o_, "scale")) {
      for (int batch : {o_.batch, 100}) {
        double one = -1;
        for (int instances : {1, 2, 4}) {
          Result r = median_of(o_.repeat, [&] { return scale_drain(instances, batch); });
          if (instances == 1) one = r.rate;
          r.ratio = one > 0 ? r.rate / one : -1;
          add(r);
        }
        if (batch == 100) break;  // --batch 100: one set of rows
      }
    }
    if (wanted(o_, "shards")) {
      double one = -1;
      for (int shards : {1, 3}) {
        switchyard::test::RedisCluster cluster(shards, 0);
        cluster.start();
        Result r = median_of(o_.repeat, [&] { return shard_drain(cluster, shards); });
        if (shards == 1) one = r.rate;
        r.ratio = one > 0 ? r.rate / one : -1;
        add(r);
      }
    }
    load_end_ = loadavg();
    if (o_.json)
      print_json();
    else
      print_table();
    if (o_.keep) std::cerr << "kept " << dir_.path() << " and " << redis_.dir() << "\n";
  }

 private:
  enum class Handlers { kNoop, kSqlite, kLatency, kSql };
  switchyard::test::SqlServer* db_ = nullptr;  // the server of the running kSql row
  bool archive_ = false;                       // routes_yaml() turns `archive:` on (row 2A)
  double memory_before_ = 0;                   // used_memory before the running drain's backlog

  void add(Result r) {
    if (r.ratio < 0 && r.rate > 0 && (r.transport == "unix" || r.transport == "tcp")) {
      auto it = bare_.find(r.transport == "tcp");
      // Not for rows 4 and 4L: their rate is the offered rate, not a drain.
      if (it != bare_.end() && it->second > 0 && r.id != "1" && r.id.rfind("4", 0) != 0)
        r.ratio = r.rate / it->second;
    }
    if (!o_.json)
      std::cerr << "  " << r.id << " " << r.name << " (" << r.transport
                << "): " << human_rate(r.rate) << " events/s"
                << (r.check.empty() ? "" : ", " + r.check) << "\n";
    results_.push_back(std::move(r));
  }

  void flush() { control_.cmd({"FLUSHALL"}); }

  // INFO memory's used_memory, in bytes.
  double used_memory() {
    ReplyPtr info = control_.cmd({"INFO", "memory"});
    const std::string text(info->str, info->len);
    const size_t at = text.find("used_memory:");
    return at == std::string::npos ? -1 : std::stod(text.substr(at + 12));
  }

  // (2A) row 2 (unix) with `archive:` on: the rate, its share of row 2's (when it ran), and the
  // archive's memory per event, measured on the last run's archive (every event archived once).
  Result archive_drain(const std::optional<Result>& without) {
    archive_ = true;
    double bytes_per_event = -1;
    long long archived = -1;
    Result r = median_of(o_.repeat, [&] {
      Result one = drain("2A", "switchyard end to end, noop_sink, with archive", false, 1,
                         Handlers::kNoop, o_.events);
      archived = control_.integer({"XLEN", std::string(kKey) + ":archive"});
      bytes_per_event = (used_memory() - memory_before_) / static_cast<double>(o_.events);
      return one;
    });
    archive_ = false;
    r.extra["archive_bytes_per_event"] = bytes_per_event;
    std::ostringstream check;
    check << r.check << "; " << archived << " archived"
          << (archived == o_.events ? "" : " MISMATCH [FAILED]") << ", " << std::fixed
          << std::setprecision(0) << bytes_per_event << " B/event in Redis";
    if (without && without->rate > 0) {
      r.extra["share_of_row_2"] = r.rate / without->rate;
      check << ", " << std::setprecision(0) << 100 * r.rate / without->rate << "% of row 2";
    }
    r.check = check.str();
    return r;
  }

  // (1) bare drain: LPOP key 1000 in a loop, counting replies.
  Result bare_drain(bool tcp) {
    flush();
    prefill(control_, kKey, 0, o_.events, static_cast<size_t>(o_.envelope_bytes));
    Client c = redis_.client(tcp);
    double cpu0 = cpu_seconds(redis_.pid());
    double ccpu0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    long total = 0;
    while (true) {
      ReplyPtr r = c.cmd({"LPOP", kKey, "1000"});
      if (r->type != REDIS_REPLY_ARRAY) break;
      total += static_cast<long>(r->elements);
    }
    Result res;
    res.seconds = seconds_since(t0);
    res.consumer_cpu = thread_cpu_seconds() - ccpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - cpu0;
    res.id = "1";
    res.name = "bare hiredis drain, LPOP key 1000, count only";
    res.transport = tcp ? "tcp" : "unix";
    res.events = total;
    res.rate = static_cast<double>(total) / res.seconds;
    res.check = total == o_.events ? "count ok" : "COUNT MISMATCH " + std::to_string(total);
    return res;
  }

  // Bound: LPOP 1000 + envelope decode of every message (not crash-safe), unix socket.
  Result lpop_decode() {
    flush();
    prefill(control_, kKey, 0, o_.events, static_cast<size_t>(o_.envelope_bytes));
    Client c = redis_.client(false);
    switchyard::EnvelopeDecoder decoder;
    switchyard::Envelope env;
    std::string reason;
    double cpu0 = cpu_seconds(redis_.pid());
    double ccpu0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    long total = 0, bad = 0;
    while (true) {
      ReplyPtr r = c.cmd({"LPOP", kKey, "1000"});
      if (r->type != REDIS_REPLY_ARRAY) break;
      for (size_t i = 0; i < r->elements; ++i)
        if (!decoder.decode({r->element[i]->str, r->element[i]->len}, &env, &reason)) ++bad;
      total += static_cast<long>(r->elements);
    }
    Result res;
    res.seconds = seconds_since(t0);
    res.consumer_cpu = thread_cpu_seconds() - ccpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - cpu0;
    res.id = "1b";
    res.name = "bound: LPOP 1000 + envelope decode (not crash-safe)";
    res.transport = "unix";
    res.events = total;
    res.rate = static_cast<double>(total) / res.seconds;
    res.check = bad == 0 && total == o_.events ? "count ok" : "ERRORS";
    return res;
  }

  // Bound: the in-flight take and ack scripts alone (runtime ListSource, batch o_.batch), no
  // decoding, one connection: what Redis + the protocol allow the reliable path.
  Result take_ack_only(bool tcp) {
    flush();
    prefill(control_, kKey, 0, o_.events, static_cast<size_t>(o_.envelope_bytes));
    switchyard::RedisEndpoint endpoint;
    std::string error;
    if (!switchyard::parse_redis_url(redis_.url(tcp), &endpoint, &error)) fail(error);
    switchyard::RedisConnection connection(endpoint, "bench:bound");
    if (!connection.connect()) fail("bound: cannot connect");
    switchyard::ListSource source(&connection, kKey, "bound", 0, "token", std::chrono::seconds(30));
    switchyard::TakenBatch batch;
    switchyard::AckWrites writes;
    double cpu0 = cpu_seconds(redis_.pid());
    double ccpu0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    long total = 0;
    while (true) {
      if (!source.take(o_.batch, std::chrono::milliseconds(0), &batch)) fail("bound: take failed");
      if (batch.messages.empty()) break;
      total += static_cast<long>(batch.messages.size());
      bool owned = false;
      if (!source.ack(batch, writes, &owned) || !owned) fail("bound: ack failed");
      batch.clear();
    }
    Result res;
    res.seconds = seconds_since(t0);
    res.consumer_cpu = thread_cpu_seconds() - ccpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - cpu0;
    res.id = "1c";
    res.name = "bound: in-flight take + ack scripts only, batch " + std::to_string(o_.batch);
    res.transport = tcp ? "tcp" : "unix";
    res.events = total;
    res.rate = static_cast<double>(total) / res.seconds;
    res.check = total == o_.events ? "count ok" : "COUNT MISMATCH";
    return res;
  }

  // Bound: what an acknowledgement scheme that does not copy messages would cost Redis (the
  // exclusive-lease / offset-ack idea, not implemented): read a window from the head
  // with LRANGE, then trim it with LTRIM once "handled". Count only, no decoding.
  Result window_trim(bool tcp) {
    flush();
    prefill(control_, kKey, 0, o_.events, static_cast<size_t>(o_.envelope_bytes));
    Client c = redis_.client(tcp);
    const std::string last = std::to_string(o_.batch - 1);
    double cpu0 = cpu_seconds(redis_.pid());
    double ccpu0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    long total = 0;
    while (true) {
      ReplyPtr r = c.cmd({"LRANGE", kKey, "0", last});
      if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) break;
      total += static_cast<long>(r->elements);
      c.cmd({"LTRIM", kKey, std::to_string(r->elements), "-1"});
    }
    Result res;
    res.seconds = seconds_since(t0);
    res.consumer_cpu = thread_cpu_seconds() - ccpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - cpu0;
    res.id = "1e";
    res.name = "bound: LRANGE window + LTRIM ack, no copy (what delivery: lease does)";
    res.transport = tcp ? "tcp" : "unix";
    res.events = total;
    res.rate = static_cast<double>(total) / res.seconds;
    res.check = total == o_.events ? "count ok" : "COUNT MISMATCH";
    return res;
  }

  // Bound: the envelope decoder alone, in memory, one core.
  Result decode_only() {
    constexpr long kDistinct = 100000;
    std::vector<std::string> messages(kDistinct);
    for (long i = 0; i < kDistinct; ++i)
      make_envelope(i, -1, static_cast<size_t>(o_.envelope_bytes), &messages[i]);
    switchyard::EnvelopeDecoder decoder;
    switchyard::Envelope env;
    std::string reason;
    long total = std::max(o_.events, kDistinct), bad = 0;
    double ccpu0 = thread_cpu_seconds();
    auto t0 = Clock::now();
    for (long i = 0; i < total; ++i)
      if (!decoder.decode(messages[i % kDistinct], &env, &reason)) ++bad;
    Result res;
    res.seconds = seconds_since(t0);
    res.consumer_cpu = thread_cpu_seconds() - ccpu0;
    res.id = "1d";
    res.name = "bound: envelope decode only (validating SAX, 1 core)";
    res.transport = "memory";
    res.events = total;
    res.rate = static_cast<double>(total) / res.seconds;
    res.check = bad == 0 ? "all valid" : "ERRORS";
    return res;
  }

  // batch 0: --batch.
  std::string routes_yaml(bool tcp, int workers, Handlers handlers, const std::string& extra_path,
                          bool lease = false, int batch = 0) {
    std::ostringstream y;
    y << "version: 1\n"
      << "redis:\n  url: " << redis_.url(tcp) << "\n"
      << "sources:\n  bench:\n    type: list\n    key: " << kKey
      << "\n    batch: " << (batch ? batch : o_.batch) << "\n    workers: " << workers
      << "\n    max_deliveries: 5\n    reclaim_after: 30s\n"
      << "    delivery: " << (lease ? "lease" : "inflight")
      << "\n"
      // Two tables on a database server: their commits overlap (README routes.yaml).
      << (handlers == Handlers::kSql ? "    handlers_at_once: true\n" : "")
      << (archive_ ? "    archive: { retention: 7d, max_len: 10000000 }\n" : "") << "handlers:\n";
    switch (handlers) {
      case Handlers::kNoop:
        y << "  noop:\n    plugin: noop_sink\n"
          << "routes:\n  user.registered: [noop]\n  quote.created: [noop]\n";
        break;
      case Handlers::kSqlite:
        y << "  users_db:\n    plugin: user_registered_sink\n    config: { database: " << extra_path
          << " }\n  quotes_db:\n    plugin: quote_created_sink\n    config: { database: "
          << extra_path << " }\n"
          << "routes:\n  user.registered: [users_db]\n  quote.created: [quotes_db]\n";
        break;
      case Handlers::kSql: {
        // The same two tables as the SQLite sinks, mapped in routes.yaml alone.
        const std::string common = "      url: \"" + db_->url() + "\"\n      create_table: true\n";
        y << "  users_sql:\n    plugin: sql_sink\n    config:\n"
          << common << "      table: user_registrations\n      key: [user_id]\n      columns:\n"
          << "        user_id: { from: /user_id, type: bigint }\n"
          << "        email: { from: /email, type: text }\n"
          << "        name: { from: /name, type: text }\n"
          << "        created_at: { from: /created_at, type: timestamptz, optional: true }\n"
          << "  quotes_sql:\n    plugin: sql_sink\n    config:\n"
          << common << "      table: quotes\n      key: [quote_id]\n      columns:\n"
          << "        quote_id: { from: /quote_id, type: bigint }\n"
          << "        user_id: { from: /user_id, type: bigint }\n"
          << "        product_id: { from: /product_id, type: bigint }\n"
          << "        qty: { from: /qty, type: int }\n"
          << "        created_at: { from: /created_at, type: timestamptz, optional: true }\n"
          << "routes:\n  user.registered: [users_sql]\n  quote.created: [quotes_sql]\n";
        break;
      }
      case Handlers::kLatency:
        y << "  latency:\n    plugin: latency_sink\n    config: { output: " << extra_path << " }\n"
          << "routes:\n  user.registered: [latency]\n  quote.created: [latency]\n";
        break;
    }
    y << "unrouted: dead_letter\nretry: { max_attempts: 3, initial_backoff: 100ms, max_backoff: 1s "
         "}\n"
      << "shutdown_timeout: 30s\nlogging: { level: warn, format: text }\n";
    return y.str();
  }

  struct Daemon {
    ChildProcess process;
    std::string log;
    std::vector<std::string> inflight;  // the workers' in-flight lists
  };

  // Starts the daemon and waits until `workers` workers (of every daemon running) are idle in
  // BLMOVE (with delivery: inflight, also until each registered its in-flight list).
  void start_daemon(Daemon* d, const std::string& config, int workers, bool lease = false) {
    spawn_daemon(d, config);
    std::string owners = std::string(kKey) + ":inflight";
    wait_started(*d, [&] {
      // inflight: the in-flight lists registered (the heartbeat registers both of a worker's).
      return blocked_workers(control_) == workers &&
             (lease || control_.integer({"HLEN", owners}) >= workers);
    });
    ReplyPtr keys = control_.cmd({"HKEYS", owners});
    d->inflight.clear();
    for (size_t i = 0; i < keys->elements; ++i)
      d->inflight.emplace_back(keys->element[i]->str, keys->element[i]->len);
  }

  // The daemons' connections idle in BLMOVE on the Redis behind c (CLIENT LIST).
  static int blocked_workers(Client& c) {
    ReplyPtr list = c.cmd({"CLIENT", "LIST"});
    std::istringstream lines(std::string(list->str, list->len));
    int blocked = 0;
    for (std::string line; std::getline(lines, line);)
      if (line.find("name=switchyard:") != std::string::npos &&
          line.find("cmd=blmove") != std::string::npos)
        ++blocked;
    return blocked;
  }

  // Spawns the daemon on config (run directory, log, pid file of its own).
  void spawn_daemon(Daemon* d, const std::string& config) {
    int n = ++daemon_runs_;
    std::string dir = dir_.path() + "/run" + std::to_string(n);
    fs::create_directories(dir);
    std::string routes = dir + "/routes.yaml";
    std::ofstream(routes) << config;
    d->log = dir + "/switchyard.log";
    std::vector<std::string> argv;
    std::istringstream wrap(o_.wrap);
    for (std::string w; wrap >> w;) argv.push_back(w);
    for (std::string a : {o_.binary, std::string("run"), std::string("-c")}) argv.push_back(a);
    argv.push_back(routes);
    argv.push_back("--plugins-dir");
    argv.push_back(plugins_);
    argv.push_back("--pid-file");
    argv.push_back(dir + "/switchyard.pid");
    argv.push_back("--instance");
    argv.push_back("bench" + std::to_string(n));
    d->process.spawn(argv, {{"RUNTIME_DIRECTORY", dir}}, d->log);
  }

  // Polls ready every 10 ms until it holds (bounded: 30 s, 300 s under --wrap); fails with the
  // log's tail if the daemon exits or never gets there.
  void wait_started(Daemon& d, const std::function<bool()>& ready) {
    const auto limit = std::chrono::seconds(o_.wrap.empty() ? 30 : 300);
    auto until = Clock::now() + limit;
    while (!ready()) {
      if (!d.process.is_running())
        fail("switchyard exited during start-up:\n" + tail_file(d.log, 30));
      if (Clock::now() > until)
        fail("switchyard not idle in BLMOVE after start-up:\n" + tail_file(d.log, 30));
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }

  // Total of LLEN K and of every in-flight list, one pipelined round trip.
  long long remaining(const Daemon& d) {
    control_.append({"LLEN", kKey});
    for (const auto& l : d.inflight) control_.append({"LLEN", l});
    long long total = 0;
    for (size_t i = 0; i <= d.inflight.size(); ++i) total += control_.read()->integer;
    return total;
  }

  // Polls every `poll` until nothing is pending or in flight; false on a stall.
  bool wait_drained(Daemon& d, std::chrono::seconds stall_limit,
                    std::chrono::milliseconds poll = std::chrono::milliseconds(1)) {
    long long last = -1;
    auto last_change = Clock::now();
    while (true) {
      long long left = remaining(d);
      if (left == 0) return true;
      if (left != last) {
        last = left;
        last_change = Clock::now();
      } else if (Clock::now() - last_change > stall_limit) {
        return false;
      }
      if (!d.process.is_running()) return false;
      std::this_thread::sleep_for(poll);
    }
  }

  void stop_daemon(Daemon& d, Result* r) {
    d.process.signal(SIGTERM);
    auto code = d.process.wait_exit(std::chrono::seconds(o_.wrap.empty() ? 30 : 300));
    if (!code) {
      d.process.kill9();
      r->check += r->check.empty() ? "" : "; ";
      r->check += "daemon did not stop on SIGTERM";
    } else if (*code != 0) {
      r->check += r->check.empty() ? "" : "; ";
      r->check += "daemon exit code " + std::to_string(*code);
    }
  }

  // (2), (3), (5), (6): a backlog of `events` drained by the real daemon.
  Result drain(const std::string& id, const std::string& name, bool tcp, int workers,
               Handlers handlers, long events, bool lease = false) {
    flush();
    std::string db = dir_.path() + "/run" + std::to_string(daemon_runs_ + 1) + "-analytics.db";
    if (handlers == Handlers::kSql) {
      db_->exec("DROP TABLE IF EXISTS user_registrations");
      db_->exec("DROP TABLE IF EXISTS quotes");
    }
    memory_before_ = used_memory();
    prefill(control_, kStaging, 0, events, static_cast<size_t>(o_.envelope_bytes));
    Daemon d;
    start_daemon(&d, routes_yaml(tcp, workers, handlers, db, lease), workers, lease);
    Result res;
    res.id = id;
    res.name = name;
    res.transport = tcp ? "tcp" : "unix";
    res.workers = workers;
    res.events = events;
    double dcpu0 = cpu_seconds(d.process.pid()), rcpu0 = cpu_seconds(redis_.pid());
    const double dbcpu0 = handlers == Handlers::kSql ? sql_server_cpu_seconds() : -1;
    auto t0 = Clock::now();
    control_.cmd({"RENAME", kStaging, kKey});
    bool drained = wait_drained(d, std::chrono::seconds(60));
    res.seconds = seconds_since(t0);
    res.consumer_cpu = cpu_seconds(d.process.pid()) - dcpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - rcpu0;
    if (dbcpu0 >= 0)  // before the daemon stops: its connections' backends still run
      res.extra["db_cpu_us"] =
          (sql_server_cpu_seconds() - dbcpu0) * 1e6 / static_cast<double>(events);
    long hwm = status_kib(d.process.pid(), "VmHWM");
    res.rss_mib = hwm < 0 ? -1 : static_cast<double>(hwm) / 1024.0;
    res.rate = static_cast<double>(events) / res.seconds;
    long long dead = control_.integer({"LLEN", std::string(kKey) + ":dead"});
    long long retry = control_.integer({"ZCARD", std::string(kKey) + ":retry"});
    std::ostringstream check;
    if (!drained) check << "DID NOT DRAIN (" << remaining(d) << " left); ";
    check << "drained, " << dead << " dead, " << retry << " retrying";
    stop_daemon(d, &res);
    if (handlers == Handlers::kSqlite) {
      long long users = switchyard::test::count_rows(db, "user_registrations"),
                quotes = switchyard::test::count_rows(db, "quotes");
      long expect_users = (events + 1) / 2, expect_quotes = events / 2;
      check << "; rows " << users << " + " << quotes
            << (users == expect_users && quotes == expect_quotes ? " verified" : " MISMATCH");
      res.extra["rows_users"] = static_cast<double>(users);
      res.extra["rows_quotes"] = static_cast<double>(quotes);
    }
    if (handlers == Handlers::kSql) {
      long long users = count_sql_rows(*db_, "user_registrations"),
                quotes = count_sql_rows(*db_, "quotes");
      long expect_users = (events + 1) / 2, expect_quotes = events / 2;
      check << "; rows " << users << " + " << quotes
            << (users == expect_users && quotes == expect_quotes ? " verified" : " MISMATCH");
      res.extra["rows_users"] = static_cast<double>(users);
      res.extra["rows_quotes"] = static_cast<double>(quotes);
      char db_cpu[64];
      std::snprintf(db_cpu, sizeof db_cpu, "; database server %.3f CPU us/event",
                    res.extra["db_cpu_us"]);
      check << db_cpu;
    }
    res.check = check.str() + (res.check.empty() ? "" : "; " + res.check);
    if (!drained || dead != 0 || retry != 0) res.check += " [FAILED]";
    return res;
  }

  // Redis' own CPU seconds (INFO cpu: used_cpu_user + used_cpu_sys, the whole process). Read
  // over the wire, so it works for a Redis on another host too.
  double redis_info_cpu() {
    ReplyPtr r = control_.cmd({"INFO", "cpu"});
    const std::string info(r->str, r->len);
    double total = 0;
    for (const char* field : {"used_cpu_user:", "used_cpu_sys:"}) {
      const size_t at = info.find(field);
      if (at == std::string::npos) fail(std::string("INFO cpu without ") + field);
      total += std::strtod(info.c_str() + at + std::strlen(field), nullptr);
    }
    return total;
  }

  // (S) `instances` daemons (workers: 1 each, delivery: inflight, noop_sink, TCP, `batch`)
  // compete for one backlog of --events: events/s, Redis CPU per event (INFO cpu) and the share
  // of one core Redis was busy (its CPU seconds over the wall-clock seconds of the drain).
  Result scale_drain(int instances, int batch) {
    flush();
    prefill(control_, kStaging, 0, o_.events, static_cast<size_t>(o_.envelope_bytes));
    std::vector<Daemon> daemons(static_cast<size_t>(instances));
    for (int i = 0; i < instances; ++i) {
      start_daemon(&daemons[static_cast<size_t>(i)],
                   routes_yaml(true, 1, Handlers::kNoop, "", false, batch), i + 1);
    }
    Daemon& last = daemons.back();  // its in-flight list names cover every daemon's
    Result res;
    res.id = "S" + std::to_string(instances);
    res.name = "no-op drain, " + std::to_string(instances) + " instance(s), batch " +
               std::to_string(batch);
    res.transport = "tcp";
    res.workers = instances;
    res.events = o_.events;
    auto daemons_cpu = [&] {
      double total = 0;
      for (auto& d : daemons) total += std::max(0.0, cpu_seconds(d.process.pid()));
      return total;
    };
    const double dcpu0 = daemons_cpu(), rcpu0 = redis_info_cpu();
    auto t0 = Clock::now();
    control_.cmd({"RENAME", kStaging, kKey});
    // Polled every 10 ms, not 1: the polls would add Redis CPU in proportion to the time taken,
    // and distort the slow rows' CPU per event.
    bool drained = wait_drained(last, std::chrono::seconds(60), std::chrono::milliseconds(10));
    res.seconds = seconds_since(t0);
    res.redis_cpu = redis_info_cpu() - rcpu0;
    res.consumer_cpu = daemons_cpu() - dcpu0;
    res.rate = static_cast<double>(o_.events) / res.seconds;
    res.extra["batch"] = batch;
    res.extra["instances"] = instances;
    res.extra["redis_busy"] = res.redis_cpu / res.seconds;
    long long dead = control_.integer({"LLEN", std::string(kKey) + ":dead"});
    std::ostringstream check;
    if (!drained) check << "DID NOT DRAIN (" << remaining(last) << " left); ";
    char busy[48];
    std::snprintf(busy, sizeof busy, "Redis busy %.0f%% of a core; ",
                  res.extra["redis_busy"] * 100);
    check << busy << "drained, " << dead << " dead";
    for (auto& d : daemons) stop_daemon(d, &res);
    res.check = check.str() + (res.check.empty() ? "" : "; " + res.check);
    if (!drained || dead != 0) res.check += " [FAILED]";
    return res;
  }

  // (C) --instances daemons drain kShardSources list sources spread evenly over the `shards`
  // masters of cluster by hash tag (workers: 1 per source, noop_sink, --batch): events/s, Redis
  // CPU per event (INFO cpu of every master, summed) and the busiest shard's share of a core.
  static constexpr int kShardSources = 6;
  Result shard_drain(switchyard::test::RedisCluster& cluster, int shards) {
    // The sources, kShardSources / shards on each master, and a client per master.
    struct Source {
      std::string key;
      int port;
      std::vector<std::string> inflight;
    };
    std::vector<Source> sources;
    std::map<int, int> per_port;
    for (int i = 0; static_cast<int>(sources.size()) < kShardSources; ++i) {
      const std::string key = "{bench" + std::to_string(i) + "}";
      const int port = cluster.node(cluster.master_of_key(key)).port();
      if (per_port[port] == kShardSources / shards) continue;
      ++per_port[port];
      sources.push_back({key, port, {}});
    }
    std::map<int, Client> masters;
    for (const auto& [port, n] : per_port) masters.emplace(port, Client::tcp(port));
    const long each = o_.events / kShardSources;
    for (auto& [port, c] : masters) c.cmd({"FLUSHALL"});
    for (const Source& s : sources)
      prefill(masters[s.port], s.key + ":staging", 0, each, static_cast<size_t>(o_.envelope_bytes));

    std::ostringstream y;
    y << "version: 1\nredis:\n  cluster: [";
    const std::vector<std::string> seeds = cluster.seed_urls();
    for (size_t i = 0; i < seeds.size(); ++i) y << (i ? ", " : "") << seeds[i];
    y << "]\nsources:\n";
    for (size_t i = 0; i < sources.size(); ++i)
      y << "  s" << i << ":\n    type: list\n    key: \"" << sources[i].key
        << "\"\n    batch: " << o_.batch
        << "\n    workers: 1\n    max_deliveries: 5\n    reclaim_after: 30s\n"
        << "    delivery: inflight\n";
    y << "handlers:\n  noop:\n    plugin: noop_sink\n"
      << "routes:\n  user.registered: [noop]\n  quote.created: [noop]\n"
      << "unrouted: dead_letter\nshutdown_timeout: 30s\nlogging: { level: warn, format: text }\n";
    std::vector<Daemon> daemons(static_cast<size_t>(o_.instances));
    for (Daemon& d : daemons) spawn_daemon(&d, y.str());
    // Every worker idle in BLMOVE on its shard, every in-flight list registered.
    wait_started(daemons.back(), [&] {
      for (auto& [port, c] : masters)
        if (blocked_workers(c) != per_port[port] * o_.instances) return false;
      for (const Source& s : sources)
        if (masters[s.port].integer({"HLEN", s.key + ":inflight"}) < o_.instances) return false;
      return true;
    });
    for (Source& s : sources) {
      ReplyPtr keys = masters[s.port].cmd({"HKEYS", s.key + ":inflight"});
      for (size_t i = 0; i < keys->elements; ++i)
        s.inflight.emplace_back(keys->element[i]->str, keys->element[i]->len);
    }
    auto remaining = [&] {
      long long total = 0;
      for (const Source& s : sources) {
        total += masters[s.port].integer({"LLEN", s.key});
        for (const std::string& l : s.inflight) total += masters[s.port].integer({"LLEN", l});
      }
      return total;
    };
    auto redis_cpu = [&](std::map<int, double>* per_shard) {
      double total = 0;
      for (auto& [port, c] : masters) {
        ReplyPtr r = c.cmd({"INFO", "cpu"});
        const std::string info(r->str, r->len);
        double cpu = 0;
        for (const char* field : {"used_cpu_user:", "used_cpu_sys:"}) {
          const size_t at = info.find(field);
          if (at == std::string::npos) fail(std::string("INFO cpu without ") + field);
          cpu += std::strtod(info.c_str() + at + std::strlen(field), nullptr);
        }
        (*per_shard)[port] = cpu;
        total += cpu;
      }
      return total;
    };
    auto daemons_cpu = [&] {
      double total = 0;
      for (auto& d : daemons) total += std::max(0.0, cpu_seconds(d.process.pid()));
      return total;
    };

    Result res;
    res.id = "C" + std::to_string(shards);
    res.name = "no-op drain, 6 sources on " + std::to_string(shards) + " shard(s), " +
               std::to_string(o_.instances) + " instance(s), batch " + std::to_string(o_.batch);
    res.transport = "tcp";
    res.workers = kShardSources * o_.instances;
    res.events = each * kShardSources;
    std::map<int, double> shard_cpu0, shard_cpu1;
    const double dcpu0 = daemons_cpu(), rcpu0 = redis_cpu(&shard_cpu0);
    auto t0 = Clock::now();
    for (const Source& s : sources) masters[s.port].cmd({"RENAME", s.key + ":staging", s.key});
    // Polled every 10 ms, as the S rows: polls cost Redis CPU in proportion to the time taken.
    long long left = -1, last = -1;
    auto last_change = Clock::now();
    bool drained = false;
    while (true) {
      left = remaining();
      if (left == 0) {
        drained = true;
        break;
      }
      if (left != last) {
        last = left;
        last_change = Clock::now();
      } else if (Clock::now() - last_change > std::chrono::seconds(60)) {
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    res.seconds = seconds_since(t0);
    res.redis_cpu = redis_cpu(&shard_cpu1) - rcpu0;
    res.consumer_cpu = daemons_cpu() - dcpu0;
    res.rate = static_cast<double>(res.events) / res.seconds;
    double busiest = 0;
    for (const auto& [port, cpu] : shard_cpu1)
      busiest = std::max(busiest, (cpu - shard_cpu0[port]) / res.seconds);
    res.extra["batch"] = o_.batch;
    res.extra["instances"] = o_.instances;
    res.extra["shards"] = shards;
    res.extra["busiest_shard_busy"] = busiest;
    long long dead = 0;
    for (const Source& s : sources) dead += masters[s.port].integer({"LLEN", s.key + ":dead"});
    std::ostringstream check;
    if (!drained) check << "DID NOT DRAIN (" << left << " left); ";
    char busy[64];
    std::snprintf(busy, sizeof busy, "busiest shard busy %.0f%% of a core; ", busiest * 100);
    check << busy << "drained, " << dead << " dead";
    for (auto& d : daemons) stop_daemon(d, &res);
    res.check = check.str() + (res.check.empty() ? "" : "; " + res.check);
    if (!drained || dead != 0) res.check += " [FAILED]";
    return res;
  }

  // (4) publish-to-handled latency at a fixed offered rate, one RPUSH per event.
  Result latency(bool tcp, bool lease = false) {
    flush();
    std::string out = dir_.path() + "/latencies-" + std::to_string(daemon_runs_ + 1) + ".bin";
    Daemon d;
    start_daemon(&d, routes_yaml(tcp, 1, Handlers::kLatency, out, lease), 1, lease);
    // The publisher never waits for Redis: it writes each RPUSH to the socket at its due time
    // (stamping sent_ns just before the write) while a second thread reads the replies, so the
    // offered rate stays fixed even when Redis or the daemon fall behind.
    Client pub = redis_.client(tcp);
    const int fd = pub.ctx()->fd;
    const long total = std::lround(o_.rate * o_.latency_seconds);
    std::atomic<long> replies{0}, errors{0};
    std::atomic<bool> stop_reading{false};
    std::thread reader([&] {
      char buf[65536];
      bool line_start = true;
      while (replies.load() < total && !stop_reading.load()) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n <= 0) break;
        for (ssize_t k = 0; k < n; ++k) {
          if (line_start && buf[k] == '-') errors.fetch_add(1);
          line_start = buf[k] == '\n';
          if (line_start) replies.fetch_add(1);
        }
      }
    });
    const int64_t period_ns = std::llround(1e9 / o_.rate);
    timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    const int64_t start_ns = static_cast<int64_t>(start.tv_sec) * 1000000000 + start.tv_nsec;
    double dcpu0 = cpu_seconds(d.process.pid()), rcpu0 = cpu_seconds(redis_.pid());
    auto t0 = Clock::now();
    std::string message, resp;
    const std::string head =
        "*3\r\n$5\r\nRPUSH\r\n$" + std::to_string(std::strlen(kKey)) + "\r\n" + kKey + "\r\n$";
    for (long i = 0; i < total; ++i) {
      int64_t due = start_ns + i * period_ns;
      timespec ts{static_cast<time_t>(due / 1000000000), static_cast<long>(due % 1000000000)};
      clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr);
      make_envelope(i, realtime_ns(), static_cast<size_t>(o_.envelope_bytes), &message);
      resp = head + std::to_string(message.size()) + "\r\n" + message + "\r\n";
      for (size_t off = 0; off < resp.size();) {
        ssize_t n = ::write(fd, resp.data() + off, resp.size() - off);
        if (n <= 0) {
          stop_reading = true;
          reader.join();
          fail("latency: publishing failed: " + std::string(strerror(errno)));
        }
        off += static_cast<size_t>(n);
      }
    }
    double publish_seconds = seconds_since(t0);
    auto replies_until = Clock::now() + std::chrono::seconds(30);
    while (replies.load() < total && Clock::now() < replies_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    stop_reading = true;
    reader.join();
    if (replies.load() != total || errors.load() != 0)
      fail("latency: " + std::to_string(replies.load()) + " RPUSH replies of " +
           std::to_string(total) + ", " + std::to_string(errors.load()) + " errors");
    bool drained = wait_drained(d, std::chrono::seconds(30));
    Result res;
    res.id = lease ? "4L" : "4";
    res.name = "publish-to-handled latency at " + human_rate(o_.rate) + " events/s offered" +
               (lease ? ", delivery: lease" : "");
    res.transport = tcp ? "tcp" : "unix";
    res.workers = 1;
    res.events = total;
    res.seconds = publish_seconds;
    res.rate = static_cast<double>(total) / publish_seconds;  // achieved offered rate
    res.consumer_cpu = cpu_seconds(d.process.pid()) - dcpu0;
    res.redis_cpu = cpu_seconds(redis_.pid()) - rcpu0;
    long hwm = status_kib(d.process.pid(), "VmHWM");
    res.rss_mib = hwm < 0 ? -1 : static_cast<double>(hwm) / 1024.0;
    stop_daemon(d, &res);  // latency_sink writes its file when destroyed
    std::string bin = read_file(out);
    std::vector<int64_t> ns(bin.size() / sizeof(int64_t));
    std::memcpy(ns.data(), bin.data(), ns.size() * sizeof(int64_t));
    long missing = std::count(ns.begin(), ns.end(), -1);
    std::sort(ns.begin(), ns.end());
    auto pct = [&](double p) {
      if (ns.empty()) return -1.0;
      size_t k = std::min(ns.size() - 1, static_cast<size_t>(std::ceil(p / 100.0 * ns.size())) - 1);
      return static_cast<double>(ns[k]) / 1000.0;
    };
    res.extra["p50_us"] = pct(50);
    res.extra["p99_us"] = pct(99);
    res.extra["p99.9_us"] = pct(99.9);
    res.extra["max_us"] = ns.empty() ? -1 : static_cast<double>(ns.back()) / 1000.0;
    res.extra["recorded"] = static_cast<double>(ns.size());
    std::ostringstream check;
    char buf[160];
    std::snprintf(buf, sizeof buf, "p50 %.0f us, p99 %.0f us, p99.9 %.0f us, max %.0f us",
                  res.extra["p50_us"], res.extra["p99_us"], res.extra["p99.9_us"],
                  res.extra["max_us"]);
    check << buf << "; " << ns.size() << "/" << total << " recorded";
    if (!drained || missing || static_cast<long>(ns.size()) != total) check << " [FAILED]";
    res.check = check.str() + (res.check.empty() ? "" : "; " + res.check);
    return res;
  }

  // CPU microseconds per event of the consumer (daemon or bench thread) and of redis-server, and
  // the rate those alone would allow when the two run one after the other (one worker: a take
  // waits for Redis, Redis waits for the next take): events / (consumer + redis CPU). On a busy
  // shared machine this is a steadier figure than the wall-clock rate.
  static double per_event_us(double cpu, long events) {
    return cpu < 0 || events <= 0 ? -1 : cpu * 1e6 / static_cast<double>(events);
  }
  // With several workers the two overlap: then Redis' one thread or the machine's cores bound it.
  static double cpu_bound(const Result& r) {
    if (r.id == "4" || (r.consumer_cpu <= 0 && r.redis_cpu <= 0)) return -1;
    double cons = std::max(0.0, r.consumer_cpu), redis = std::max(0.0, r.redis_cpu);
    double cores = std::max(1u, std::thread::hardware_concurrency());
    double t = r.workers > 1
                   ? std::max(redis, (cons + redis) / std::min<double>(cores, r.workers + 1))
                   : cons + redis;
    return static_cast<double>(r.events) / t;
  }

  void print_table() {
    std::printf(
        "\nswitchyard_bench: %ld events of %d bytes per drain, batch %d, repeat %d (median)\n",
        o_.events, o_.envelope_bytes, o_.batch, o_.repeat);
    std::printf("redis-server %s on this host; %u CPUs; load average %s at start, %s at end\n\n",
                redis_version_.c_str(), std::thread::hardware_concurrency(), load_start_.c_str(),
                load_end_.c_str());
    std::printf("%-3s %-54s %-6s %3s %8s %7s %9s %6s %8s %8s %9s %7s  %s\n", "#", "measurement",
                "via", "wrk", "events", "seconds", "events/s", "vs(1)", "cons us", "redis us",
                "cpu-bound", "RSS MiB", "check");
    for (const auto& r : results_) {
      auto num = [](double v, const char* fmt) {
        char b[32];
        if (v < 0) return std::string("-");
        std::snprintf(b, sizeof b, fmt, v);
        return std::string(b);
      };
      double bound = cpu_bound(r);
      std::printf("%-3s %-54s %-6s %3s %8ld %7.3f %9s %6s %8s %8s %9s %7s  %s\n", r.id.c_str(),
                  r.name.c_str(), r.transport.c_str(),
                  r.workers ? std::to_string(r.workers).c_str() : "-", r.events, r.seconds,
                  human_rate(r.rate).c_str(),
                  r.ratio < 0 ? "-" : num(r.ratio * 100, "%.0f%%").c_str(),
                  num(per_event_us(r.consumer_cpu, r.events), "%.3f").c_str(),
                  num(per_event_us(r.redis_cpu, r.events), "%.3f").c_str(),
                  bound < 0 ? "-" : human_rate(bound).c_str(), num(r.rss_mib, "%.1f").c_str(),
                  r.check.c_str());
    }
    std::printf(
        "\ncons us / redis us: CPU microseconds per event of the consumer (the switchyard "
        "daemon, all threads; the bench\nthread for rows 1*) and of redis-server. "
        "cpu-bound: events / (consumer + redis CPU seconds), the rate if both\nran "
        "undisturbed one after the other (several workers: max(redis, total / cores)); on a "
        "busy\nmachine steadier than events/s. "
        "vs(1): events/s over row 1, same transport;\nfor rows S*, over the "
        "1-instance row of the same batch (S1); for rows C*, over C1 (one shard).\nRows S* and "
        "C*: redis us from INFO cpu (C*: every master's, summed).\n");
  }

  static std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
      if (c == '"' || c == '\\') out += '\\';
      if (static_cast<unsigned char>(c) < 0x20) {
        char b[8];
        std::snprintf(b, sizeof b, "\\u%04x", c);
        out += b;
        continue;
      }
      out += c;
    }
    return out + "\"";
  }

  static std::string json_number(double v) {
    if (!std::isfinite(v) || v == -1) return "null";
    char b[40];
    std::snprintf(b, sizeof b, "%.6g", v);
    return b;
  }

  void print_json() {
    std::ostringstream j;
    j << "{\"events\":" << o_.events << ",\"envelope_bytes\":" << o_.envelope_bytes
      << ",\"batch\":" << o_.batch << ",\"repeat\":" << o_.repeat
      << ",\"redis_version\":" << json_string(redis_version_)
      << ",\"cpus\":" << std::thread::hardware_concurrency()
      << ",\"loadavg_start\":" << json_string(load_start_)
      << ",\"loadavg_end\":" << json_string(load_end_) << ",\"results\":[";
    for (size_t i = 0; i < results_.size(); ++i) {
      const Result& r = results_[i];
      j << (i ? "," : "") << "\n  {\"id\":" << json_string(r.id)
        << ",\"name\":" << json_string(r.name) << ",\"transport\":" << json_string(r.transport)
        << ",\"workers\":" << r.workers << ",\"events\":" << r.events
        << ",\"seconds\":" << json_number(r.seconds) << ",\"events_per_s\":" << json_number(r.rate)
        << ",\"ratio_to_bare\":" << (r.ratio < 0 ? "null" : json_number(r.ratio))
        << ",\"consumer_cpu_s\":" << (r.consumer_cpu < 0 ? "null" : json_number(r.consumer_cpu))
        << ",\"redis_cpu_s\":" << (r.redis_cpu < 0 ? "null" : json_number(r.redis_cpu))
        << ",\"consumer_us_per_event\":" << json_number(per_event_us(r.consumer_cpu, r.events))
        << ",\"redis_us_per_event\":" << json_number(per_event_us(r.redis_cpu, r.events))
        << ",\"cpu_bound_events_per_s\":" << json_number(cpu_bound(r))
        << ",\"peak_rss_mib\":" << (r.rss_mib < 0 ? "null" : json_number(r.rss_mib))
        << ",\"check\":" << json_string(r.check) << ",\"runs\":[";
      for (size_t k = 0; k < r.runs.size(); ++k) j << (k ? "," : "") << json_number(r.runs[k]);
      j << "]";
      for (const auto& [k, v] : r.extra) j << "," << json_string(k) << ":" << json_number(v);
      j << "}";
    }
    j << "\n]}\n";
    std::cout << j.str();
  }

  Options o_;
  TempDir dir_;  // routes.yaml, logs, SQLite files and latencies of every run
  Redis redis_;
  Client control_;
  std::string plugins_;
  int daemon_runs_ = 0;
  std::map<bool, double> bare_;  // tcp? -> bare drain rate
  std::vector<Result> results_;
  std::string load_start_, load_end_, redis_version_;
};

long parse_long(const char* flag, const char* v) {
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (!end || *end || n <= 0) fail(std::string(flag) + ": expected a positive integer, got " + v);
  return n;
}

double parse_double(const char* flag, const char* v) {
  char* end = nullptr;
  double d = std::strtod(v, &end);
  if (!end || *end || !(d > 0)) fail(std::string(flag) + ": expected a positive number, got " + v);
  return d;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGPIPE, SIG_IGN);
  try {
    Options o;
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      auto value = [&]() -> const char* {
        if (i + 1 >= argc) fail(a + ": missing value");
        return argv[++i];
      };
      if (a == "--events")
        o.events = parse_long("--events", value());
      else if (a == "--json")
        o.json = true;
      else if (a == "--batch")
        o.batch = static_cast<int>(parse_long("--batch", value()));
      else if (a == "--repeat")
        o.repeat = static_cast<int>(parse_long("--repeat", value()));
      else if (a == "--sqlite-events")
        o.sqlite_events = parse_long("--sqlite-events", value());
      else if (a == "--rss-events")
        o.rss_events = parse_long("--rss-events", value());
      else if (a == "--sql-workers")
        o.sql_workers = static_cast<int>(std::min(64L, parse_long("--sql-workers", value())));
      else if (a == "--rate")
        o.rate = parse_double("--rate", value());
      else if (a == "--latency-seconds")
        o.latency_seconds = parse_double("--latency-seconds", value());
      else if (a == "--envelope-bytes")
        o.envelope_bytes = static_cast<int>(parse_long("--envelope-bytes", value()));
      else if (a == "--only")
        o.only = value();
      else if (a == "--wrap")
        o.wrap = value();
      else if (a == "--keep")
        o.keep = true;
      else if (a == "--scale")
        o.only = "scale";
      else if (a == "--scale-shards")
        o.only = "shards";
      else if (a == "--instances")
        o.instances = static_cast<int>(std::min(8L, parse_long("--instances", value())));
      else if (a == "--switchyard")
        o.binary = value();
      else if (a == "-h" || a == "--help") {
        std::cout << kUsage;
        return 0;
      } else {
        std::cerr << "switchyard_bench: unknown argument " << a << "\n" << kUsage;
        return 2;
      }
    }
    if (o.batch > 10000) fail("--batch: at most 10000 (routes.yaml limit)");
    // The kit's redis-server keeps its directory (redis.log) too.
    if (o.keep) setenv("SWITCHYARD_KEEP_TEST_DIRS", "1", 1);
    Bench bench(o);
    bench.run();
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "switchyard_bench: " << e.what() << "\n";
    return 1;
  }
}
