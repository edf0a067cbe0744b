// yaml_reader.h: reads the nodes of one routes.yaml as the key table (config_keys.h) declares
// them, failing with "FILE:LINE:COL: what is wrong; what to do". Used by config_loader.cc and
// the route test file reader (cli/test_command.cc).
// Thread safety: a YamlReader is immutable; its methods touch only their arguments.
// Errors: every method that checks something throws ConfigError; load_config_from_string catches
// it, so nothing escapes the loader's public functions.
#ifndef SWITCHYARD_CONFIG_YAML_READER_H_
#define SWITCHYARD_CONFIG_YAML_READER_H_

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "config/config_keys.h"

namespace switchyard {

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

// "\"s\"".
std::string quote(std::string_view s);

// True for short identifier-like text ([A-Za-z0-9_.-]{1,64}), the only file text messages echo:
// anything else may be a line of a file that is not a routes.yaml (a password file, a symlink
// to /etc/passwd) and stays out of the logs.
bool plausible(std::string_view s);

// What a node is, for "expected X, got Y" messages.
std::string describe(const YAML::Node& node);

// The candidate closest to word when it is close enough to be a likely typo, else "".
std::string closest(std::string_view word, const std::vector<std::string>& candidates);

// True when name is non-empty and made of ASCII letters, digits and the characters in extra.
bool is_name(std::string_view name, std::string_view extra);

class YamlReader {
 public:
  using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer>;

  // file names the document in messages; dir (absolute) resolves relative paths.
  YamlReader(std::string file, std::string dir) : file_(std::move(file)), dir_(std::move(dir)) {}

  const std::string& file() const { return file_; }
  const std::string& dir() const { return dir_; }

  // The 1-based position of node; 1:1 when yaml-cpp has none (an empty document).
  Mark mark_of(const YAML::Node& node) const;
  // The position of a field's value, or of its key when the value is empty (yaml-cpp puts an
  // empty value's mark on the next token, which is misleading).
  Mark mark_of(const Field& f) const;
  [[noreturn]] void fail(const Mark& at, const std::string& what) const;
  // Fails at f, prefixing what with f's path.
  [[noreturn]] void fail(const Field& f, const std::string& what) const;

  // The pairs of map (an empty value counts as an empty map), in order. Rejects non-scalar
  // keys and duplicate keys (yaml-cpp 0.7 would silently keep both).
  std::vector<Field> entries(const Field& map) const;
  // Rejects any key of fields not in allowed, at the key's position.
  void reject_unknown(const std::vector<Field>& fields, const Field& map,
                      const std::vector<std::string>& allowed) const;

  // Scalar readers: each fails at the value with what was expected and what to write instead.
  std::string read_string(const Field& f) const;
  std::string read_nonempty_string(const Field& f) const;
  std::string read_enum(const Field& f, const std::vector<std::string>& options) const;
  int64_t read_int(const Field& f, int64_t min, int64_t max) const;
  bool read_bool(const Field& f) const;
  Millis read_duration(const Field& f, Millis min = Millis(0)) const;
  // N/s, N/m or N/h (parse_rate).
  Rate read_rate(const Field& f) const;
  // A non-empty path, made absolute against the file's directory.
  std::string read_path(const Field& f) const;
  // path made absolute against the file's directory ("" stays "").
  std::string absolute_path(const std::string& path) const;
  // Reads f's value as spec's type (a scalar type: not kMap or kNames), with its range.
  KeyValue read_value(const KeySpec& spec, const Field& f) const;

  // Reads the keys of the map f, whose key table path is pattern ("sources.*"), in file order:
  // rejects keys the table does not list under pattern, stores each key the table gives a
  // Store<S> into *section, then calls then(field, spec) for the checks the table cannot
  // express. Returns the fields.
  template <class S, class Then>
  std::vector<Field> read_section(const Field& f, const std::string& pattern, S* section,
                                  Then then) const {
    std::vector<Field> fields = entries(f);
    reject_unknown(fields, f, config_keys_under(pattern));
    for (const Field& x : fields) {
      const KeySpec& spec = *find_config_key(key_path(pattern, x.key.Scalar()));
      if (const Store<S>* to = std::get_if<Store<S>>(&spec.store))
        (*to)(section, read_value(spec, x));
      then(x, spec);
    }
    return fields;
  }

  // Writes f's value as JSON (a handler's opaque `config:`), depth levels below `config:`.
  void write_json(const Field& f, int depth, JsonWriter* w) const;

  // "pattern.name", or name at the top level.
  static std::string key_path(const std::string& pattern, const std::string& name) {
    return pattern.empty() ? name : pattern + "." + name;
  }

 private:
  static std::string where(const Field& map) {
    return map.path.empty() ? "at the top level" : "in " + map.path;
  }

  std::string file_;
  std::string dir_;
};

// The field named name among fields, or nullptr.
const Field* find_field(const std::vector<Field>& fields, std::string_view name);

}  // namespace switchyard

#endif  // SWITCHYARD_CONFIG_YAML_READER_H_
