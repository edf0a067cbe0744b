// config_keys.cc: the routes.yaml key table, and the Config constructors that apply its defaults.
#include "config/config_keys.h"

#include <charconv>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <type_traits>
#include <utility>

#include "config/config_loader.h"

namespace switchyard {
namespace {

template <class>
struct MemberTraits;
template <class S, class T>
struct MemberTraits<T S::*> {
  using Struct = S;
  using Type = T;
};

// Stores a value in the member M points to, taking the field of value that matches its type
// (an enum takes the option's index: kXxxNames in config.h list the words in enum order).
template <auto M>
void store(typename MemberTraits<decltype(M)>::Struct* s, const KeyValue& v) {
  using T = typename MemberTraits<decltype(M)>::Type;
  if constexpr (std::is_same_v<T, bool>)
    s->*M = v.boolean;
  else if constexpr (std::is_enum_v<T>)
    s->*M = static_cast<T>(v.option);
  else if constexpr (std::is_integral_v<T>)
    s->*M = static_cast<T>(v.integer);
  else if constexpr (std::is_same_v<T, Millis>)
    s->*M = v.duration;
  else if constexpr (std::is_same_v<T, Rate>)
    s->*M = v.rate;
  else
    s->*M = v.text;
}

template <size_t N>
std::vector<std::string> words(const char* const (&names)[N]) {
  return std::vector<std::string>(names, names + N);
}

// Row builders. default_text nullptr: the key has no default (required, derived or optional).
KeySpec row(std::string path, KeyType type, AnyStore store, const char* default_text,
            std::string doc) {
  KeySpec k;
  k.path = std::move(path);
  k.type = type;
  k.store = store;
  k.has_default = default_text != nullptr;
  if (default_text) k.default_text = default_text;
  k.doc = std::move(doc);
  return k;
}
KeySpec section(std::string path, std::string doc) {
  return row(std::move(path), KeyType::kMap, {}, nullptr, std::move(doc));
}
KeySpec integer(std::string path, int64_t min, int64_t max, AnyStore store,
                const char* default_text, std::string doc) {
  KeySpec k = row(std::move(path), KeyType::kInt, store, default_text, std::move(doc));
  k.min = min;
  k.max = max;
  return k;
}
KeySpec duration(std::string path, Millis min, AnyStore store, const char* default_text,
                 std::string doc) {
  KeySpec k = row(std::move(path), KeyType::kDuration, store, default_text, std::move(doc));
  k.min = min.count();
  return k;
}
KeySpec one_of(std::string path, std::vector<std::string> options, AnyStore store,
               const char* default_text, std::string doc) {
  KeySpec k = row(std::move(path), KeyType::kEnum, store, default_text, std::move(doc));
  k.options = std::move(options);
  return k;
}
KeySpec only_for(KeySpec k, std::string condition) {
  k.only_for = std::move(condition);
  return k;
}

std::vector<KeySpec> build_table() {
  using K = KeyType;
  const char* none = nullptr;
  return {
      integer("version", 1, 1, {}, none, "required; must be 1"),
      section("redis", "the Redis server"),
      row("redis.url", K::kNonEmptyString, &store<&RedisConfig::url>, "redis://127.0.0.1:6379/0",
          "redis://[user@]host[:port][/db] or unix:///path/redis.sock[?db=N]; no password"),
      row("redis.cluster", K::kUrls, {}, none,
          "instead of url: Redis Cluster seed nodes [redis://[user@]host:port, ...]"),
      section("redis.sentinel",
              "instead of url: Redis Sentinel (see \"Redis Cluster and Sentinel\")"),
      row("redis.sentinel.master", K::kNonEmptyString, &store<&RedisConfig::sentinel_master>, none,
          "the master's name in the sentinels' `sentinel monitor` line"),
      row("redis.sentinel.nodes", K::kUrls, {}, none,
          "the sentinels [redis://[user@]host:port[/db], ...]; user and db apply to the master"),
      row("redis.sentinel.password_file", K::kPath, &store<&RedisConfig::sentinel_password_file>,
          none, "optional; the sentinels' requirepass, in a file as redis.password_file"),
      row("redis.sentinel.user", K::kNonEmptyString, &store<&RedisConfig::sentinel_user>, none,
          "optional; the sentinels' ACL user (with password_file)"),
      row("redis.password_file", K::kPath, &store<&RedisConfig::password_file>, none,
          "optional; the file holding the Redis password, readable only by the service user"),
      row("plugins_dir", K::kPath, &store<&Config::plugins_dir>, none,
          "optional; default: <binary>/../lib/switchyard/plugins"),
      section("sources", "required; the Redis keys producers write to, by source name"),
      section("sources.*", "one source; its name appears in logs, metrics and the command line"),
      one_of("sources.*.type", words(kSourceTypeNames), &store<&SourceConfig::type>, "list",
             "list | stream (see Streams)"),
      row("sources.*.key", K::kNonEmptyString, &store<&SourceConfig::key>, none,
          "the Redis key producers RPUSH to (default: the source's name)"),
      one_of("sources.*.format", words(kSourceFormatNames), &store<&SourceConfig::format>, "raw",
             "raw | laravel (see Laravel producers)"),
      only_for(row("sources.*.prefix", K::kString, &store<&SourceConfig::prefix>, none,
                   "required with format laravel: the Laravel Redis prefix (\"\" for none)"),
               "format: laravel"),
      only_for(row("sources.*.cluster_hash_tag", K::kBool, &store<&SourceConfig::cluster_hash_tag>,
                   "false", "format laravel: the list is queues:{QUEUE} (Redis Cluster hash tag)"),
               "format: laravel"),
      only_for(row("sources.*.group", K::kNonEmptyString, &store<&SourceConfig::group>,
                   "switchyard", "type stream: the consumer group"),
               "type: stream"),
      only_for(one_of("sources.*.start", {"$", "0"}, &store<&SourceConfig::start>, "$",
                      "type stream: where a new group starts: $ (new entries) or 0 (all)"),
               "type: stream"),
      integer("sources.*.batch", 1, 10000, &store<&SourceConfig::batch>, "256",
              "most messages taken per round trip"),
      integer("sources.*.workers", 1, 64, &store<&SourceConfig::workers>, "1",
              "consumer threads for this source"),
      row("sources.*.handlers_at_once", K::kBool, &store<&SourceConfig::handlers_at_once>, "false",
          "a batch bound for several handlers calls them at once, one thread each"),
      integer("sources.*.max_deliveries", 1, INT_MAX, &store<&SourceConfig::max_deliveries>, "5",
              "deliveries without an ack (crashes) before a message is dead-lettered"),
      duration("sources.*.reclaim_after", Millis(1000), &store<&SourceConfig::reclaim_after>, "30s",
               "a silent consumer's in-flight messages are reclaimed after this"),
      one_of("sources.*.delivery", words(kDeliveryNames), &store<&SourceConfig::delivery>,
             "inflight", "inflight | lease (type list; see \"Two delivery modes\")"),
      row("sources.*.max_rate", K::kRate, &store<&SourceConfig::max_rate>, none,
          "optional; messages taken per second (N/s), minute (N/m) or hour (N/h) by all instances "
          "together; absent: no limit"),
      integer("sources.*.dead_letter_max", 1, 1000000000, &store<&SourceConfig::dead_letter_max>,
              "100000", "most dead letters K:dead keeps; the oldest beyond are trimmed"),
      duration("sources.*.dead_letter_max_age", Millis(0),
               &store<&SourceConfig::dead_letter_max_age>, "0",
               "dead letters older than this are trimmed (0: kept at any age)"),
      section("sources.*.archive",
              "optional; every handled or dead-lettered message is kept in K:archive"),
      duration("sources.*.archive.retention", Millis(1000),
               &store<&SourceConfig::archive_retention>, "7d",
               "archived messages older than this are trimmed"),
      integer("sources.*.archive.max_len", 1, 1000000000, &store<&SourceConfig::archive_max_len>,
              "10000000", "most messages the archive keeps; the oldest beyond are trimmed"),
      section("handlers", "handler instances, by name (letters, digits, '_', '.', '-')"),
      section("handlers.*", "one handler"),
      row("handlers.*.plugin", K::kNonEmptyString, {}, none,
          "required; NAME loads PLUGINS_DIR/NAME.so"),
      duration("handlers.*.handler_timeout", Millis(1000), &store<&HandlerConfig::handler_timeout>,
               "60s",
               "a call running longer is stuck: logged, counted, /healthz fails, systemd restarts"),
      row("handlers.*.max_rate", K::kRate, &store<&HandlerConfig::max_rate>, none,
          "optional; deliveries per N/s, N/m or N/h from each source, all instances together; "
          "the rest wait in K:retry"),
      integer(
          "handlers.*.max_in_flight", 1, 10000, &store<&HandlerConfig::max_in_flight>, none,
          "optional; most concurrent calls per source, all instances together; absent: no limit"),
      section("handlers.*.dedup", "optional; deliveries handled within the window are skipped"),
      row("handlers.*.dedup.key", K::kNonEmptyString, &store<&DedupConfig::key>, none,
          "required in dedup: a JSON pointer into the envelope, e.g. /payload/event_id"),
      duration("handlers.*.dedup.window", Millis(1000), &store<&DedupConfig::window>, "24h",
               "how long a handled key is remembered (>= 1s)"),
      section("handlers.*.config",
              "handed to the plugin as JSON; keys checked against the plugin's list"),
      section("routes", "event pattern -> handler names"),
      row("routes.*", K::kNames, {}, none,
          "a handler name or a list; the key is an exact event, a glob (fnmatch(3)) or \"*\""),
      one_of("unrouted", words(kUnroutedNames), &store<&Config::unrouted>, "dead_letter",
             "dead_letter | drop: what happens to an event no route matches"),
      section("retry", "when a handler asks to retry a message"),
      integer("retry.max_attempts", 1, INT_MAX, &store<&RetryConfig::max_attempts>, "5",
              "attempts before the message is dead-lettered"),
      duration("retry.initial_backoff", Millis(0), &store<&RetryConfig::initial_backoff>, "100ms",
               "delay before the first retry; doubles per attempt, with jitter"),
      duration("retry.max_backoff", Millis(0), &store<&RetryConfig::max_backoff>, "30s",
               "longest delay between attempts (>= initial_backoff)"),
      duration("shutdown_timeout", Millis(0), &store<&Config::shutdown_timeout>, "10s",
               "how long a stop waits for the batches in hand"),
      section("limits", "what a message may be; beyond it the message is dead-lettered"),
      integer("limits.max_message_bytes", 1024, 512 * 1024 * 1024,
              &store<&LimitsConfig::max_message_bytes>, "1048576", "largest message, in bytes"),
      integer("limits.max_depth", 1, 10000, &store<&LimitsConfig::max_depth>, "64",
              "deepest JSON nesting"),
      section("contracts", "event -> JSON Schema file its payload must satisfy"),
      row("contracts.*", K::kPath, {}, none, "the schema file of this event"),
      section("metrics", "the HTTP endpoint (/metrics, /healthz)"),
      row("metrics.listen", K::kString, &store<&MetricsConfig::listen>, none,
          "optional; host:port to listen on; absent: no endpoint"),
      section("ui", "the web console (see Web console)"),
      row("ui.enabled", K::kBool, &store<&UiConfig::enabled>, "false",
          "serve the console under /ui/ of metrics.listen"),
      row("ui.write", K::kBool, &store<&UiConfig::write>, "false",
          "allow replay and purge from the console (needs token_file)"),
      row("ui.token_file", K::kPath, &store<&UiConfig::token_file>, none,
          "the file holding the write token, readable only by the service user"),
      section("logging", "what goes to stderr"),
      one_of("logging.level", {"trace", "debug", "info", "warn", "error"},
             &store<&LoggingConfig::level>, "info", "trace | debug | info | warn | error"),
      one_of("logging.format", {"text", "json"}, &store<&LoggingConfig::format>, "text",
             "text | json"),
  };
}

// Gives every member of *s whose key has a default that default.
template <class S>
void apply_defaults(S* s) {
  for (const KeySpec& k : config_keys()) {
    const Store<S>* to = std::get_if<Store<S>>(&k.store);
    if (!to || !k.has_default) continue;
    KeyValue value;
    std::string error;
    if (!parse_key_text(k, k.default_text, &value, &error)) {
      std::fprintf(stderr, "switchyard: the default of %s is broken: %s\n", k.path.c_str(),
                   error.c_str());
      std::abort();
    }
    (*to)(s, value);
  }
}

}  // namespace

const std::vector<KeySpec>& config_keys() {
  static const std::vector<KeySpec> table = build_table();
  return table;
}

const KeySpec* find_config_key(std::string_view path) {
  for (const KeySpec& k : config_keys())
    if (k.path == path) return &k;
  return nullptr;
}

std::vector<std::string> config_keys_under(std::string_view path) {
  std::vector<std::string> out;
  const std::string prefix = path.empty() ? "" : std::string(path) + ".";
  for (const KeySpec& k : config_keys()) {
    if (k.path.size() <= prefix.size() || k.path.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string rest = k.path.substr(prefix.size());
    if (rest.find('.') == std::string::npos) out.push_back(rest);
  }
  return out;
}

std::string describe_key_type(const KeySpec& spec) {
  switch (spec.type) {
    case KeyType::kMap:
      return "map";
    case KeyType::kInt:
      if (spec.min == spec.max) return "integer " + std::to_string(spec.min);
      return "integer " + std::to_string(spec.min) +
             (spec.max == INT_MAX ? " or more" : ".." + std::to_string(spec.max));
    case KeyType::kBool:
      return "true | false";
    case KeyType::kString:
      return "string";
    case KeyType::kNonEmptyString:
      return "non-empty string";
    case KeyType::kPath:
      return "path";
    case KeyType::kEnum: {
      std::string out;
      for (const std::string& o : spec.options) out += (out.empty() ? "" : " | ") + o;
      return out;
    }
    case KeyType::kDuration:
      if (spec.min == 0) return "duration";
      return "duration >= " + (spec.min % 1000 == 0 ? std::to_string(spec.min / 1000) + "s"
                                                    : std::to_string(spec.min) + "ms");
    case KeyType::kNames:
      return "handler name(s)";
    case KeyType::kRate:
      return "rate N/s | N/m | N/h";
    case KeyType::kUrls:
      return "list of Redis URLs";
  }
  return "";
}

std::optional<bool> parse_yaml_bool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

std::optional<int64_t> parse_yaml_int(std::string_view s, std::errc* error) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (error) *error = ec;
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

bool parse_key_text(const KeySpec& spec, const std::string& text, KeyValue* value,
                    std::string* error) {
  switch (spec.type) {
    case KeyType::kInt: {
      std::optional<int64_t> v = parse_yaml_int(text);
      if (!v || *v < spec.min || *v > spec.max) break;
      value->integer = *v;
      return true;
    }
    case KeyType::kBool: {
      std::optional<bool> v = parse_yaml_bool(text);
      if (!v) break;
      value->boolean = *v;
      return true;
    }
    case KeyType::kNonEmptyString:
      if (text.empty()) break;
      [[fallthrough]];
    case KeyType::kString:
    case KeyType::kPath:
      value->text = text;
      return true;
    case KeyType::kEnum:
      for (size_t i = 0; i < spec.options.size(); ++i) {
        if (spec.options[i] != text) continue;
        value->option = i;
        value->text = text;
        return true;
      }
      break;
    case KeyType::kDuration:
      if (!parse_duration(text, &value->duration) || value->duration.count() < spec.min) break;
      return true;
    case KeyType::kRate:
      if (!parse_rate(text, &value->rate)) break;
      return true;
    case KeyType::kMap:
    case KeyType::kNames:
    case KeyType::kUrls:
      break;
  }
  *error = "\"" + text + "\" is not a valid value of " + spec.path;
  return false;
}

bool parse_rate(std::string_view text, Rate* out) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view unit = text.substr(slash + 1);
  Millis per;
  if (unit == "s")
    per = Millis(1000);
  else if (unit == "m")
    per = Millis(60 * 1000);
  else if (unit == "h")
    per = Millis(60 * 60 * 1000);
  else
    return false;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + slash, n);
  if (ec != std::errc() || end != text.data() + slash || n < 1 || n > 1000000000) return false;
  *out = Rate{n, per};
  return true;
}

bool parse_duration(const std::string& text, Millis* out) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  const std::string_view unit = std::string_view(text).substr(digits);
  int64_t scale = 0;
  if (unit.empty() || unit == "ms")
    scale = 1;
  else if (unit == "s")
    scale = 1000;
  else if (unit == "m")
    scale = 60 * 1000;
  else if (unit == "h")
    scale = 60 * 60 * 1000;
  else if (unit == "d")
    scale = 24 * 60 * 60 * 1000;
  else
    return false;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || n > INT64_MAX / scale) return false;
  *out = Millis(n * scale);
  return true;
}

Config::Config() { apply_defaults(this); }
RedisConfig::RedisConfig() { apply_defaults(this); }
SourceConfig::SourceConfig() { apply_defaults(this); }
HandlerConfig::HandlerConfig() { apply_defaults(this); }
DedupConfig::DedupConfig() { apply_defaults(this); }
RetryConfig::RetryConfig() { apply_defaults(this); }
LimitsConfig::LimitsConfig() { apply_defaults(this); }
MetricsConfig::MetricsConfig() { apply_defaults(this); }
UiConfig::UiConfig() { apply_defaults(this); }
LoggingConfig::LoggingConfig() { apply_defaults(this); }

}  // namespace switchyard
