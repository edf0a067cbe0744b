// config_keys.h: every routes.yaml key declared once (path, type, range, default, doc, where it
// is stored), like Fluent Bit's config_map. The loader takes allowed keys, range checks and
// stores from it; Config's constructors take defaults from it; a test holds the README to it.
// Thread safety: the table is built once (thread-safe static) and never changes; read freely.
#ifndef SWITCHYARD_CONFIG_CONFIG_KEYS_H_
#define SWITCHYARD_CONFIG_CONFIG_KEYS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <variant>
#include <vector>

#include "config/config.h"

namespace switchyard {

// What a key's value must be.
enum class KeyType {
  kMap,             // a map of further keys (or of names the user picks, "*")
  kInt,             // a whole number in [min, max]
  kBool,            // true | false
  kString,          // any string, may be empty
  kNonEmptyString,  // a string that is not empty
  kPath,            // a path, made absolute against the file's directory when not empty
  kEnum,            // one of options
  kDuration,        // 250ms, 30s, 5m, 1h or milliseconds; at least min milliseconds
  kNames,           // a handler name or a list of them (routes)
  kRate,            // N/s, N/m or N/h (N >= 1): a rate limit
  kUrls,            // a list of Redis URLs (redis.cluster, redis.sentinel.nodes)
};

// A value as read, before it is stored: only the field of the key's type is set.
struct KeyValue {
  int64_t integer = 0;
  bool boolean = false;
  Millis duration{0};
  Rate rate;
  size_t option = 0;  // kEnum: index into options, which is the enum's value
  std::string text;   // kString, kNonEmptyString, kPath, kEnum
};

// Where a key's value goes: a member of the struct its map fills. Keys the loader reads by hand
// (maps, the version, names the user picks) store nothing here (std::monostate).
template <class S>
using Store = void (*)(S*, const KeyValue&);
using AnyStore =
    std::variant<std::monostate, Store<Config>, Store<RedisConfig>, Store<SourceConfig>,
                 Store<HandlerConfig>, Store<DedupConfig>, Store<RetryConfig>, Store<LimitsConfig>,
                 Store<MetricsConfig>, Store<UiConfig>, Store<LoggingConfig>>;

struct KeySpec {
  std::string path;  // dotted; "*" stands for a name the user picks ("sources.*.batch")
  KeyType type = KeyType::kMap;
  int64_t min = 0;                   // kInt: smallest; kDuration: shortest, in ms
  int64_t max = 0;                   // kInt: largest (INT_MAX reads "MIN or more")
  std::vector<std::string> options;  // kEnum, in the order messages list them
  bool has_default = false;
  std::string default_text;  // as written in routes.yaml (and shown in the README)
  std::string doc;           // one line
  std::string only_for;      // "format: laravel" or "type: stream" when the key applies only there
  AnyStore store;
};

// Every key, maps before their keys, each map's keys in the order error messages list them.
const std::vector<KeySpec>& config_keys();

// The key at path ("sources.*.batch"), or nullptr.
const KeySpec* find_config_key(std::string_view path);

// The names of the keys directly under the map at path ("sources.*"), in table order.
std::vector<std::string> config_keys_under(std::string_view path);

// What spec's value must be, for people: "integer 1..10000", "duration >= 1s", "list | stream".
std::string describe_key_type(const KeySpec& spec);

// Converts text (a default) to the value of spec's type; false with *error set when it is not
// one or is out of range. The loader reads the file's values with its own readers (YAML quoting,
// exact messages); this is for the table's own text.
bool parse_key_text(const KeySpec& spec, const std::string& text, KeyValue* value,
                    std::string* error);

// A rate as routes.yaml writes it: N/s, N/m or N/h with N a whole number 1..1000000000. False
// for anything else. Pure.
bool parse_rate(std::string_view text, Rate* out);

// YAML 1.2 core schema booleans (true, True, TRUE, false, ...).
std::optional<bool> parse_yaml_bool(std::string_view s);

// A whole decimal integer with an optional leading sign; *error (when given) gets from_chars's
// result, so that an integer too large can be told from text that is not one.
std::optional<int64_t> parse_yaml_int(std::string_view s, std::errc* error = nullptr);

}  // namespace switchyard

#endif  // SWITCHYARD_CONFIG_CONFIG_KEYS_H_
