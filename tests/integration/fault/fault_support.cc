// fault_support.cc: the fault tests' rig and helpers, compiled once for every fault test.
#include "fault_support.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <stdexcept>

#include "support/plugin_paths.h"

namespace switchyard::test::fault {
namespace {

// Illuminate\Queue\LuaScripts::push() (what Queue::pushRaw() runs for one message, see
// tests/integration/laravel/laravel_push.php), run for each message of ARGV in turn: the message
// onto the queue, then its token onto the "notify" list.
constexpr const char* kLaravelPushScript = R"lua(
for i = 1, #ARGV do
  -- Push the job onto the queue...
  redis.call('rpush', KEYS[1], ARGV[i])
  -- Push a notification onto the "notify" queue...
  redis.call('rpush', KEYS[2], 1)
end
)lua";

// XADD K * message M for each message of ARGV in turn (what a stream producer does).
constexpr const char* kStreamAddScript = R"lua(
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'message', ARGV[i]) end
)lua";

// N of "workers: N" in a source_extra text; 1 (the default) without one.
int64_t workers_in(const std::string& source_extra) {
  const size_t at = source_extra.find("workers:");
  return at == std::string::npos ? 1 : std::stoll(source_extra.substr(at + 8));
}

// "<host>:<slot>" of a stream group consumer "<host>:<slot>:<worker>".
std::string instance_of(const std::string& consumer) {
  size_t colon = consumer.rfind(':');
  return colon == std::string::npos ? consumer : consumer.substr(0, colon);
}

// KEYS: stream. ARGV: an entry id. Returns how many entries come after it.
constexpr const char* kCountEntriesAfterScript = R"lua(
local n, start = 0, '(' .. ARGV[1]
while true do
  local r = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 1000)
  n = n + #r
  if #r < 1000 then return n end
  start = '(' .. r[#r][1]
end
)lua";

}  // namespace

const char* kind_name(SourceKind kind) {
  switch (kind) {
    case SourceKind::kList:
      return "list";
    case SourceKind::kLaravel:
      return "laravel";
    case SourceKind::kStream:
      return "stream";
    case SourceKind::kLease:
      return "lease";
  }
  return "?";
}

// How gtest prints a SourceKind (in failure messages and --gtest_list_tests).
void PrintTo(SourceKind kind, std::ostream* os) { *os << kind_name(kind); }

// gtest parameter names: Suite.Test/list, Suite.Test/laravel, Suite.Test/stream, Suite.Test/lease.
std::string kind_param_name(const testing::TestParamInfo<SourceKind>& info) {
  return kind_name(info.param);
}

std::string source_key(SourceKind kind) {
  return kind == SourceKind::kLaravel ? std::string(kLaravelPrefix) + "queues:" + kSourceName
                                      : std::string(kSourceName);
}

void publish(SourceKind kind, const std::string& key, RedisClient& client,
             const std::vector<std::string>& messages) {
  constexpr size_t kPerCommand = 50;
  if (kind == SourceKind::kList || kind == SourceKind::kLease) {
    client.rpush_many(key, messages, kPerCommand);
    return;
  }
  std::vector<std::vector<std::string>> commands;
  for (size_t i = 0; i < messages.size(); i += kPerCommand) {
    std::vector<std::string> argv;
    if (kind == SourceKind::kLaravel) {
      argv = {"EVAL", kLaravelPushScript, "2", key, key + ":notify"};
    } else {
      argv = {"EVAL", kStreamAddScript, "1", key};
    }
    const size_t end = std::min(messages.size(), i + kPerCommand);
    argv.insert(argv.end(), messages.begin() + static_cast<long>(i),
                messages.begin() + static_cast<long>(end));
    commands.push_back(std::move(argv));
  }
  client.pipeline(commands);
}

size_t distinct_count(const std::vector<std::string>& lines) {
  return std::set<std::string>(lines.begin(), lines.end()).size();
}

// How often `needle` occurs in `text`.
size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

// Sum of the N in every "<prefix> N" (e.g. "reclaimed 12 in-flight") found in text.
int64_t sum_of_numbers_after(const std::string& text, const std::string& prefix) {
  int64_t sum = 0;
  for (size_t pos = text.find(prefix); pos != std::string::npos;
       pos = text.find(prefix, pos + prefix.size())) {
    sum += std::strtoll(text.c_str() + pos + prefix.size(), nullptr, 10);
  }
  return sum;
}

std::map<std::string, Reply> flat_map(const Reply& r) {
  std::map<std::string, Reply> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out[r.elements[i].str] = r.elements[i + 1];
  return out;
}

// A per-test random engine; the seed is printed so a failure can be replayed.
std::mt19937_64 seeded_rng() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SWITCHYARD_FAULT_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "[ fault    ] random seed " << seed << " (set SWITCHYARD_FAULT_SEED to replay)\n";
  return std::mt19937_64(seed);
}

// Redis with an AOF fsynced on every write: nothing acknowledged is lost across a restart.
RedisServerOptions durable_redis() {
  RedisServerOptions options;
  options.appendonly = true;
  options.extra_args = {"--appendfsync", "always"};
  return options;
}

RoutesYaml fault_spec(const std::string& source_extra, const std::string& shutdown_timeout,
                      int max_attempts) {
  RoutesYaml spec;
  spec.source_extra = source_extra;
  spec.extra_yaml =
      "retry: {max_attempts: " + std::to_string(max_attempts) +
      ", initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: " + shutdown_timeout;
  return spec;
}

std::string flaky_handler(const std::string& path, int fail_times) {
  return "flaky:\n  plugin: flaky_sink\n  config: { path: " + json_string(path) +
         ", fail_times: " + std::to_string(fail_times) + " }\n";
}

std::string audit_handler(const std::string& path) {
  return "audit:\n  plugin: jsonl_sink\n  config: { path: " + json_string(path) + " }\n";
}

std::vector<std::string> bad_messages() {
  std::vector<std::string> bad;
  for (int i = 0; i < 4; ++i) bad.push_back("{not json #" + std::to_string(i));
  bad.push_back("[\"an array, not an object\"]");
  bad.push_back("{\"event\":\"no.payload\",\"n\":1}");
  bad.push_back("{\"event\":\"\",\"payload\":{}}");
  for (int i = 0; i < 3; ++i)
    bad.push_back(envelope("nobody.listens", "{\"n\":" + std::to_string(i) + "}"));
  return bad;
}

// n envelopes of `event`, payload {"n": i}, distinct bytes.
std::vector<std::string> numbered(const std::string& event, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(envelope(event, "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The rig

Rig::Rig(SourceKind kind, const std::vector<std::string>& test_plugins,
         RedisServerOptions redis_options)
    : kind_(kind), redis_(std::move(redis_options)), key_(source_key(kind)) {
  namespace fs = std::filesystem;
  plugins_dir_ = dir_.file("plugins");
  fs::create_directories(plugins_dir_);
  fs::create_directories(dir_.file("run"));
  for (const char* p : {"user_registered_sink", "quote_created_sink", "jsonl_sink"})
    copy_plugin(bundled_plugin(p));
  for (const auto& p : test_plugins) copy_plugin(test_plugin(p));
  db_ = dir_.file("analytics.db");
  redis_.start();
  client_.emplace(redis_.client());
  std::cout << "[ fault    ] source kind " << kind_name(kind_) << ": " << key_ << "\n";
}

CommandResult Rig::cli(std::vector<std::string> args, std::source_location where) {
  args.push_back("-c");
  args.push_back(config_path_);
  return SwitchyardProcess::exec(args, 30s, {}, "", where);
}

std::string Rig::write_config(RoutesYaml spec) {
  spec.redis_url = redis_.url();
  spec.plugins_dir = plugins_dir_;
  spec.database = db_;
  spec.source_name = kSourceName;
  spec.source_key = kSourceName;
  if (kind_ == SourceKind::kLaravel) {
    spec.source_format = "laravel";
    spec.laravel_prefix = kLaravelPrefix;
  } else if (kind_ == SourceKind::kStream) {
    spec.source_type = "stream";
    spec.stream_group = kStreamGroup;
    spec.stream_start = "0";
  } else if (kind_ == SourceKind::kLease) {
    const size_t at = spec.source_extra.find("workers:");
    if (at != std::string::npos) {
      size_t end = spec.source_extra.find('\n', at);
      if (end == std::string::npos) end = spec.source_extra.size();
      spec.source_extra.replace(at, end - at, "workers: 1");
    }
    spec.source_extra = "delivery: lease\n" + spec.source_extra;
  }
  notify_slack_ = kMaxInstances * workers_in(spec.source_extra);
  config_path_ = dir_.write("routes.yaml", routes_yaml(spec));
  return config_path_;
}

SwitchyardProcess Rig::start(const std::string& log_name) {
  return SwitchyardProcess::run(config_path_, dir_.file(log_name), {},
                                {{"RUNTIME_DIRECTORY", dir_.file("run")}});
}

void Rig::publish(RedisClient& client, const std::vector<std::string>& messages) {
  fault::publish(kind_, key_, client, messages);
}

int64_t Rig::pending() {
  if (kind_ == SourceKind::kList) return client().llen(key_);
  if (kind_ == SourceKind::kLease) {
    return client()
        .command({"EVAL",
                  "return redis.call('LLEN', KEYS[1]) - "
                  "tonumber(redis.call('HGET', KEYS[2], 'n') or '0')",
                  "2", key_, window_key()})
        .integer;
  }
  if (kind_ == SourceKind::kLaravel) {
    Reply r = client().command({"EVAL",
                                "return {redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2])}",
                                "2", key_, notify_key()});
    const int64_t messages = r.elements.at(0).integer, tokens = r.elements.at(1).integer;
    max_notify_excess_ = std::max(max_notify_excess_, tokens - messages);
    if (tokens > messages + notify_slack_ && notify_excess_.empty()) {
      notify_excess_ = std::to_string(tokens) + " tokens in " + notify_key() + " for " +
                       std::to_string(messages) + " messages in " + key_;
    }
    return messages;
  }
  std::optional<std::map<std::string, Reply>> group = stream_group();
  if (!group) return client().command({"XLEN", key_}).integer;
  const Reply& lag = (*group)["lag"];
  if (lag.type == Reply::Type::kInteger) return lag.integer;
  // Redis cannot tell the lag (after a restart it forgets how many entries the group read,
  // until the group reads up to the end): count the entries after its last-delivered-id.
  return client()
      .command({"EVAL", kCountEntriesAfterScript, "1", key_, (*group)["last-delivered-id"].str})
      .integer;
}

int64_t Rig::inflight_total() {
  if (is_lease()) return lease_window().first;
  if (is_stream()) {
    std::optional<std::map<std::string, Reply>> group = stream_group();
    return group ? (*group)["pending"].integer : 0;
  }
  int64_t n = 0;
  for (const auto& k : client().keys(key_ + ":inflight:*")) n += client().llen(k);
  return n;
}

int64_t Rig::inflight_of(const std::string& instance) {
  if (is_lease()) {
    auto [n, by] = lease_window();
    return by == instance ? n : 0;
  }
  int64_t n = 0;
  if (is_stream()) {
    for (const auto& [name, pending] : stream_consumers())
      if (instance_of(name) == instance) n += pending;
    return n;
  }
  for (const auto& k : client().keys(key_ + ":inflight:" + instance + ":*")) n += client().llen(k);
  return n;
}

std::vector<std::string> Rig::consumers() {
  std::vector<std::string> out;
  if (is_lease()) {
    std::string holder = lease_holder();
    if (!holder.empty()) out.push_back(holder);
    return out;
  }
  if (is_stream()) {
    for (const auto& [name, pending] : stream_consumers()) out.push_back(instance_of(name));
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
  }
  const std::string prefix = key_ + ":heartbeat:";
  for (const auto& k : client().keys(prefix + "*")) out.push_back(k.substr(prefix.size()));
  return out;
}

int64_t Rig::reclaimed_in(const std::string& log) const {
  if (is_lease()) return 0;
  return is_stream() ? sum_of_numbers_after(log, ": claimed ")
                     : sum_of_numbers_after(log, ": reclaimed ");
}

std::string Rig::lease_holder() {
  Reply r = client().command({"GET", lease_key()});
  return r.is_nil() ? std::string() : r.str.substr(0, r.str.find('|'));
}

std::pair<int64_t, std::string> Rig::lease_window() {
  Reply r = client().command({"HMGET", window_key(), "n", "by"});
  const int64_t n = r.elements.at(0).is_nil() ? 0 : std::stoll(r.elements.at(0).str);
  const std::string by = r.elements.at(1).is_nil() ? "" : r.elements.at(1).str;
  return {n, by.substr(0, by.find('|'))};
}

void Rig::expect_nothing_held_by(const std::string& instance) {
  if (is_lease()) {
    EXPECT_NE(lease_holder(), instance) << instance << " still holds " << lease_key();
    EXPECT_EQ(inflight_of(instance), 0)
        << instance
        << " still holds a window: " << client().command({"HGETALL", window_key()}).describe();
    return;
  }
  if (is_stream()) {
    for (const auto& [name, pending] : stream_consumers()) {
      if (instance_of(name) == instance) {
        EXPECT_EQ(pending, 0) << name << " still holds pending entries in " << key_;
      }
    }
    return;
  }
  Reply r = client().command({"HGETALL", key_ + ":inflight"});
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) {
    EXPECT_NE(r.elements[i + 1].str, instance)
        << r.elements[i].str << " is still registered to " << instance;
  }
}

bool Rig::drained() {
  return pending() == 0 && retrying() == 0 && inflight_total() == 0 &&
         (kind_ != SourceKind::kLaravel || client().llen(notify_key()) == 0);
}

bool Rig::all_handled(int64_t users_expected, int64_t quotes_expected, int64_t dead_at_least) {
  return users() == users_expected && quotes() == quotes_expected && drained() &&
         dead_count() >= dead_at_least;
}

std::string Rig::describe() {
  std::ostringstream os;
  try {
    os << kind_name(kind_) << ": users " << users() << ", quotes " << quotes() << ", pending "
       << pending() << ", in flight " << inflight_total() << ", retrying " << retrying()
       << ", dead " << dead_count();
    if (kind_ == SourceKind::kLaravel) os << ", notify tokens " << client().llen(notify_key());
  } catch (const std::exception& e) {
    os << " (state unreadable: " << e.what() << ")";
  }
  return os.str();
}

std::vector<DeadLetterView> Rig::dead_letters() { return read_dead_letters(client(), dead_key()); }

std::multiset<std::string> Rig::dead_messages() {
  std::multiset<std::string> out;
  for (const auto& d : dead_letters()) out.insert(d.message);
  return out;
}

void Rig::expect_drained_state() {
  EXPECT_EQ(retrying(), 0) << "retries left in " << retry_key();
  EXPECT_EQ(client().command({"EXISTS", key_ + ":deliveries"}).integer, 0)
      << "delivery counters left behind: "
      << client().command({"HGETALL", key_ + ":deliveries"}).describe();
  for (const auto& k : client().keys(key_ + ":inflight:*"))
    EXPECT_EQ(client().llen(k), 0) << "messages left in flight in " << k;
  if (is_stream()) {
    std::optional<std::map<std::string, Reply>> group = stream_group();
    ASSERT_TRUE(group.has_value()) << "no consumer group " << kStreamGroup << " on " << key_;
    EXPECT_EQ((*group)["pending"].integer, 0)
        << "entries left pending in group " << kStreamGroup << ": "
        << client().command({"XPENDING", key_, kStreamGroup}).describe();
    EXPECT_EQ(pending(), 0) << "entries never delivered to " << kStreamGroup;
    std::map<std::string, Reply> info = flat_map(client().command({"XINFO", "STREAM", key_}));
    EXPECT_EQ((*group)["last-delivered-id"].str, info["last-generated-id"].str)
        << "the group has not read up to the stream's last entry";
    return;
  }
  EXPECT_EQ(client().llen(key_), 0) << "pending messages left in " << key_;
  if (is_lease()) {
    Reply w = client().command({"HMGET", window_key(), "n", "suspect"});
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_TRUE(w.elements.at(i).is_nil() || w.elements.at(i).str == "0")
          << "a window left in " << window_key() << ": "
          << client().command({"HGETALL", window_key()}).describe();
    }
    EXPECT_EQ(client().keys(key_ + ":inflight*"), std::vector<std::string>())
        << "delivery: lease left in-flight lists or a K:inflight registry";
    EXPECT_EQ(client().keys(key_ + ":heartbeat:*"), std::vector<std::string>())
        << "delivery: lease left heartbeats";
  }
  if (kind_ == SourceKind::kLaravel) {
    EXPECT_EQ(client().llen(notify_key()), 0) << "tokens left behind in " << notify_key();
    pending();  // one more sample of the bound
    EXPECT_EQ(notify_excess_, "") << "K:notify outgrew K by more than " << notify_slack_
                                  << " (one token per worker)";
    std::cout << "[ fault    ] " << notify_key() << " held at most " << max_notify_excess_
              << " token(s) more than " << key_ << " held messages\n";
  }
}

void Rig::copy_plugin(const std::string& so) {
  namespace fs = std::filesystem;
  fs::copy_file(so, fs::path(plugins_dir_) / fs::path(so).filename(),
                fs::copy_options::overwrite_existing);
}

std::optional<std::map<std::string, Reply>> Rig::stream_group() {
  Reply r = client().try_command({"XINFO", "GROUPS", key_});
  if (r.is_error()) {
    if (r.str.find("no such key") != std::string::npos) return std::nullopt;
    throw std::runtime_error("XINFO GROUPS " + key_ + ": " + r.str);
  }
  for (const Reply& g : r.elements) {
    std::map<std::string, Reply> m = flat_map(g);
    if (m["name"].str == kStreamGroup) return m;
  }
  return std::nullopt;
}

std::vector<std::pair<std::string, int64_t>> Rig::stream_consumers() {
  std::vector<std::pair<std::string, int64_t>> out;
  Reply r = client().try_command({"XINFO", "CONSUMERS", key_, kStreamGroup});
  if (r.is_error()) return out;  // no stream or no group yet
  for (const Reply& c : r.elements) {
    std::map<std::string, Reply> m = flat_map(c);
    out.emplace_back(m["name"].str, m["pending"].integer);
  }
  return out;
}

size_t Feed::push(size_t n) {
  n = std::min(n, messages_.size() - pushed_);
  rig_.publish({messages_.begin() + static_cast<long>(pushed_),
                messages_.begin() + static_cast<long>(pushed_ + n)});
  pushed_ += n;
  return n;
}

std::string consumer_name_in_log(const std::string& log) {
  const size_t consuming = log.find(": consuming ");
  if (consuming == std::string::npos) return "";
  const size_t as = log.find(" as ", consuming);
  const size_t paren = as == std::string::npos ? as : log.find(" (", as);
  const size_t eol = log.find('\n', consuming);
  if (paren == std::string::npos || paren > eol) return "";
  return log.substr(as + 4, paren - as - 4);
}

// Starts `n` daemons on the rig's config, one at a time, each with its own log
// (switchyard-<i>.log), and waits until each shows up as a consumer (its consumer name known
void start_instances(Rig& rig, int n, Instances* out) {
  if (rig.is_lease()) {
    for (int i = 0; i < n; ++i) {
      out->daemons.push_back(rig.start("switchyard-" + std::to_string(i) + ".log"));
      SwitchyardProcess& d = out->daemons.back();
      std::string name;
      ASSERT_TRUE(wait_until(
          [&] {
            name = consumer_name_in_log(d.log());
            if (name.empty()) return false;
            return i == 0 ? rig.lease_holder() == name
                          : d.log().find("standing by: consumer " + out->names[0] + " holds") !=
                                std::string::npos;
          },
          10s, "instance " + std::to_string(i) + (i == 0 ? " to hold the lease" : " to stand by")))
          << d.log_tail();
      ASSERT_EQ(std::count(out->names.begin(), out->names.end(), name), 0) << name;
      out->names.push_back(name);
    }
    return;
  }
  for (int i = 0; i < n; ++i) {
    out->daemons.push_back(rig.start("switchyard-" + std::to_string(i) + ".log"));
    ASSERT_TRUE(wait_until([&] { return rig.consumers().size() == out->names.size() + 1; }, 10s,
                           "instance " + std::to_string(i) + " to show up as a consumer"))
        << out->daemons.back().log_tail();
    for (const auto& name : rig.consumers())
      if (std::find(out->names.begin(), out->names.end(), name) == out->names.end())
        out->names.push_back(name);
  }
  ASSERT_EQ(out->names.size(), static_cast<size_t>(n));
}

// True when every thread of `pid` is in the stopped state ('T' in /proc/PID/task/TID/stat).
bool all_threads_stopped(pid_t pid) {
  namespace fs = std::filesystem;
  int threads = 0;
  std::error_code ec;
  for (const auto& task : fs::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    const std::string stat = read_file(task.path().string() + "/stat");
    const size_t paren = stat.rfind(')');  // the command name may contain spaces
    if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
    if (stat[paren + 2] != 'T' && stat[paren + 2] != 't') return false;
    ++threads;
  }
  return threads > 0;
}

// True when nobody holds the SQLite database's write lock for `wait` (a frozen process holding it
// would make every other instance's sink wait out its busy timeout).
bool database_writable(const std::string& path, std::chrono::milliseconds wait) {
  sqlite3* db = nullptr;
  bool ok = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK &&
            sqlite3_busy_timeout(db, static_cast<int>(wait.count())) == SQLITE_OK &&
            sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  if (ok) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(db);
  return ok;
}

}  // namespace switchyard::test::fault
