// config_loader.cc: parses routes.yaml with yaml-cpp and validates it (README "routes.yaml").
// Thread safety: stateless; each call works only on its own locals.
//
// Inside this file a validation failure throws ConfigError; load_config_from_string catches it
// (and every yaml-cpp exception) and returns a Status, so nothing escapes the public functions.
#include "config/config_loader.h"

#include <fcntl.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/eventhandler.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "redis/redis_url.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

// A validation failure: the full message, "FILE:LINE:COL: what is wrong; what to do".
struct ConfigError {
  std::string message;
};

// One `key: value` pair of a map, with the dotted path used in messages
// ("sources.analytics.batch"). The document root has an empty path and an empty key.
struct Field {
  std::string path;
  YAML::Node key;
  YAML::Node value;
};

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

// True for short identifier-like text ([A-Za-z0-9_.-]{1,64}), the only file text messages echo:
// anything else may be a line of a file that is not a routes.yaml (a password file, a symlink
// to /etc/passwd) and stays out of the logs.
bool plausible(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

// "a, b or c".
std::string join_or(std::initializer_list<const char*> words) {
  std::string out;
  size_t i = 0;
  for (const char* w : words) {
    if (i > 0) out += (i + 1 == words.size()) ? " or " : ", ";
    out += w;
    ++i;
  }
  return out;
}

// True when text is a YAML plain scalar written with quotes ("x" or 'x') or tagged !!str.
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
}

// What a node is, for "expected X, got Y" messages.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      if (!plausible(node.Scalar()))
        return is_quoted(node) ? "a quoted string (not shown)" : "a scalar (not shown)";
      return is_quoted(node) ? "the quoted string " + quote(node.Scalar()) : quote(node.Scalar());
    default:
      return "nothing";
  }
}

// Edit distance, to suggest the key the user probably meant.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// The candidate closest to word when it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = SIZE_MAX;
  for (const std::string& c : candidates) {
    const size_t d = edit_distance(word, c);
    const size_t allowed = std::max<size_t>(2, std::max(word.size(), c.size()) / 3);
    if (d <= allowed && d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

// "; did you mean "batch"?" when a candidate is close to word, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = closest(word, candidates);
  return best.empty() ? "" : "; did you mean " + quote(best) + "?";
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// True when name is non-empty and made of ASCII letters, digits and the characters in extra.
bool is_name(std::string_view name, std::string_view extra) {
  if (name.empty()) return false;
  for (char c : name)
    if (!is_ascii_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  return true;
}

// YAML 1.2 core schema booleans.
std::optional<bool> as_bool(std::string_view s) {
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  return std::nullopt;
}

// Parses a whole decimal integer with an optional leading sign.
std::optional<int64_t> as_int(std::string_view s, std::errc* error = nullptr) {
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  int64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (error) *error = ec;
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// Parses a whole decimal floating-point number ("1.5", "-2e3", ".5"); not inf or nan.
std::optional<double> as_double(std::string_view s) {
  if (s.find_first_not_of("0123456789.eE+-") != std::string_view::npos) return std::nullopt;
  if (s.find_first_of("0123456789") == std::string_view::npos) return std::nullopt;
  if (s.size() > 1 && s[0] == '+' && s[1] != '-') s.remove_prefix(1);
  double v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(v)) return std::nullopt;
  return v;
}

// dir as an absolute, normalized path without a trailing slash ("" means the current directory).
std::string absolute_dir(const std::string& dir) {
  std::error_code ec;
  fs::path p = dir.empty() ? fs::current_path(ec) : fs::absolute(dir, ec);
  if (ec) p = dir;
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

// Reads routes.yaml's nodes into a Config, throwing ConfigError at the first problem.
class Parser {
 public:
  Parser(std::string file, std::string dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  Config parse(const YAML::Node& root) const;

  // The 1-based position of node; 1:1 when yaml-cpp has none (an empty document).
  Mark mark_of(const YAML::Node& node) const {
    const YAML::Mark m = node.Mark();
    if (m.is_null()) return Mark{file_, 1, 1};
    return Mark{file_, m.line + 1, m.column + 1};
  }

  [[noreturn]] void fail(const Mark& at, const std::string& what) const {
    throw ConfigError{at.str() + ": " + what};
  }

 private:
  // The position of a field's value, or of its key when the value is empty (yaml-cpp puts an
  // empty value's mark on the next token, which is misleading).
  Mark mark_of(const Field& f) const {
    return f.value.IsNull() && f.key.IsDefined() && !f.key.IsNull() ? mark_of(f.key)
                                                                    : mark_of(f.value);
  }
  [[noreturn]] void fail(const Field& f, const std::string& what) const {
    fail(mark_of(f), f.path.empty() ? what : f.path + ": " + what);
  }
  static std::string where(const Field& map) {
    return map.path.empty() ? "at the top level" : "in " + map.path;
  }

  // The pairs of map (an empty value counts as an empty map), in order. Rejects non-scalar
  // keys and duplicate keys (yaml-cpp 0.7 would silently keep both).
  std::vector<Field> entries(const Field& map) const;
  // Rejects any key of fields not in allowed, at the key's position.
  void reject_unknown(const std::vector<Field>& fields, const Field& map,
                      std::initializer_list<const char*> allowed) const;

  // Scalar readers: each fails at the value with what was expected and what to write instead.
  std::string read_string(const Field& f) const;
  std::string read_nonempty_string(const Field& f) const;
  std::string read_enum(const Field& f, std::initializer_list<const char*> options) const;
  int64_t read_int(const Field& f, int64_t min, int64_t max) const;
  bool read_bool(const Field& f) const;
  Millis read_duration(const Field& f, Millis min = Millis(0)) const;
  // A non-empty path, made absolute against the file's directory.
  std::string read_path(const Field& f) const;
  std::string absolute_path(const std::string& path) const;

  void parse_redis(const Field& f, RedisConfig* redis) const;
  SourceConfig parse_source(const Field& f, Mark* key_mark) const;
  void parse_sources(const Field& f, std::vector<SourceConfig>* sources) const;
  HandlerConfig parse_handler(const Field& f) const;
  RouteConfig parse_route(const Field& f, const Config& config) const;
  void parse_retry(const Field& f, RetryConfig* retry) const;
  void parse_limits(const Field& f, LimitsConfig* limits) const;
  void parse_contracts(const Field& f, Config* config) const;
  void parse_metrics(const Field& f, MetricsConfig* metrics) const;
  void parse_logging(const Field& f, LoggingConfig* logging) const;
  // Writes f's value as JSON (a handler's opaque `config:`), depth levels below `config:`.
  void write_json(const Field& f, int depth, JsonWriter* w) const;

  std::string file_;
  std::string dir_;
};

std::vector<Field> Parser::entries(const Field& map) const {
  std::vector<Field> out;
  if (map.value.IsNull()) return out;
  if (!map.value.IsMap()) fail(map, "expected a map, got " + describe(map.value));
  for (auto it = map.value.begin(); it != map.value.end(); ++it) {
    // A copy (a cheap handle): `it->` returns a proxy that dies at the end of the statement.
    const YAML::Node key = it->first;
    if (!key.IsScalar())
      fail(mark_of(key), "keys " + where(map) + " must be strings, got " + describe(key));
    for (const Field& seen : out) {
      if (seen.key.Scalar() == key.Scalar()) {
        const Mark first = mark_of(seen.key);
        fail(mark_of(key), "duplicate key " + (plausible(key.Scalar()) ? quote(key.Scalar()) + " "
                                                                         : std::string()) +
                               where(map) +
                               " (first at line " + std::to_string(first.line) + ", column " +
                               std::to_string(first.column) + "); remove one of them");
      }
    }
    std::string path = map.path.empty() ? key.Scalar() : map.path + "." + key.Scalar();
    out.push_back(Field{std::move(path), key, it->second});
  }
  return out;
}

void Parser::reject_unknown(const std::vector<Field>& fields, const Field& map,
                            std::initializer_list<const char*> allowed) const {
  for (const Field& f : fields) {
    const std::string& name = f.key.Scalar();
    bool known = false;
    for (const char* a : allowed) known = known || name == a;
    if (known) continue;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    const Mark at = mark_of(f.key);
    if (!plausible(name))
      fail(at, "unknown key at line " + std::to_string(at.line) + ", column " +
                   std::to_string(at.column) + " " + where(map) + " (expected one of: " + list +
                   ")");
    fail(at, "unknown key " + quote(name) + " " + where(map) + " (expected one of: " + list + ")" +
                 did_you_mean(name, std::vector<std::string>(allowed.begin(), allowed.end())));
  }
}

std::string Parser::read_string(const Field& f) const {
  if (!f.value.IsScalar()) fail(f, "expected a string, got " + describe(f.value));
  return f.value.Scalar();
}

std::string Parser::read_nonempty_string(const Field& f) const {
  std::string s = read_string(f);
  if (s.empty()) fail(f, "must not be empty");
  return s;
}

std::string Parser::read_enum(const Field& f, std::initializer_list<const char*> options) const {
  std::string s = read_string(f);
  for (const char* o : options)
    if (s == o) return s;
  fail(f, (plausible(s) ? quote(s) : "the value given") + " is not valid; use " +
              join_or(options) +
              did_you_mean(s, std::vector<std::string>(options.begin(), options.end())));
}

int64_t Parser::read_int(const Field& f, int64_t min, int64_t max) const {
  std::errc error{};
  std::optional<int64_t> v;
  if (f.value.IsScalar() && !is_quoted(f.value)) v = as_int(f.value.Scalar(), &error);
  const std::string range = max == INT_MAX ? std::to_string(min) + " or more"
                                           : std::to_string(min) + " to " + std::to_string(max);
  if (!v && error != std::errc::result_out_of_range) {
    std::string hint = is_quoted(f.value) && as_int(f.value.Scalar()) ? "; remove the quotes" : "";
    fail(f, "expected an integer, got " + describe(f.value) + hint);
  }
  if (!v || *v < min || *v > max) fail(f, f.value.Scalar() + " is out of range; use " + range);
  return *v;
}

bool Parser::read_bool(const Field& f) const {
  std::optional<bool> b;
  if (f.value.IsScalar() && !is_quoted(f.value)) b = as_bool(f.value.Scalar());
  if (!b) fail(f, "expected true or false, got " + describe(f.value));
  return *b;
}

Millis Parser::read_duration(const Field& f, Millis min) const {
  Millis d;
  if (!f.value.IsScalar() || !parse_duration(f.value.Scalar(), &d))
    fail(f, "expected a duration, got " + describe(f.value) +
                "; write e.g. 250ms, 30s, 5m, 1h, or a whole number of milliseconds");
  if (d < min)
    fail(f, f.value.Scalar() + " is too short; use at least " +
                (min.count() % 1000 == 0 ? std::to_string(min.count() / 1000) + "s"
                                         : std::to_string(min.count()) + "ms"));
  return d;
}

std::string Parser::absolute_path(const std::string& path) const {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(dir_) / p;
  return p.lexically_normal().string();
}

std::string Parser::read_path(const Field& f) const {
  return absolute_path(read_nonempty_string(f));
}

void Parser::parse_redis(const Field& f, RedisConfig* redis) const {
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"url", "password_file"});
  redis->mark = mark_of(f.key);
  for (const Field& x : fields) {
    const std::string& k = x.key.Scalar();
    if (k == "url") {
      std::string url = read_nonempty_string(x);
      if (url.rfind("redis://", 0) != 0 && url.rfind("unix://", 0) != 0)
        fail(x, quote(redact_redis_url(url)) +
                    " is not a Redis URL; use redis://[user@]host[:port][/db] or "
                    "unix:///path/redis.sock");
      // routes.yaml is readable by the service's group and often copied around: a password
      // in any form of the URL (redis://:p@h, redis://u:p/q@h, unix://u:p@/s) is refused, judged
      // by the same parser that connects. A URL the parser refuses is reported when loaded.
      RedisEndpoint endpoint;
      std::string ignored;
      if (parse_redis_url(url, &endpoint, &ignored) && !endpoint.password.empty())
        fail(x, "the URL " + quote(redact_redis_url(url)) +
                    " contains a password; put the password alone in a file readable only by "
                    "the service user and set password_file: to its path instead");
      redis->url = url;
      redis->mark = mark_of(x);
    } else if (k == "password_file") {
      redis->password_file = absolute_path(read_string(x));
    }
  }
}

SourceConfig Parser::parse_source(const Field& f, Mark* key_mark) const {
  SourceConfig s;
  s.name = f.key.Scalar();
  s.key = s.name;
  s.mark = mark_of(f.key);
  *key_mark = s.mark;
  if (s.name.empty()) fail(s.mark, "a source name must not be empty");
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f,
                 {"type", "key", "format", "prefix", "cluster_hash_tag", "group", "start", "batch",
                  "workers", "max_deliveries", "reclaim_after", "delivery", "dead_letter_max"});
  const Field* laravel_only = nullptr;  // the first key that only format: laravel uses
  const Field* stream_only = nullptr;   // the first key that only type: stream uses
  const Field* type = nullptr;
  const Field* workers = nullptr;
  const Field* delivery = nullptr;
  bool has_prefix = false;
  for (const Field& x : fields) {
    const std::string& k = x.key.Scalar();
    if (k == "type") {
      s.type = read_enum(x, {"list", "stream"});
      type = &x;
    } else if (k == "key") {
      s.key = read_nonempty_string(x);
      *key_mark = mark_of(x);
    } else if (k == "format") {
      s.format = read_enum(x, {"raw", "laravel"});
    } else if (k == "prefix") {
      s.prefix = read_string(x);
      has_prefix = true;
      if (!laravel_only) laravel_only = &x;
    } else if (k == "cluster_hash_tag") {
      s.cluster_hash_tag = read_bool(x);
      if (!laravel_only) laravel_only = &x;
    } else if (k == "group") {
      s.group = read_nonempty_string(x);
      if (!stream_only) stream_only = &x;
    } else if (k == "start") {
      s.start = read_enum(x, {"$", "0"});
      if (!stream_only) stream_only = &x;
    } else if (k == "batch") {
      s.batch = static_cast<int>(read_int(x, 1, 10000));
    } else if (k == "workers") {
      s.workers = static_cast<int>(read_int(x, 1, 64));
      workers = &x;
    } else if (k == "max_deliveries") {
      s.max_deliveries = static_cast<int>(read_int(x, 1, INT_MAX));
    } else if (k == "reclaim_after") {
      s.reclaim_after = read_duration(x, Millis(1000));
    } else if (k == "dead_letter_max") {
      s.dead_letter_max = read_int(x, 1, 1000000000);
    } else if (k == "delivery") {
      s.delivery = read_enum(x, {"inflight", "lease"});
      delivery = &x;
    }
  }
  if (s.delivery == "lease") {
    if (s.type == "stream")
      fail(*delivery, "delivery: lease applies to lists; a stream's consumer group already "
                      "acknowledges without copying: remove delivery:");
    if (s.workers > 1)
      fail(*workers, "delivery: lease has one active consumer per source; set workers: 1 "
                     "(or use delivery: inflight for competing workers)");
  }
  if (s.format == "laravel") {
    if (!has_prefix)
      fail(f,
           "format: laravel needs a prefix; set prefix: to the Laravel Redis prefix "
           "(config/database.php redis.options.prefix, by default \"laravel_database_\"; "
           "prefix: \"\" when there is none)");
    if (s.type == "stream")
      fail(*type, "format: laravel reads a Laravel queue, which is a list; use type: list");
    // From here on `key` is the Redis list itself (README "Redis keys"); `queue` keeps the name.
    s.queue = s.key;
    s.key = s.prefix + "queues:" + (s.cluster_hash_tag ? "{" + s.queue + "}" : s.queue);
  } else if (laravel_only) {
    fail(mark_of(laravel_only->key), laravel_only->path +
                                         " only applies to format: laravel; "
                                         "remove it or set format: laravel");
  }
  if (s.type == "list" && stream_only)
    fail(mark_of(stream_only->key),
         stream_only->path + " only applies to type: stream; remove it or set type: stream");
  return s;
}

void Parser::parse_sources(const Field& f, std::vector<SourceConfig>* sources) const {
  std::vector<Field> fields = entries(f);
  if (fields.empty()) fail(f, "define at least one source (e.g. analytics: { key: analytics })");
  std::vector<Mark> key_marks;
  for (const Field& x : fields) {
    Mark key_mark;
    SourceConfig s = parse_source(x, &key_mark);
    const std::string& key = s.key;
    for (size_t i = 0; i < sources->size(); ++i) {
      const std::string& other = (*sources)[i].key;
      const std::string what =
          "source " + quote(s.name) + " reads Redis key " + quote(key) + ", which ";
      const std::string whose =
          "source " + quote((*sources)[i].name) + " (" + key_marks[i].str() + ")";
      if (key == other)
        fail(key_mark, what + "is already read by " + whose + "; give each source its own key");
      if (key.rfind(other + ":", 0) == 0 || other.rfind(key + ":", 0) == 0)
        fail(key_mark, what + "overlaps the internal keys (KEY:...) of " + whose +
                           "; choose a key that is not a prefix of another followed by ':'");
    }
    sources->push_back(std::move(s));
    key_marks.push_back(key_mark);
  }
}

void Parser::write_json(const Field& f, int depth, JsonWriter* w) const {
  const YAML::Node& node = f.value;
  if (depth > 100)  // an alias can make a node contain itself: &x {a: *x}
    fail(mark_of(f),
         "a handler's config: is nested more than 100 levels deep (does an alias "
         "refer to its own anchor?)");
  switch (node.Type()) {
    case YAML::NodeType::Map:
      w->StartObject();
      for (const Field& x : entries(f)) {
        const std::string& k = x.key.Scalar();
        w->Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
        write_json(x, depth + 1, w);
      }
      w->EndObject();
      return;
    case YAML::NodeType::Sequence:
      w->StartArray();
      for (const YAML::Node& element : node)
        write_json(Field{f.path, YAML::Node(), element}, depth + 1, w);
      w->EndArray();
      return;
    case YAML::NodeType::Scalar:
      break;
    default:
      w->Null();
      return;
  }
  const std::string& s = node.Scalar();
  if (is_quoted(node)) {
    w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  } else if (std::optional<bool> b = as_bool(s)) {
    w->Bool(*b);
  } else if (std::optional<int64_t> i = as_int(s)) {
    w->Int64(*i);
  } else if (std::optional<double> d = as_double(s)) {
    w->Double(*d);
  } else {
    w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
}

HandlerConfig Parser::parse_handler(const Field& f) const {
  HandlerConfig h;
  h.name = f.key.Scalar();
  h.mark = mark_of(f.key);
  h.config_json = "{}";
  if (!is_name(h.name, "_.-"))
    fail(h.mark, "handler name " + quote(h.name) +
                     " is not valid; use letters, digits, '_', '.' and '-' only");
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"plugin", "config"});
  bool has_plugin = false;
  for (const Field& x : fields) {
    if (x.key.Scalar() == "plugin") {
      h.plugin = read_nonempty_string(x);
      h.plugin_mark = mark_of(x);
      has_plugin = true;
      const std::string stem = fs::path(h.plugin).stem().string();
      if (h.plugin.find('/') != std::string::npos)
        fail(x, quote(h.plugin) + " is a path; give the plugin's plain name (plugin: " + stem +
                    ") and set plugins_dir: to the directory that holds " + stem + ".so");
      if (h.plugin.size() > 3 && h.plugin.ends_with(".so"))
        fail(x, "write the plugin name without \".so\": plugin: " + stem);
      if (!is_name(h.plugin, "_-"))
        fail(x, quote(h.plugin) +
                    " is not a plugin name; use letters, digits, '_' and '-' only "
                    "(plugin: NAME loads PLUGINS_DIR/NAME.so)");
    } else if (!x.value.IsNull()) {  // config; empty means {}
      if (!x.value.IsMap()) fail(x, "expected a map, got " + describe(x.value));
      rapidjson::StringBuffer buffer;
      JsonWriter writer(buffer);
      write_json(x, 0, &writer);
      h.config_json = buffer.GetString();
      for (const Field& key : entries(x))
        h.config_keys.push_back(ConfigKey{key.key.Scalar(), mark_of(key.key)});
    }
  }
  if (!has_plugin)
    fail(f, "missing required key \"plugin\"; add plugin: NAME (loads PLUGINS_DIR/NAME.so)");
  return h;
}

RouteConfig Parser::parse_route(const Field& f, const Config& config) const {
  RouteConfig route;
  route.pattern = f.key.Scalar();
  route.mark = mark_of(f.key);
  if (route.pattern.empty()) fail(route.mark, "a route pattern must not be empty");
  std::vector<YAML::Node> names;
  if (f.value.IsSequence()) {
    for (const YAML::Node& n : f.value) names.push_back(n);
  } else if (f.value.IsScalar()) {
    names.push_back(f.value);
  } else {
    fail(f, "expected a handler name or a list of handler names, got " + describe(f.value));
  }
  if (names.empty())
    fail(f, "route " + quote(route.pattern) +
                " has no handlers; list at least one, or delete the route");
  for (const YAML::Node& n : names) {
    if (!n.IsScalar()) fail(mark_of(n), f.path + ": expected a handler name, got " + describe(n));
    const std::string& name = n.Scalar();
    if (!config.find_handler(name)) {
      std::vector<std::string> defined;
      for (const HandlerConfig& h : config.handlers) defined.push_back(h.name);
      const std::string best = closest(name, defined);
      fail(mark_of(n), "route " + quote(route.pattern) + " names handler " + quote(name) +
                           " which is not defined under handlers: " +
                           (best.empty() ? "define it there or fix the name"
                                         : "did you mean " + quote(best) + "?"));
    }
    for (const std::string& seen : route.handlers)
      if (seen == name)
        fail(mark_of(n), "route " + quote(route.pattern) + " lists handler " + quote(name) +
                             " twice; remove one");
    route.handlers.push_back(name);
  }
  return route;
}

void Parser::parse_retry(const Field& f, RetryConfig* retry) const {
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"max_attempts", "initial_backoff", "max_backoff"});
  const Field* initial = nullptr;
  const Field* max = nullptr;
  for (const Field& x : fields) {
    const std::string& k = x.key.Scalar();
    if (k == "max_attempts") {
      retry->max_attempts = static_cast<int>(read_int(x, 1, INT_MAX));
    } else if (k == "initial_backoff") {
      retry->initial_backoff = read_duration(x);
      initial = &x;
    } else if (k == "max_backoff") {
      retry->max_backoff = read_duration(x);
      max = &x;
    }
  }
  if (retry->max_backoff < retry->initial_backoff)
    fail(max ? *max : *initial, "max_backoff (" + std::to_string(retry->max_backoff.count()) +
                                    "ms) is less than initial_backoff (" +
                                    std::to_string(retry->initial_backoff.count()) +
                                    "ms); raise max_backoff or lower initial_backoff");
}

void Parser::parse_limits(const Field& f, LimitsConfig* limits) const {
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"max_message_bytes", "max_depth"});
  for (const Field& x : fields) {
    if (x.key.Scalar() == "max_message_bytes")  // Redis's own limit for one string is 512 MiB
      limits->max_message_bytes = static_cast<size_t>(read_int(x, 1024, 512 * 1024 * 1024));
    else
      limits->max_depth = static_cast<int>(read_int(x, 1, 10000));
  }
}

void Parser::parse_contracts(const Field& f, Config* config) const {
  for (const Field& x : entries(f)) {
    const std::string& event = x.key.Scalar();
    if (event.empty()) fail(mark_of(x.key), "a contract's event name must not be empty");
    config->contracts[event] = read_path(x);
    config->contract_marks[event] = mark_of(x);
  }
}

void Parser::parse_metrics(const Field& f, MetricsConfig* metrics) const {
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"listen"});
  for (const Field& x : fields) {
    std::string listen = read_string(x);
    size_t colon = listen.rfind(':');
    std::optional<int64_t> port;
    if (colon != std::string::npos && colon > 0) port = as_int(listen.substr(colon + 1));
    if (!listen.empty() && (!port || *port < 1 || *port > 65535))
      fail(x, quote(listen) + " is not host:port; write e.g. 127.0.0.1:9464");
    metrics->listen = listen;
  }
}

void Parser::parse_logging(const Field& f, LoggingConfig* logging) const {
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, {"level", "format"});
  for (const Field& x : fields) {
    if (x.key.Scalar() == "level")
      logging->level = read_enum(x, {"trace", "debug", "info", "warn", "error"});
    else
      logging->format = read_enum(x, {"text", "json"});
  }
}

Config Parser::parse(const YAML::Node& root) const {
  Config config;
  config.path = file_;
  config.dir = dir_;
  config.redis.mark = Mark{file_, 1, 1};
  const Field top{"", YAML::Node(), root};
  if (root.IsNull())
    fail(mark_of(root), "the file is empty; start with version: 1 and a sources: map");
  if (!root.IsMap())
    fail(mark_of(root),
         "expected a map at the top level (version: 1, sources: ...), got " +
             (root.IsScalar() ? "a scalar (its text is not shown); is this the right file?"
                              : describe(root)));
  std::vector<Field> fields = entries(top);

  // The version first: a file for another version gets that message, not a list of unknown keys.
  const Field* version = nullptr;
  for (const Field& x : fields)
    if (x.key.Scalar() == "version") version = &x;
  if (!version) fail(mark_of(root), "missing required key \"version\"; add version: 1");
  int64_t v = read_int(*version, INT64_MIN, INT64_MAX);
  if (v != 1)
    fail(*version, std::to_string(v) + " is not supported; this switchyard reads version 1");
  config.version = 1;

  reject_unknown(fields, top,
                 {"version", "redis", "plugins_dir", "sources", "handlers", "routes", "unrouted",
                  "retry", "shutdown_timeout", "limits", "contracts", "metrics", "logging"});
  const Field* routes = nullptr;  // parsed last: they refer to handlers
  bool has_sources = false;
  for (const Field& x : fields) {
    const std::string& k = x.key.Scalar();
    if (k == "redis") {
      parse_redis(x, &config.redis);
    } else if (k == "plugins_dir") {
      config.plugins_dir = absolute_path(read_string(x));
    } else if (k == "sources") {
      parse_sources(x, &config.sources);
      has_sources = true;
    } else if (k == "handlers") {
      for (const Field& h : entries(x)) config.handlers.push_back(parse_handler(h));
    } else if (k == "routes") {
      routes = &x;
    } else if (k == "unrouted") {
      config.unrouted =
          read_enum(x, {"dead_letter", "drop"}) == "drop" ? Unrouted::kDrop : Unrouted::kDeadLetter;
    } else if (k == "retry") {
      parse_retry(x, &config.retry);
    } else if (k == "shutdown_timeout") {
      config.shutdown_timeout = read_duration(x);
    } else if (k == "limits") {
      parse_limits(x, &config.limits);
    } else if (k == "contracts") {
      parse_contracts(x, &config);
    } else if (k == "metrics") {
      parse_metrics(x, &config.metrics);
    } else if (k == "logging") {
      parse_logging(x, &config.logging);
    }
  }
  if (!has_sources)
    fail(mark_of(root),
         "missing required key \"sources\"; add at least one source "
         "(e.g. sources: { analytics: { key: analytics } })");
  if (routes)
    for (const Field& r : entries(*routes)) config.routes.push_back(parse_route(r, config));
  return config;
}

}  // namespace

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
  else
    return false;
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, n);
  if (ec != std::errc() || n > INT64_MAX / scale) return false;
  *out = Millis(n * scale);
  return true;
}

namespace {

// Counts the documents yaml-cpp reads and notes where the second one's first node is.
class SecondDocument : public YAML::EventHandler {
 public:
  int documents = 0;
  YAML::Mark at;  // of the second document's first node (its start when it has none)

  void OnDocumentStart(const YAML::Mark& m) override {
    if (++documents == 2) at = m;
    noted_ = false;
  }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnAlias(const YAML::Mark& m, YAML::anchor_t) override { note(m); }
  void OnScalar(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                const std::string&) override {
    note(m);
  }
  void OnSequenceStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& m, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {
    note(m);
  }
  void OnMapEnd() override {}

 private:
  void note(const YAML::Mark& m) {
    if (documents == 2 && !noted_) at = m;
    noted_ = true;
  }
  bool noted_ = false;
};

}  // namespace

Status load_config_from_string(const std::string& yaml, const std::string& name,
                               const std::string& dir, Config* config) {
  Parser parser(name, absolute_dir(dir));
  try {
    // Not YAML::LoadAll: on text after a top-level flow node ("a",b) yaml-cpp 0.7 returns empty
    // documents forever and LoadAll collects them until memory runs out (found by fuzz_config).
    // Read at most two documents, then load the first.
    std::istringstream stream(yaml);
    YAML::Parser reader(stream);
    SecondDocument second;
    for (int i = 0; i < 2 && reader.HandleNextDocument(second); ++i) {
    }
    if (second.documents > 1)
      parser.fail(Mark{name, second.at.line + 1, second.at.column + 1},
                  "a second YAML document (after ---); routes.yaml holds exactly one");
    *config = parser.parse(YAML::Load(yaml));
    return Status::ok();
  } catch (const ConfigError& e) {
    return Status::error(e.message);
  } catch (const YAML::Exception& e) {  // ParserException, and anything else yaml-cpp throws
    Mark at{name, 1, 1};
    if (!e.mark.is_null()) at = Mark{name, e.mark.line + 1, e.mark.column + 1};
    return Status::error(at.str() + ": invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    return Status::error(name + ":1:1: cannot load: " + e.what());
  }
}

Status load_config(const std::string& path, Config* config) {
  // Checked on the descriptor that is read, so the file cannot be swapped after the check.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return Status::error(path + ": cannot read: " + std::strerror(errno) +
                         "; pass -c FILE or set SWITCHYARD_CONFIG");
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return Status::error(path + ": cannot read: " +
                         std::strerror(S_ISDIR(st.st_mode) ? EISDIR : EINVAL) +
                         "; pass -c FILE or set SWITCHYARD_CONFIG");
  }
  if ((st.st_uid != 0 && st.st_uid != geteuid()) || (st.st_mode & S_IWOTH)) {
    ::close(fd);
    return Status::error(
        path + ": refused: it is " +
        ((st.st_mode & S_IWOTH) ? std::string("writable by every user")
                                : "owned by uid " + std::to_string(st.st_uid) +
                                      ", not by root or the user running switchyard (uid " +
                                      std::to_string(geteuid()) + ")") +
        ", so another user could point switchyard at their own Redis and plugins; run: chown " +
        std::to_string(geteuid()) + " " + path + " && chmod o-w " + path);
  }
  std::string text;
  int error = 0;
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) error = errno;
    if (n <= 0) break;
    text.append(buffer, static_cast<size_t>(n));
  }
  ::close(fd);
  if (error)
    return Status::error(path + ": cannot read: " + std::strerror(error) +
                         "; pass -c FILE or set SWITCHYARD_CONFIG");
  std::string dir = fs::path(path).parent_path().string();
  return load_config_from_string(text, path, dir.empty() ? "." : dir, config);
}

}  // namespace switchyard
