// config.h: the validated contents of routes.yaml (README "routes.yaml") as plain values.
// Thread safety: immutable once loaded; share freely across threads.
#ifndef SWITCHYARD_CONFIG_CONFIG_H_
#define SWITCHYARD_CONFIG_CONFIG_H_

#include <chrono>
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

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";  // redis://[user@]host[:port][/db] or unix:///path
  std::string password_file;                     // optional; absolute after loading
  Mark mark;  // where url is written (else the `redis:` key, else FILE:1:1), for URL errors
};

struct SourceConfig {
  std::string name;                  // the key under `sources:`
  std::string type = "list";         // list | stream
  std::string key;                   // the Redis key producers push to (defaults to the name)
  std::string format = "raw";        // raw | laravel
  std::string prefix;                // format laravel: the connection prefix (required there)
  std::string queue;                 // format laravel: the queue name as written (key becomes
                                     // prefix + "queues:" + queue, or "queues:{queue}")
  bool cluster_hash_tag = false;     // format laravel: queues:{Q} instead of queues:Q
  std::string group = "switchyard";  // type stream: consumer group
  std::string start = "$";           // type stream: where a new group starts ($ or 0)
  int batch = 256;                   // most messages taken per round trip (1..10000)
  int workers = 1;                   // consumer threads (1..64)
  int max_deliveries = 5;            // deliveries without an ack before dead-lettering (>= 1)
  long long dead_letter_max = 100000;  // most dead letters K:dead keeps; the daemon trims the
                                       // oldest beyond (1..1000000000)
  Millis reclaim_after{30000};       // a silent instance's in-flight messages are reclaimed after
  std::string delivery = "inflight"; // type list: inflight (per-worker in-flight lists, competing
                                     // consumers) | lease (one active consumer holds K:lease and
                                     // acknowledges by trimming the head: nothing is copied)
  Mark mark;                         // where the source's name is written
};

// One key of a handler's `config:` map, with where it was written (to report unknown keys).
struct ConfigKey {
  std::string name;
  Mark mark;
};

struct HandlerConfig {
  std::string name;                    // the key under `handlers:`
  std::string plugin;                  // plugin name: loads PLUGINS_DIR/<plugin>.so
  std::string config_json;             // the `config:` map as a JSON object text ("{}" when absent)
  std::vector<ConfigKey> config_keys;  // top-level keys of `config:`, in order
  Mark mark;                           // where the handler is defined
  Mark plugin_mark;                    // where `plugin:` is written
};

struct RouteConfig {
  std::string pattern;                // exact event name, glob ("quote.*") or "*"
  std::vector<std::string> handlers;  // handler names, each defined under `handlers:`
  Mark mark;                          // where the pattern is written
};

struct RetryConfig {
  int max_attempts = 5;
  Millis initial_backoff{100};
  Millis max_backoff{30000};
};

struct LimitsConfig {
  size_t max_message_bytes = 1048576;
  int max_depth = 64;
};

struct MetricsConfig {
  std::string listen;  // host:port; empty = off
};

struct LoggingConfig {
  std::string level = "info";   // trace | debug | info | warn | error
  std::string format = "text";  // text | json
};

enum class Unrouted { kDeadLetter, kDrop };

struct Config {
  std::string path;  // routes.yaml as given
  std::string dir;   // its directory (absolute); relative paths resolve against it
  int version = 1;
  RedisConfig redis;
  std::string plugins_dir;  // absolute after loading; empty = the binary's default
  std::vector<SourceConfig> sources;
  std::vector<HandlerConfig> handlers;
  std::vector<RouteConfig> routes;
  Unrouted unrouted = Unrouted::kDeadLetter;
  RetryConfig retry;
  Millis shutdown_timeout{10000};
  LimitsConfig limits;
  std::map<std::string, std::string> contracts;  // event -> schema file (absolute)
  std::map<std::string, Mark> contract_marks;    // event -> where its schema path is written
  MetricsConfig metrics;
  LoggingConfig logging;

  const HandlerConfig* find_handler(const std::string& name) const {
    for (const auto& h : handlers)
      if (h.name == name) return &h;
    return nullptr;
  }
};

}  // namespace switchyard

#endif  // SWITCHYARD_CONFIG_CONFIG_H_
