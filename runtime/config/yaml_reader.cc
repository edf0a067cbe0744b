// yaml_reader.cc: the node readers of routes.yaml: positions, messages, typed scalars, JSON.
#include "config/yaml_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <optional>

#include "config/config_loader.h"

namespace switchyard {
namespace {

namespace fs = std::filesystem;

// "a, b or c".
std::string join_or(const std::vector<std::string>& words) {
  std::string out;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += (i + 1 == words.size()) ? " or " : ", ";
    out += words[i];
  }
  return out;
}

// True when text is a YAML plain scalar written with quotes ("x" or 'x') or tagged !!str.
bool is_quoted(const YAML::Node& node) {
  return node.Tag() == "!" || node.Tag() == "tag:yaml.org,2002:str";
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

// "; did you mean "batch"?" when a candidate is close to word, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best = closest(word, candidates);
  return best.empty() ? "" : "; did you mean " + quote(best) + "?";
}

bool is_ascii_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
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

}  // namespace

std::string quote(std::string_view s) { return "\"" + std::string(s) + "\""; }

bool plausible(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-')
      return false;
  return true;
}

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

bool is_name(std::string_view name, std::string_view extra) {
  if (name.empty()) return false;
  for (char c : name)
    if (!is_ascii_alnum(c) && extra.find(c) == std::string_view::npos) return false;
  return true;
}

const Field* find_field(const std::vector<Field>& fields, std::string_view name) {
  for (const Field& f : fields)
    if (f.key.Scalar() == name) return &f;
  return nullptr;
}

Mark YamlReader::mark_of(const YAML::Node& node) const {
  const YAML::Mark m = node.Mark();
  if (m.is_null()) return Mark{file_, 1, 1};
  return Mark{file_, m.line + 1, m.column + 1};
}

Mark YamlReader::mark_of(const Field& f) const {
  return f.value.IsNull() && f.key.IsDefined() && !f.key.IsNull() ? mark_of(f.key)
                                                                  : mark_of(f.value);
}

void YamlReader::fail(const Mark& at, const std::string& what) const {
  throw ConfigError{at.str() + ": " + what};
}

void YamlReader::fail(const Field& f, const std::string& what) const {
  fail(mark_of(f), f.path.empty() ? what : f.path + ": " + what);
}

std::vector<Field> YamlReader::entries(const Field& map) const {
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
        fail(mark_of(key),
             "duplicate key " +
                 (plausible(key.Scalar()) ? quote(key.Scalar()) + " " : std::string()) +
                 where(map) + " (first at line " + std::to_string(first.line) + ", column " +
                 std::to_string(first.column) + "); remove one of them");
      }
    }
    std::string path = map.path.empty() ? key.Scalar() : map.path + "." + key.Scalar();
    out.push_back(Field{std::move(path), key, it->second});
  }
  return out;
}

void YamlReader::reject_unknown(const std::vector<Field>& fields, const Field& map,
                                const std::vector<std::string>& allowed) const {
  for (const Field& f : fields) {
    const std::string& name = f.key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
    std::string list;
    for (const std::string& a : allowed) list += (list.empty() ? "" : ", ") + a;
    const Mark at = mark_of(f.key);
    if (!plausible(name))
      fail(at, "unknown key at line " + std::to_string(at.line) + ", column " +
                   std::to_string(at.column) + " " + where(map) + " (expected one of: " + list +
                   ")");
    fail(at, "unknown key " + quote(name) + " " + where(map) + " (expected one of: " + list + ")" +
                 did_you_mean(name, allowed));
  }
}

std::string YamlReader::read_string(const Field& f) const {
  if (!f.value.IsScalar()) fail(f, "expected a string, got " + describe(f.value));
  return f.value.Scalar();
}

std::string YamlReader::read_nonempty_string(const Field& f) const {
  std::string s = read_string(f);
  if (s.empty()) fail(f, "must not be empty");
  return s;
}

std::string YamlReader::read_enum(const Field& f, const std::vector<std::string>& options) const {
  std::string s = read_string(f);
  if (std::find(options.begin(), options.end(), s) != options.end()) return s;
  fail(f, (plausible(s) ? quote(s) : "the value given") + " is not valid; use " + join_or(options) +
              did_you_mean(s, options));
}

int64_t YamlReader::read_int(const Field& f, int64_t min, int64_t max) const {
  std::errc error{};
  std::optional<int64_t> v;
  if (f.value.IsScalar() && !is_quoted(f.value)) v = parse_yaml_int(f.value.Scalar(), &error);
  const std::string range = max == INT_MAX ? std::to_string(min) + " or more"
                                           : std::to_string(min) + " to " + std::to_string(max);
  if (!v && error != std::errc::result_out_of_range) {
    std::string hint =
        is_quoted(f.value) && parse_yaml_int(f.value.Scalar()) ? "; remove the quotes" : "";
    fail(f, "expected an integer, got " + describe(f.value) + hint);
  }
  if (!v || *v < min || *v > max) fail(f, f.value.Scalar() + " is out of range; use " + range);
  return *v;
}

bool YamlReader::read_bool(const Field& f) const {
  std::optional<bool> b;
  if (f.value.IsScalar() && !is_quoted(f.value)) b = parse_yaml_bool(f.value.Scalar());
  if (!b) fail(f, "expected true or false, got " + describe(f.value));
  return *b;
}

Millis YamlReader::read_duration(const Field& f, Millis min) const {
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

Rate YamlReader::read_rate(const Field& f) const {
  Rate r;
  if (!f.value.IsScalar() || !parse_rate(f.value.Scalar(), &r))
    fail(f, "expected a rate, got " + describe(f.value) +
                "; write N/s, N/m or N/h with N a whole number from 1 to 1000000000, e.g. 2000/s");
  return r;
}

std::string YamlReader::absolute_path(const std::string& path) const {
  if (path.empty()) return path;
  fs::path p(path);
  if (p.is_relative()) p = fs::path(dir_) / p;
  return p.lexically_normal().string();
}

std::string YamlReader::read_path(const Field& f) const {
  return absolute_path(read_nonempty_string(f));
}

KeyValue YamlReader::read_value(const KeySpec& spec, const Field& f) const {
  KeyValue v;
  switch (spec.type) {
    case KeyType::kInt:
      v.integer = read_int(f, spec.min, spec.max);
      break;
    case KeyType::kBool:
      v.boolean = read_bool(f);
      break;
    case KeyType::kString:
      v.text = read_string(f);
      break;
    case KeyType::kNonEmptyString:
      v.text = read_nonempty_string(f);
      break;
    case KeyType::kPath:
      v.text = absolute_path(read_string(f));
      break;
    case KeyType::kEnum:
      v.text = read_enum(f, spec.options);
      v.option = static_cast<size_t>(std::find(spec.options.begin(), spec.options.end(), v.text) -
                                     spec.options.begin());
      break;
    case KeyType::kDuration:
      v.duration = read_duration(f, Millis(spec.min));
      break;
    case KeyType::kRate:
      v.rate = read_rate(f);
      break;
    case KeyType::kMap:
    case KeyType::kNames:
    case KeyType::kUrls:
      fail(f, "is not a scalar key (" + spec.path + ")");
  }
  return v;
}

void YamlReader::write_json(const Field& f, int depth, JsonWriter* w) const {
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
  } else if (std::optional<bool> b = parse_yaml_bool(s)) {
    w->Bool(*b);
  } else if (std::optional<int64_t> i = parse_yaml_int(s)) {
    w->Int64(*i);
  } else if (std::optional<double> d = as_double(s)) {
    w->Double(*d);
  } else {
    w->String(s.data(), static_cast<rapidjson::SizeType>(s.size()));
  }
}

}  // namespace switchyard
