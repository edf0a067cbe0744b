// config.h: the validated contents of routes.yaml (README "routes.yaml") as plain values.
// Thread safety: immutable once loaded; share freely across threads.
#ifndef SWITCHYARD_CONFIG_CONFIG_H_
#define SWITCHYARD_CONFIG_CONFIG_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchyard {

using Millis = std::chrono::milliseconds;

// A position in routes.yaml, for error messages: "FILE:LINE:COL" (1-based).
struct Mark {
  std::string file;
  int line = 0;
  int column = 0;
  std::string str() const {
    return file + ":" + std::to_string(line) + ":" + std::to_string(column);
  }
};

// sources.*.type: where producers write (README "Streams").
enum class SourceType { kList, kStream };
// sources.*.format: what a message is (README "Laravel producers").
enum class SourceFormat { kRaw, kLaravel };
// sources.*.delivery, type list: per-worker in-flight lists (competing consumers), or one active
// consumer that holds K:lease and acknowledges by trimming the head (README "Two delivery modes").
enum class Delivery { kInflight, kLease };
// unrouted: what happens to an event no route matches.
enum class Unrouted { kDeadLetter, kDrop };

// The word routes.yaml uses for each value, indexed by the enum's value (the loader reads these).
inline constexpr const char* kSourceTypeNames[] = {"list", "stream"};
inline constexpr const char* kSourceFormatNames[] = {"raw", "laravel"};
inline constexpr const char* kDeliveryNames[] = {"inflight", "lease"};
inline constexpr const char* kUnroutedNames[] = {"dead_letter", "drop"};
inline const char* to_string(SourceType v) { return kSourceTypeNames[static_cast<int>(v)]; }
inline const char* to_string(SourceFormat v) { return kSourceFormatNames[static_cast<int>(v)]; }
inline const char* to_string(Delivery v) { return kDeliveryNames[static_cast<int>(v)]; }
inline const char* to_string(Unrouted v) { return kUnroutedNames[static_cast<int>(v)]; }

// Each struct below holds one map of routes.yaml. Its key, range, default and meaning are
// declared once, in the key table (config/config_keys.cc); the constructors apply those defaults,
// so a default-constructed struct equals a map written empty.

struct RedisConfig {
  RedisConfig();
  std::string url;            // redis://[user@]host[:port][/db] or unix:///path
  std::string password_file;  // optional; absolute after loading
  // Instead of url (one of the three): a Redis Cluster's seed nodes, or Redis Sentinel's
  // sentinels and the master's name. Empty when not used.
  std::vector<std::string> cluster;
  std::string sentinel_master;
  std::vector<std::string> sentinel_nodes;
  std::string sentinel_password_file;  // optional; absolute after loading
  std::string sentinel_user;           // optional; the sentinels' ACL user
  Mark mark;  // where url is written (else the `redis:` key, else FILE:1:1), for URL errors
};

// max_rate: at most `tokens` per `per` (README "Pace and dedup"); tokens 0: no limit.
struct Rate {
  int64_t tokens = 0;
  Millis per{0};
  bool limited() const { return tokens > 0; }
  bool operator==(const Rate&) const = default;
};

struct SourceConfig {
  SourceConfig();
  std::string name;  // the key under `sources:`
  SourceType type{};
  std::string key;  // the Redis key producers push to (defaults to the name)
  SourceFormat format{};
  std::string prefix;             // format laravel: the connection prefix (required there)
  std::string queue;              // format laravel: the queue name as written (key becomes
                                  // prefix + "queues:" + queue, or "queues:{queue}")
  bool cluster_hash_tag = false;  // format laravel: queues:{Q} instead of queues:Q
  std::string group;              // type stream: consumer group
  std::string start;              // type stream: where a new group starts ($ or 0)
  int batch = 0;                  // most messages taken per round trip
  int workers = 0;                // consumer threads
  int max_deliveries = 0;         // deliveries without an ack before dead-lettering
  long long dead_letter_max = 0;  // most dead letters K:dead keeps; the daemon trims the oldest
  Millis dead_letter_max_age{0};  // the daemon drops dead letters older than this; 0: any age
  Millis reclaim_after{0};        // a silent instance's in-flight messages are reclaimed after
  Delivery delivery{};            // type list only
  Rate max_rate;                  // messages taken from K, by every instance together
  bool handlers_at_once = false;  // a batch's calls of several handlers run at once (lanes)
  bool archive = false;           // `archive:` given: handled messages go to K:archive
  Millis archive_retention{0};    // archive entries older than this are trimmed
  long long archive_max_len = 0;  // most entries K:archive keeps (approximately)
  Mark mark;                      // where the source's name is written
};

// One key of a handler's `config:` map, with where it was written (to report unknown keys).
struct ConfigKey {
  std::string name;
  Mark mark;
};

// handlers.*.dedup: a delivery whose `key` (a JSON pointer into the envelope) was handled
// within `window` is not handed to the handler again. key empty: no dedup.
struct DedupConfig {
  DedupConfig();
  std::string key;
  Millis window{0};
};

struct HandlerConfig {
  HandlerConfig();
  std::string name;                    // the key under `handlers:`
  std::string plugin;                  // plugin name: loads PLUGINS_DIR/<plugin>.so
  std::string config_json;             // the `config:` map as a JSON object text ("{}" when absent)
  std::vector<ConfigKey> config_keys;  // top-level keys of `config:`, in order
  Mark mark;                           // where the handler is defined
  Mark plugin_mark;                    // where `plugin:` is written
  Millis handler_timeout{0};           // one call running longer is a stuck handler (watchdog)
  Rate max_rate;                       // deliveries per source, by every instance together
  int max_in_flight = 0;               // concurrent calls in this process; 0: no limit
  DedupConfig dedup;
};

struct RouteConfig {
  std::string pattern;                // exact event name, glob ("quote.*") or "*"
  std::vector<std::string> handlers;  // handler names, each defined under `handlers:`
  Mark mark;                          // where the pattern is written
};

struct RetryConfig {
  RetryConfig();
  int max_attempts = 0;
  Millis initial_backoff{0};
  Millis max_backoff{0};
};

struct LimitsConfig {
  LimitsConfig();
  size_t max_message_bytes = 0;
  int max_depth = 0;
};

struct MetricsConfig {
  MetricsConfig();
  std::string listen;  // host:port; empty = off
};

struct UiConfig {
  UiConfig();
  bool enabled = false;    // the daemon serves the web console under /ui/ of metrics.listen
  bool write = false;      // replay and purge allowed (with the token)
  std::string token_file;  // the write token's file; absolute after loading
  Mark mark;               // where the `ui:` key is written, for token file errors
};

struct LoggingConfig {
  LoggingConfig();
  std::string level;   // trace | debug | info | warn | error
  std::string format;  // text | json
};

struct Config {
  Config();
  std::string path;  // routes.yaml as given
  std::string dir;   // its directory (absolute); relative paths resolve against it
  int version = 1;
  RedisConfig redis;
  std::string plugins_dir;  // absolute after loading; empty = the binary's default
  std::vector<SourceConfig> sources;
  std::vector<HandlerConfig> handlers;
  std::vector<RouteConfig> routes;
  Unrouted unrouted{};
  RetryConfig retry;
  Millis shutdown_timeout{0};
  LimitsConfig limits;
  std::map<std::string, std::string> contracts;  // event -> schema file (absolute)
  std::map<std::string, Mark> contract_marks;    // event -> where its schema path is written
  MetricsConfig metrics;
  UiConfig ui;
  LoggingConfig logging;

  const HandlerConfig* find_handler(const std::string& name) const {
    for (const auto& h : handlers)
      if (h.name == name) return &h;
    return nullptr;
  }
};

}  // namespace switchyard

#endif  // SWITCHYARD_CONFIG_CONFIG_H_
