// fault_support.h: the fault tests' rig (Redis, plugins dir, routes.yaml, publishing, exact-state
// checks) for each source kind the fault suite runs against (SourceKind: list, laravel, stream,
// lease).
//
// Every per-kind difference lives here, so that the tests read the same for all four kinds:
//   kind     K (the key read)                publish (pipelined)     pending    in flight
//   list     events                          RPUSH K M               LLEN K     K:inflight:* lists
//   laravel  laravel_database_queues:events  Laravel's push script:  LLEN K     K:inflight:* lists
//                                            RPUSH K M, RPUSH K:notify 1
//   stream   events (group switchyard_fault  XADD K * message M      group lag  group pending
//            created at start "0")                                              entries list
//   lease    events (delivery: lease,        RPUSH K M               LLEN K     n of K:window (the
//            workers: 1)                                             - n        head of K taken)
// lease: one consumer is active (K:lease); the others stand by and take over when its lease
// expires. No in-flight lists, heartbeats or K:inflight registry: the window stays at the head of
// K until the ack trims it (README "Two delivery modes").
// Dead letters go to K:dead and retries to K:retry for every kind (README "Redis keys", "Laravel
// producers", "Streams"); the source is named "events" in every dead letter.
#ifndef SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test::fault {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Source kinds

// The ways Switchyard reads a source (README "routes.yaml", "Laravel producers", "Streams", "Two
// delivery modes"): kList is a list with delivery: inflight (the default), kLease the same list
// with delivery: lease.
enum class SourceKind { kList, kLaravel, kStream, kLease };

inline const char* kind_name(SourceKind kind) {
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
inline void PrintTo(SourceKind kind, std::ostream* os) { *os << kind_name(kind); }

// gtest parameter names: Suite.Test/list, Suite.Test/laravel, Suite.Test/stream, Suite.Test/lease.
inline std::string kind_param_name(const testing::TestParamInfo<SourceKind>& info) {
  return kind_name(info.param);
}

inline auto all_kinds() {
  return testing::Values(SourceKind::kList, SourceKind::kLaravel, SourceKind::kStream,
                         SourceKind::kLease);
}

// INSTANTIATE_FAULT_SUITE(Suite): Suite (a TEST_P suite taking a SourceKind) for every kind.
#define INSTANTIATE_FAULT_SUITE(suite)                                      \
  INSTANTIATE_TEST_SUITE_P(, suite, ::switchyard::test::fault::all_kinds(), \
                           ::switchyard::test::fault::kind_param_name)

// The source every fault test configures is named "events" (its dead letters say so).
inline constexpr const char* kSourceName = "events";
// format: laravel: the connection prefix (Laravel's pre-2025 default); the queue is kSourceName.
inline constexpr const char* kLaravelPrefix = "laravel_database_";
// type: stream: the consumer group.
inline constexpr const char* kStreamGroup = "switchyard_fault";

// The Redis key Switchyard reads for the "events" source of `kind` (all internal keys hang off it).
inline std::string source_key(SourceKind kind) {
  return kind == SourceKind::kLaravel ? std::string(kLaravelPrefix) + "queues:" + kSourceName
                                      : std::string(kSourceName);
}

// Illuminate\Queue\LuaScripts::push() (what Queue::pushRaw() runs for one message, see
// tests/integration/laravel/laravel_push.php), run for each message of ARGV in turn: the message
// onto the queue, then its token onto the "notify" list.
inline constexpr const char* kLaravelPushScript = R"lua(
for i = 1, #ARGV do
  -- Push the job onto the queue...
  redis.call('rpush', KEYS[1], ARGV[i])
  -- Push a notification onto the "notify" queue...
  redis.call('rpush', KEYS[2], 1)
end
)lua";

// XADD K * message M for each message of ARGV in turn (what a stream producer does).
inline constexpr const char* kStreamAddScript = R"lua(
for i = 1, #ARGV do redis.call('XADD', KEYS[1], '*', 'message', ARGV[i]) end
)lua";

// Publishes `messages` in order onto the source `key` of `kind`, as its producers do, pipelined
// and 50 messages per command (as fast as the producer side can go, so that a backlog builds up):
// list, lease: RPUSH K; laravel: Laravel's push script per message (the message onto K, then a
// token onto K:notify); stream: XADD K * message M.
// Throws std::runtime_error on Redis errors. Any connection may be used (one per thread).
inline void publish(SourceKind kind, const std::string& key, RedisClient& client,
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

// ---------------------------------------------------------------------------------------------
// Small helpers

// One element of K:dead, decoded (README "Redis keys").
struct DeadLetterView {
  std::string raw;
  std::string message;
  std::optional<std::string> handler;  // null: failed before routing (or crashed the process)
  std::string reason;
  int attempts = -1;
  std::string source;
  std::string failed_at;
  std::string instance;
};

// Decodes one K:dead element; a malformed one fails the test (and returns what it could read).
inline DeadLetterView decode_dead_letter_json(const std::string& raw) {
  DeadLetterView d;
  d.raw = raw;
  rapidjson::Document doc;
  doc.Parse(raw.data(), raw.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    ADD_FAILURE() << "K:dead element is not a JSON object: " << raw;
    return d;
  }
  auto str = [&](const char* key, std::string* out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      ADD_FAILURE() << "K:dead element has no string \"" << key << "\": " << raw;
      return;
    }
    out->assign(it->value.GetString(), it->value.GetStringLength());
  };
  str("message", &d.message);
  str("source", &d.source);
  str("reason", &d.reason);
  str("failed_at", &d.failed_at);
  str("instance", &d.instance);
  auto h = doc.FindMember("handler");
  if (h == doc.MemberEnd()) {
    ADD_FAILURE() << "K:dead element has no \"handler\": " << raw;
  } else if (h->value.IsString()) {
    d.handler = std::string(h->value.GetString(), h->value.GetStringLength());
  } else if (!h->value.IsNull()) {
    ADD_FAILURE() << "K:dead \"handler\" is neither a string nor null: " << raw;
  }
  auto a = doc.FindMember("attempts");
  if (a == doc.MemberEnd() || !a->value.IsInt()) {
    ADD_FAILURE() << "K:dead element has no integer \"attempts\": " << raw;
  } else {
    d.attempts = a->value.GetInt();
  }
  return d;
}

inline size_t distinct_count(const std::vector<std::string>& lines) {
  return std::set<std::string>(lines.begin(), lines.end()).size();
}

// How often `needle` occurs in `text`.
inline size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

// Sum of the N in every "<prefix> N" (e.g. "reclaimed 12 in-flight") found in text.
inline int64_t sum_of_numbers_after(const std::string& text, const std::string& prefix) {
  int64_t sum = 0;
  for (size_t pos = text.find(prefix); pos != std::string::npos;
       pos = text.find(prefix, pos + prefix.size())) {
    sum += std::strtoll(text.c_str() + pos + prefix.size(), nullptr, 10);
  }
  return sum;
}

// The warning a worker logs when its ack finds its batch gone (reclaimed by another instance while
// it was silent, or an ack whose reply was lost): the ack wrote nothing.
inline constexpr const char* kLateAckRefused = "is no longer this worker's";

// A RESP2 flat map reply (XINFO ...: key, value, key, value...) as a map.
inline std::map<std::string, Reply> flat_map(const Reply& r) {
  std::map<std::string, Reply> out;
  for (size_t i = 0; i + 1 < r.elements.size(); i += 2) out[r.elements[i].str] = r.elements[i + 1];
  return out;
}

// A per-test random engine; the seed is printed so a failure can be replayed.
inline std::mt19937_64 seeded_rng() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SWITCHYARD_FAULT_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "[ fault    ] random seed " << seed << " (set SWITCHYARD_FAULT_SEED to replay)\n";
  return std::mt19937_64(seed);
}

// Redis with an AOF fsynced on every write: nothing acknowledged is lost across a restart.
inline RedisServerOptions durable_redis() {
  RedisServerOptions options;
  options.appendonly = true;
  options.extra_args = {"--appendfsync", "always"};
  return options;
}

// The routes.yaml most fault tests use: the source tuned with source_extra ("batch: 100\n
// workers: 2\n..."), fast retries (10 ms..100 ms, max_attempts attempts), and shutdown_timeout.
inline RoutesYaml fault_spec(const std::string& source_extra,
                             const std::string& shutdown_timeout = "5s", int max_attempts = 5) {
  RoutesYaml spec;
  spec.source_extra = source_extra;
  spec.extra_yaml =
      "retry: {max_attempts: " + std::to_string(max_attempts) +
      ", initial_backoff: 10ms, max_backoff: 100ms}\nshutdown_timeout: " + shutdown_timeout;
  return spec;
}

// handlers: entries (RoutesYaml::extra_handlers) for plugins that write a file at `path`:
// "flaky" (flaky_sink: retry fail_times times per message, then a line) and "audit" (jsonl_sink:
// a line per message).
inline std::string flaky_handler(const std::string& path, int fail_times) {
  return "flaky:\n  plugin: flaky_sink\n  config: { path: " + json_string(path) +
         ", fail_times: " + std::to_string(fail_times) + " }\n";
}
inline std::string audit_handler(const std::string& path) {
  return "audit:\n  plugin: jsonl_sink\n  config: { path: " + json_string(path) + " }\n";
}

// Ten deliberately bad messages, each distinct: invalid JSON, JSON that is not an envelope, and
// envelopes whose event has no route (unrouted: dead_letter, the default).
inline std::vector<std::string> bad_messages() {
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
inline std::vector<std::string> numbered(const std::string& event, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) out.push_back(envelope(event, "{\"n\":" + std::to_string(i) + "}"));
  return out;
}

// ---------------------------------------------------------------------------------------------
// The rig

// A test's world for one source kind: TempDir (config, logs, database, plugins), one redis-server,
// one client, and the kind-specific ways to publish, to read what is pending or in flight, and to
// check that nothing is left.
// Thread safety: drive it from the test's main thread; other threads publish through
// publish(client, ...) with their own RedisClient.
class Rig {
 public:
  // test_plugins: names of test plugins (tests/plugins) copied next to the bundled ones.
  explicit Rig(SourceKind kind, const std::vector<std::string>& test_plugins = {},
               RedisServerOptions redis_options = {})
      : kind_(kind), redis_(std::move(redis_options)), key_(source_key(kind)) {
    namespace fs = std::filesystem;
    plugins_dir_ = dir_.file("plugins");
    fs::create_directories(plugins_dir_);
    fs::create_directories(dir_.file("run"));
    for (const char* p : {"user_registered_sink", "quote_created_sink", "jsonl_sink"})
      copy_plugin(std::string(SWITCHYARD_PLUGIN_DIR) + "/" + p + ".so");
    for (const auto& p : test_plugins)
      copy_plugin(std::string(SWITCHYARD_TEST_PLUGIN_DIR) + "/" + p + ".so");
    db_ = dir_.file("analytics.db");
    redis_.start();
    client_.emplace(redis_.client());
    std::cout << "[ fault    ] source kind " << kind_name(kind_) << ": " << key_ << "\n";
  }

  SourceKind kind() const { return kind_; }
  bool is_stream() const { return kind_ == SourceKind::kStream; }
  bool is_lease() const { return kind_ == SourceKind::kLease; }
  const TempDir& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  RedisServer& redis() { return redis_; }
  RedisClient& client() { return *client_; }
  const std::string& db() const { return db_; }
  const std::string& config_path() const { return config_path_; }
  // K: the Redis key the source reads (a list, or the stream).
  const std::string& key() const { return key_; }
  std::string dead_key() const { return key_ + ":dead"; }
  std::string retry_key() const { return key_ + ":retry"; }
  std::string notify_key() const { return key_ + ":notify"; }
  // lease: the lease and the window (README "Redis keys").
  std::string lease_key() const { return key_ + ":lease"; }
  std::string window_key() const { return key_ + ":window"; }

  // Fills redis_url, plugins_dir, database and the source kind (type, format and prefix, group
  // and start "0" so that a backlog published before the first run is read; lease: delivery:
  // lease, and "workers: N" rewritten to "workers: 1", the only count lease allows) into spec,
  // and writes DIR/routes.yaml.
  std::string write_config(RoutesYaml spec) {
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

  // Starts `switchyard run` on the config, output appended to DIR/<log_name>. Its consumer-name
  // lock files and pid file go to DIR/run (RUNTIME_DIRECTORY), shared by this test's daemons
  // and removed with the test.
  SwitchyardProcess start(const std::string& log_name = "switchyard.log") {
    return SwitchyardProcess::run(config_path_, dir_.file(log_name), {},
                                  {{"RUNTIME_DIRECTORY", dir_.file("run")}});
  }

  // `switchyard ARGS... -c CONFIG`.
  CommandResult cli(std::vector<std::string> args,
                    std::source_location where = std::source_location::current()) {
    args.push_back("-c");
    args.push_back(config_path_);
    return SwitchyardProcess::exec(args, 30s, {}, "", where);
  }

  // Publishes as the kind's producers do (see publish() above), on the rig's connection or on
  // another thread's.
  void publish(const std::vector<std::string>& messages) { publish(client(), messages); }
  void publish(RedisClient& client, const std::vector<std::string>& messages) {
    fault::publish(kind_, key_, client, messages);
  }

  int64_t users() { return count_rows(db_, "user_registrations"); }
  int64_t quotes() { return count_rows(db_, "quotes"); }
  // users + quotes, counting a missing table as 0.
  int64_t rows() { return std::max<int64_t>(0, users()) + std::max<int64_t>(0, quotes()); }

  // Messages published and not yet taken by any consumer. Lists: LLEN K. Streams: the group's
  // lag (entries not yet delivered to the group; all of them before the group exists). Laravel:
  // also samples, in the same atomic read, that K:notify stays bounded by K: at most one token
  // per message, plus one per worker (notify_slack_). A take trims one token per message it took
  // (minus the one its BLPOP consumed); a worker whose BLPOP popped a token while another worker
  // took that token's message leaves one token too many, until an idle BLPOP consumes it.
  // Lease: LLEN K minus the window at its head (n of K:window), read atomically.
  int64_t pending() {
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
      Reply r = client().command(
          {"EVAL", "return {redis.call('LLEN', KEYS[1]), redis.call('LLEN', KEYS[2])}", "2", key_,
           notify_key()});
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

  // Messages taken and not yet acknowledged. Lists: the sum of every in-flight list
  // (K:inflight:<consumer>:<worker>). Streams: the group's pending entries list. Lease: the
  // window (n of K:window; 0 when it does not exist).
  int64_t inflight_total() {
    if (is_lease()) return lease_window().first;
    if (is_stream()) {
      std::optional<std::map<std::string, Reply>> group = stream_group();
      return group ? (*group)["pending"].integer : 0;
    }
    int64_t n = 0;
    for (const auto& k : client().keys(key_ + ":inflight:*")) n += client().llen(k);
    return n;
  }
  // Messages in flight with one consumer instance (a `switchyard run` process, `<host>:<slot>`):
  // lists: in its in-flight lists; streams: pending for its group consumers `<instance>:<worker>`;
  // lease: the window, if the instance took it (by of K:window; a dead holder's window stays its
  // own until another consumer takes it over).
  int64_t inflight_of(const std::string& instance) {
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
    for (const auto& k : client().keys(key_ + ":inflight:" + instance + ":*"))
      n += client().llen(k);
    return n;
  }
  // Consumer instances (`<host>:<slot>`). Lists: those with a live heartbeat (K:heartbeat:*).
  // Streams (no heartbeats): every instance with a consumer in the group, which a worker creates
  // with its first read; a dead one stays listed. Lease: the one active consumer, the holder of
  // K:lease (standbys do not show; start_instances() finds them in their logs).
  std::vector<std::string> consumers() {
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
  // Messages handed over from silent instances to live ones, as the daemon's log counts them.
  // Lists: "reclaimed N in-flight message(s)" (housekeeping, per heartbeat expiry). Streams:
  // "claimed N pending entries" (XAUTOCLAIM of entries idle longer than reclaim_after).
  // Lease: nothing is handed over (the window stays at the head of K and the new holder takes
  // it one message at a time), so no log line counts it: always 0; see takeovers_in().
  int64_t reclaimed_in(const std::string& log) const {
    if (is_lease()) return 0;
    return is_stream() ? sum_of_numbers_after(log, ": claimed ")
                       : sum_of_numbers_after(log, ": reclaimed ");
  }
  // Lease: how many times the daemon whose log this is took over the lease from another consumer
  // after standing by ("this instance (NAME) now holds the lease").
  static size_t takeovers_in(const std::string& log) {
    return occurrences(log, ") now holds the lease ");
  }

  // Lease: the consumer name in K:lease ("<consumer>|<token>"); "" when nobody holds it.
  std::string lease_holder() {
    Reply r = client().command({"GET", lease_key()});
    return r.is_nil() ? std::string() : r.str.substr(0, r.str.find('|'));
  }
  // Lease: {n, consumer} of K:window, the messages at the head of K taken and not yet acked and
  // the consumer that took them (read atomically); {0, ""} when it does not exist.
  std::pair<int64_t, std::string> lease_window() {
    Reply r = client().command({"HMGET", window_key(), "n", "by"});
    const int64_t n = r.elements.at(0).is_nil() ? 0 : std::stoll(r.elements.at(0).str);
    const std::string by = r.elements.at(1).is_nil() ? "" : r.elements.at(1).str;
    return {n, by.substr(0, by.find('|'))};
  }

  // Fails the test when anything still names `instance` as a holder of messages. Lists: the
  // K:inflight registry (in-flight list -> consumer). Streams: the instance's group consumers
  // hold no pending entries. Lease: the instance neither holds the lease nor a window.
  void expect_nothing_held_by(const std::string& instance) {
    if (is_lease()) {
      EXPECT_NE(lease_holder(), instance) << instance << " still holds " << lease_key();
      EXPECT_EQ(inflight_of(instance), 0)
          << instance << " still holds a window: "
          << client().command({"HGETALL", window_key()}).describe();
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

  int64_t retrying() { return client().zcard(retry_key()); }

  // Nothing pending, scheduled for retry, or in flight; for laravel, no token left in K:notify
  // either (a running daemon's idle workers consume the stray ones, see pending()).
  bool drained() {
    return pending() == 0 && retrying() == 0 && inflight_total() == 0 &&
           (kind_ != SourceKind::kLaravel || client().llen(notify_key()) == 0);
  }

  // The end state of a stream of `users` + `quotes` good events and at least `dead` dead letters:
  // every row in SQLite, nothing pending, retrying or in flight.
  bool all_handled(int64_t users_expected, int64_t quotes_expected, int64_t dead_at_least = 0) {
    return users() == users_expected && quotes() == quotes_expected && drained() &&
           dead_count() >= dead_at_least;
  }

  // "users U, quotes Q, pending P, in flight I, retrying R, dead D", for failure messages.
  std::string describe() {
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

  std::vector<DeadLetterView> dead_letters() {
    std::vector<DeadLetterView> out;
    for (const auto& raw : client().lrange(dead_key())) out.push_back(decode_dead_letter_json(raw));
    return out;
  }
  int64_t dead_count() { return client().llen(dead_key()); }
  // The dead letters' messages.
  std::multiset<std::string> dead_messages() {
    std::multiset<std::string> out;
    for (const auto& d : dead_letters()) out.insert(d.message);
    return out;
  }

  // Asserts the end state every fault test promises, for the rig's kind:
  //   all kinds: K:retry empty; no delivery counters left behind (K:deliveries).
  //   list, laravel: K and every in-flight list empty; laravel: K:notify empty too, and within
  //     its bound (messages + one token per worker) whenever pending() looked.
  //   stream: the group exists, has delivered the last entry (lag 0, last-delivered-id equal to
  //     the stream's last-generated-id) and has no pending entries; no in-flight lists exist.
  //   lease: K empty; K:window gone (or n 0, nothing suspect); and nothing of delivery: inflight
  //     (no in-flight list, no K:inflight registry, no heartbeat): the modes do not mix.
  void expect_drained_state() {
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
      EXPECT_EQ(notify_excess_, "")
          << "K:notify outgrew K by more than " << notify_slack_ << " (one token per worker)";
      std::cout << "[ fault    ] " << notify_key() << " held at most " << max_notify_excess_
                << " token(s) more than " << key_ << " held messages\n";
    }
  }

  // Fails unless K:dead holds exactly `expected` (as a multiset of messages): nothing lost,
  // nothing dead-lettered twice.
  template <typename Container>
  void expect_dead_exactly(const Container& expected) {
    EXPECT_EQ(dead_messages(), std::multiset<std::string>(expected.begin(), expected.end()));
  }

 private:
  void copy_plugin(const std::string& so) {
    namespace fs = std::filesystem;
    fs::copy_file(so, fs::path(plugins_dir_) / fs::path(so).filename(),
                  fs::copy_options::overwrite_existing);
  }

  // The most `switchyard run` processes a fault test runs at once on one source.
  static constexpr int64_t kMaxInstances = 3;
  // N of "workers: N" in a source_extra text; 1 (the default) without one.
  static int64_t workers_in(const std::string& source_extra) {
    const size_t at = source_extra.find("workers:");
    return at == std::string::npos ? 1 : std::stoll(source_extra.substr(at + 8));
  }

  // "<host>:<slot>" of a stream group consumer "<host>:<slot>:<worker>".
  static std::string instance_of(const std::string& consumer) {
    size_t colon = consumer.rfind(':');
    return colon == std::string::npos ? consumer : consumer.substr(0, colon);
  }
  // KEYS: stream. ARGV: an entry id. Returns how many entries come after it.
  static constexpr const char* kCountEntriesAfterScript = R"lua(
local n, start = 0, '(' .. ARGV[1]
while true do
  local r = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', 1000)
  n = n + #r
  if #r < 1000 then return n end
  start = '(' .. r[#r][1]
end
)lua";
  // XINFO GROUPS K, our group's fields; nullopt before the stream or the group exists.
  std::optional<std::map<std::string, Reply>> stream_group() {
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
  // XINFO CONSUMERS K group: consumer name -> pending entries.
  std::vector<std::pair<std::string, int64_t>> stream_consumers() {
    std::vector<std::pair<std::string, int64_t>> out;
    Reply r = client().try_command({"XINFO", "CONSUMERS", key_, kStreamGroup});
    if (r.is_error()) return out;  // no stream or no group yet
    for (const Reply& c : r.elements) {
      std::map<std::string, Reply> m = flat_map(c);
      out.emplace_back(m["name"].str, m["pending"].integer);
    }
    return out;
  }

  SourceKind kind_;
  TempDir dir_;
  RedisServer redis_;
  std::optional<RedisClient> client_;
  std::string plugins_dir_;
  std::string db_;
  std::string config_path_;
  std::string key_;
  // laravel: the allowed excess of K:notify over K (one token per worker that may run at once,
  // up to kMaxInstances instances), the largest seen, and the first time it was exceeded.
  int64_t notify_slack_ = kMaxInstances;
  int64_t max_notify_excess_ = 0;
  std::string notify_excess_;
};

// A message stream published in pieces: push(n) publishes the next n messages (fewer at the end).
// Used by tests that keep a producer going while they inject faults.
class Feed {
 public:
  Feed(Rig& rig, std::vector<std::string> messages) : rig_(rig), messages_(std::move(messages)) {}
  // Publishes the next n messages (or what is left); returns how many it published.
  size_t push(size_t n) {
    n = std::min(n, messages_.size() - pushed_);
    rig_.publish({messages_.begin() + static_cast<long>(pushed_),
                  messages_.begin() + static_cast<long>(pushed_ + n)});
    pushed_ += n;
    return n;
  }
  size_t push_rest() { return push(messages_.size()); }
  // Adds messages at the end of the feed (not published yet).
  void append(const std::vector<std::string>& more) {
    messages_.insert(messages_.end(), more.begin(), more.end());
  }
  size_t pushed() const { return pushed_; }
  size_t size() const { return messages_.size(); }
  bool done() const { return pushed_ == messages_.size(); }

 private:
  Rig& rig_;
  std::vector<std::string> messages_;
  size_t pushed_ = 0;
};

// The consumer name a daemon logs at start ("source S: consuming K from URL as NAME (...)");
// "" before it did.
inline std::string consumer_name_in_log(const std::string& log) {
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
// before the next one starts). names[i] is daemons[i]'s consumer instance name.
// Lease: daemons[0] holds the lease (it is the active consumer); each later one has logged that
// it stands by.
struct Instances {
  std::vector<SwitchyardProcess> daemons;
  std::vector<std::string> names;
};
inline void start_instances(Rig& rig, int n, Instances* out) {
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

// The base of every fault test suite: TEST_P(Suite, Name) { Rig rig(GetParam()); ... }.
class FaultTest : public testing::TestWithParam<SourceKind> {
 protected:
  SourceKind kind() const { return GetParam(); }
};

}  // namespace switchyard::test::fault

#endif  // SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
