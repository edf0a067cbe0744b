// config_loader.cc: reads routes.yaml map by map (README "routes.yaml"). Which keys a map has,
// their types, ranges, defaults and where they are stored come from the key table
// (config_keys.cc); this file adds what a table cannot say: checks across keys, names the user
// picks, the handler's opaque config and the routes.
// Thread safety: stateless; each call works only on its own locals.
//
// A validation failure throws ConfigError (yaml_reader.h); load_config_from_string catches it
// (and every yaml-cpp exception) and returns a Status, so nothing escapes the public functions.
#include "config/config_loader.h"

#include <fcntl.h>
#include <rapidjson/pointer.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config_keys.h"
#include "config/yaml_reader.h"
#include "redis/crc16.h"
#include "redis/redis_url.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;

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
class Parser : public YamlReader {
 public:
  using YamlReader::YamlReader;

  Config parse(const YAML::Node& root) const;

 private:
  void parse_redis(const Field& f, RedisConfig* redis) const;
  void check_cluster_keys(const Config& config) const;
  void check_redis_url(const Field& x, const std::string& url) const;
  std::vector<std::string> read_urls(const Field& f) const;
  SourceConfig parse_source(const Field& f, Mark* key_mark) const;
  void parse_sources(const Field& f, std::vector<SourceConfig>* sources) const;
  HandlerConfig parse_handler(const Field& f) const;
  DedupConfig parse_dedup(const Field& f) const;
  RouteConfig parse_route(const Field& f, const Config& config) const;
  void parse_retry(const Field& f, RetryConfig* retry) const;
  void parse_contracts(const Field& f, Config* config) const;
  void parse_metrics(const Field& f, MetricsConfig* metrics) const;
};

// Nothing to check beyond the table.
constexpr auto kNoMore = [](const Field&, const KeySpec&) {};

void Parser::check_redis_url(const Field& x, const std::string& url) const {
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
}

std::vector<std::string> Parser::read_urls(const Field& f) const {
  if (!f.value.IsSequence() || f.value.size() == 0)
    fail(f,
         "expected a list of Redis URLs, e.g. [redis://10.0.0.1:7000, redis://10.0.0.2:7000], "
         "got " +
             describe(f.value));
  std::vector<std::string> urls;
  for (const YAML::Node& n : f.value) {
    const Field element{f.path, f.key, n};
    urls.push_back(read_nonempty_string(element));
    check_redis_url(element, urls.back());
  }
  return urls;
}

void Parser::check_cluster_keys(const Config& config) const {
  // Each source's scripts touch K and K:... in one call, which Redis Cluster runs only when
  // they all live in one slot: the first {tag} of K decides it for all of them.
  for (const SourceConfig& s : config.sources) {
    if (has_cluster_hash_tag(s.key)) continue;
    if (s.format == SourceFormat::kLaravel)
      fail(s.mark, "source " + quote(s.name) + " reads " + quote(s.key) +
                       ", which has no hash tag, so its keys would spread over the slots of "
                       "redis.cluster; set cluster_hash_tag: true (Laravel's queues:{" +
                       s.queue + "} layout on a cluster)");
    fail(s.mark, "source " + quote(s.name) + " reads " + quote(s.key) +
                     ", which has no hash tag, so its keys would spread over the slots of "
                     "redis.cluster; name the key with one, e.g. key: \"{" +
                     s.key + "}\" (producers push there), so that K and K:... share a slot");
  }
}

void Parser::parse_redis(const Field& f, RedisConfig* redis) const {
  redis->mark = mark_of(f.key);
  std::optional<Field> url;
  std::optional<Field> other;  // cluster: or sentinel:
  read_section(f, "redis", redis, [&](const Field& x, const KeySpec&) {
    const std::string& name = x.key.Scalar();
    if (name == "url") {
      check_redis_url(x, redis->url);
      redis->mark = mark_of(x);
      url = x;
    } else if (name == "cluster" || name == "sentinel") {
      if (other)
        fail(x,
             "redis: has both cluster: and sentinel:; a Redis Cluster does its own "
             "failover, keep the one that describes your Redis");
      if (name == "cluster") {
        redis->cluster = read_urls(x);
      } else {
        if (!x.value.IsMap())
          fail(x,
               "expected a map { master: NAME, nodes: [redis://sentinel:26379, ...] }, "
               "got " +
                   describe(x.value));
        read_section(x, "redis.sentinel", redis, [&](const Field& y, const KeySpec&) {
          if (y.key.Scalar() == "nodes") redis->sentinel_nodes = read_urls(y);
        });
        if (redis->sentinel_master.empty() || redis->sentinel_nodes.empty())
          fail(x,
               "redis.sentinel needs master: (the name in the sentinels' `sentinel "
               "monitor` line) and nodes: (the sentinels' URLs)");
      }
      redis->mark = mark_of(x);
      other = x;
    }
  });
  if (url && other)
    fail(*url, "redis: has url: and " + other->key.Scalar() +
                   ":; they are exclusive: remove url: (the nodes are found through " +
                   other->key.Scalar() + ":)");
}

SourceConfig Parser::parse_source(const Field& f, Mark* key_mark) const {
  SourceConfig s;
  s.name = f.key.Scalar();
  s.key = s.name;
  s.mark = mark_of(f.key);
  *key_mark = s.mark;
  if (s.name.empty()) fail(s.mark, "a source name must not be empty");
  const Field* laravel_only = nullptr;  // the first key that only format: laravel uses
  const Field* stream_only = nullptr;   // the first key that only type: stream uses
  const std::vector<Field> fields =
      read_section(f, "sources.*", &s, [&](const Field& x, const KeySpec& spec) {
        if (x.key.Scalar() == "key") *key_mark = mark_of(x);
        if (x.key.Scalar() == "archive") {
          s.archive = true;
          read_section(x, "sources.*.archive", &s, kNoMore);
        }
        if (spec.only_for == "format: laravel" && !laravel_only) laravel_only = &x;
        if (spec.only_for == "type: stream" && !stream_only) stream_only = &x;
      });
  if (s.delivery == Delivery::kLease) {
    if (s.type == SourceType::kStream)
      fail(*find_field(fields, "delivery"),
           "delivery: lease applies to lists; a stream's consumer group already "
           "acknowledges without copying: remove delivery:");
    if (s.workers > 1)
      fail(*find_field(fields, "workers"),
           "delivery: lease has one active consumer per source; set workers: 1 "
           "(or use delivery: inflight for competing workers)");
  }
  if (s.format == SourceFormat::kLaravel) {
    if (!find_field(fields, "prefix"))
      fail(f,
           "format: laravel needs a prefix; set prefix: to the Laravel Redis prefix "
           "(config/database.php redis.options.prefix, by default \"laravel_database_\"; "
           "prefix: \"\" when there is none)");
    if (s.type == SourceType::kStream)
      fail(*find_field(fields, "type"),
           "format: laravel reads a Laravel queue, which is a list; use type: list");
    // From here on `key` is the Redis list itself (README "Redis keys"); `queue` keeps the name.
    s.queue = s.key;
    s.key = s.prefix + "queues:" + (s.cluster_hash_tag ? "{" + s.queue + "}" : s.queue);
  } else if (laravel_only) {
    fail(mark_of(laravel_only->key), laravel_only->path +
                                         " only applies to format: laravel; "
                                         "remove it or set format: laravel");
  }
  if (s.type == SourceType::kList && stream_only)
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

HandlerConfig Parser::parse_handler(const Field& f) const {
  HandlerConfig h;
  h.name = f.key.Scalar();
  h.mark = mark_of(f.key);
  h.config_json = "{}";
  if (!is_name(h.name, "_.-"))
    fail(h.mark, "handler name " + quote(h.name) +
                     " is not valid; use letters, digits, '_', '.' and '-' only");
  std::vector<Field> fields = entries(f);
  reject_unknown(fields, f, config_keys_under("handlers.*"));
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
    } else if (x.key.Scalar() == "dedup") {
      h.dedup = parse_dedup(x);
    } else if (const auto* to = std::get_if<Store<HandlerConfig>>(
                   &find_config_key("handlers.*." + x.key.Scalar())->store)) {
      (*to)(&h, read_value(*find_config_key("handlers.*." + x.key.Scalar()), x));
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

DedupConfig Parser::parse_dedup(const Field& f) const {
  DedupConfig dedup;
  const std::vector<Field> fields = read_section(f, "handlers.*.dedup", &dedup, kNoMore);
  const Field* key = find_field(fields, "key");
  if (!key)
    fail(f,
         "missing required key \"key\"; add key: with a JSON pointer into the envelope, e.g. "
         "key: /payload/event_id");
  if (!rapidjson::Pointer(dedup.key.c_str()).IsValid() || dedup.key[0] != '/')
    fail(*key,
         "is not a JSON pointer (RFC 6901); write it as /payload/event_id: a '/' before "
         "each member name, ~1 for a '/' and ~0 for a '~' inside one");
  return dedup;
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

void Parser::parse_contracts(const Field& f, Config* config) const {
  for (const Field& x : entries(f)) {
    const std::string& event = x.key.Scalar();
    if (event.empty()) fail(mark_of(x.key), "a contract's event name must not be empty");
    config->contracts[event] = read_path(x);
    config->contract_marks[event] = mark_of(x);
  }
}

void Parser::parse_retry(const Field& f, RetryConfig* retry) const {
  const std::vector<Field> fields = read_section(f, "retry", retry, kNoMore);
  if (retry->max_backoff < retry->initial_backoff) {
    const Field* max = find_field(fields, "max_backoff");
    fail(max ? *max : *find_field(fields, "initial_backoff"),
         "max_backoff (" + std::to_string(retry->max_backoff.count()) +
             "ms) is less than initial_backoff (" + std::to_string(retry->initial_backoff.count()) +
             "ms); raise max_backoff or lower initial_backoff");
  }
}

void Parser::parse_metrics(const Field& f, MetricsConfig* metrics) const {
  read_section(f, "metrics", metrics, [&](const Field& x, const KeySpec&) {
    const std::string& listen = metrics->listen;
    size_t colon = listen.rfind(':');
    std::optional<int64_t> port;
    if (colon != std::string::npos && colon > 0) port = parse_yaml_int(listen.substr(colon + 1));
    if (!listen.empty() && (!port || *port < 1 || *port > 65535))
      fail(x, quote(listen) + " is not host:port; write e.g. 127.0.0.1:9464");
  });
}

Config Parser::parse(const YAML::Node& root) const {
  Config config;
  config.path = file();
  config.dir = dir();
  config.redis.mark = Mark{file(), 1, 1};
  const Field top{"", YAML::Node(), root};
  if (root.IsNull())
    fail(mark_of(root), "the file is empty; start with version: 1 and a sources: map");
  if (!root.IsMap())
    fail(mark_of(root),
         "expected a map at the top level (version: 1, sources: ...), got " +
             (root.IsScalar() ? "a scalar (its text is not shown); is this the right file?"
                              : describe(root)));
  const std::vector<Field> fields = entries(top);

  // The version first: a file for another version gets that message, not a list of unknown keys.
  const Field* version = find_field(fields, "version");
  if (!version) fail(mark_of(root), "missing required key \"version\"; add version: 1");
  int64_t v = read_int(*version, INT64_MIN, INT64_MAX);
  if (v != 1)
    fail(*version, std::to_string(v) + " is not supported; this switchyard reads version 1");
  config.version = 1;

  // The top level's plain keys (plugins_dir, unrouted, shutdown_timeout) are stored by the
  // table; its maps are read here.
  const std::vector<Field> read =
      read_section(top, "", &config, [&](const Field& x, const KeySpec&) {
        const std::string& k = x.key.Scalar();
        if (k == "redis") {
          parse_redis(x, &config.redis);
        } else if (k == "sources") {
          parse_sources(x, &config.sources);
        } else if (k == "handlers") {
          for (const Field& h : entries(x)) config.handlers.push_back(parse_handler(h));
        } else if (k == "retry") {
          parse_retry(x, &config.retry);
        } else if (k == "limits") {
          read_section(x, "limits", &config.limits, kNoMore);
        } else if (k == "contracts") {
          parse_contracts(x, &config);
        } else if (k == "metrics") {
          parse_metrics(x, &config.metrics);
        } else if (k == "ui") {
          config.ui.mark = mark_of(x.key);
          read_section(x, "ui", &config.ui, kNoMore);
          if (config.ui.write && config.ui.token_file.empty())
            fail(x,
                 "write: true needs token_file: the file holding the token write actions "
                 "must send; create one (e.g. head -c 32 /dev/urandom | base64 > ui.token; "
                 "chmod 0600 ui.token) and name it");
        } else if (k == "logging") {
          read_section(x, "logging", &config.logging, kNoMore);
        }
      });
  if (!find_field(fields, "sources"))
    fail(mark_of(root),
         "missing required key \"sources\"; add at least one source "
         "(e.g. sources: { analytics: { key: analytics } })");
  if (!config.redis.cluster.empty()) check_cluster_keys(config);
  if (const Field* ui = find_field(fields, "ui");
      ui && config.ui.enabled && config.metrics.listen.empty())
    fail(*ui,
         "enabled: true serves the console on the HTTP endpoint, which is off; add "
         "metrics: { listen: \"127.0.0.1:9464\" } (or run `switchyard console`)");
  // Routes last: they refer to handlers, which may come later in the file.
  if (const Field* routes = find_field(read, "routes"))
    for (const Field& r : entries(*routes)) config.routes.push_back(parse_route(r, config));
  return config;
}

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
    return Status::error(path +
                         ": cannot read: " + std::strerror(S_ISDIR(st.st_mode) ? EISDIR : EINVAL) +
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
