// ops_support.cc: the ops tests' helpers and Prometheus text-format parser, compiled once.
#include "integration/ops/ops_support.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "support/switchyard_process.h"

namespace switchyard::test::ops {

void start_stats_watch(const std::string& config, const std::string& out_path,
                       ChildProcess* watch) {
  SpawnOptions options;
  options.output_path = out_path;
  watch->spawn({SwitchyardProcess::binary(), "stats", "--watch", "--interval", "0.2", "-c", config},
               options);
}

void deploy_plugin(const std::string& so_path, const std::string& plugins_dir) {
  namespace fs = std::filesystem;
  fs::path name = fs::path(so_path).filename();
  fs::path tmp = fs::path(plugins_dir) / ("." + name.string() + ".tmp");
  fs::copy_file(so_path, tmp, fs::copy_options::overwrite_existing);
  fs::rename(tmp, fs::path(plugins_dir) / name);
}

std::string make_plugins_dir(const TempDir& dir, const std::vector<std::string>& so_paths) {
  std::string plugins = dir.file("plugins");
  std::filesystem::create_directories(plugins);
  for (const auto& so : so_paths) deploy_plugin(so, plugins);
  return plugins;
}

void write_atomically(const std::string& path, const std::string& text) {
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

size_t count_of(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = haystack.find(needle); pos != std::string::npos;
       pos = haystack.find(needle, pos + needle.size()))
    ++n;
  return n;
}

std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) out.push_back(line);
  return out;
}

int line_number_of(const std::string& text, const std::string& needle) {
  std::istringstream in(text);
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    ++n;
    if (line.find(needle) != std::string::npos) return n;
  }
  return 0;
}

namespace {

bool is_name_start(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}
bool is_name_char(char c, bool colon_ok) {
  return is_name_start(c, colon_ok) || (c >= '0' && c <= '9');
}
bool valid_name(const std::string& s, bool colon_ok) {
  if (s.empty() || !is_name_start(s[0], colon_ok)) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) { return is_name_char(c, colon_ok); });
}

// A sample value or timestamp as the format allows: a Go ParseFloat number, +Inf, -Inf, NaN.
bool parse_value(const std::string& text, double* out) {
  if (text == "+Inf" || text == "Inf") {
    *out = INFINITY;
    return true;
  }
  if (text == "-Inf") {
    *out = -INFINITY;
    return true;
  }
  if (text == "NaN") {
    *out = NAN;
    return true;
  }
  if (text.empty()) return false;
  for (char c : text)
    if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
      return false;
  size_t used = 0;
  try {
    *out = std::stod(text, &used);
  } catch (...) {
    return false;
  }
  return used == text.size();
}

// The family a sample belongs to, given the declared types.
std::string family_of(const std::string& sample, const std::map<std::string, std::string>& types) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (sample.size() > s.size() && sample.compare(sample.size() - s.size(), s.size(), s) == 0) {
      std::string base = sample.substr(0, sample.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() &&
          (it->second == "histogram" || (it->second == "summary" && s != "_bucket")))
        return base;
    }
  }
  return sample;
}

}  // namespace

std::string parse_prometheus(const std::string& text, Exposition* out) {
  *out = Exposition{};
  if (!text.empty() && text.back() != '\n') return "the exposition does not end with a newline";
  std::set<std::string> series_seen;
  std::set<std::string> families_done;  // families whose group has ended
  std::string current_family;
  int line_no = 0;
  auto enter_family = [&](const std::string& family) -> std::string {
    if (family == current_family) return "";
    if (families_done.count(family)) return "lines of " + family + " are not one group";
    if (!current_family.empty()) families_done.insert(current_family);
    current_family = family;
    return "";
  };
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    auto fail = [&](const std::string& what) {
      return "line " + std::to_string(line_no) + " (" + line + "): " + what;
    };
    if (line.empty()) continue;  // the format ignores empty lines
    if (line[0] == '#') {
      std::istringstream words(line.substr(1));
      std::string keyword, name;
      words >> keyword;
      if (keyword != "HELP" && keyword != "TYPE") continue;  // a comment
      if (line.compare(0, 2 + keyword.size() + 1, "# " + keyword + " ") != 0)
        return fail("expected \"# " + keyword + " name ...\" with single spaces");
      words >> name;
      if (!valid_name(name, true)) return fail("invalid metric name");
      if (std::string e = enter_family(name); !e.empty()) return fail(e);
      if (keyword == "HELP") {
        if (out->help.count(name)) return fail("a second HELP for " + name);
        std::string doc;
        std::getline(words, doc);
        if (!doc.empty() && doc[0] == ' ') doc.erase(0, 1);
        out->help[name] = doc;
      } else {
        std::string type, extra;
        words >> type >> extra;
        if (!extra.empty()) return fail("trailing text after the type");
        static const std::set<std::string> kTypes = {"counter", "gauge", "histogram", "summary",
                                                     "untyped"};
        if (!kTypes.count(type)) return fail("unknown type " + type);
        if (out->types.count(name)) return fail("a second TYPE for " + name);
        for (const Sample& s : out->samples)
          if (family_of(s.name, {{name, type}}) == name)
            return fail("TYPE after samples of " + name);
        out->types[name] = type;
      }
      continue;
    }
    Sample sample;
    size_t i = 0;
    while (i < line.size() && is_name_char(line[i], true)) ++i;
    sample.name = line.substr(0, i);
    if (!valid_name(sample.name, true)) return fail("invalid metric name");
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (true) {
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        size_t start = i;
        while (i < line.size() && is_name_char(line[i], false)) ++i;
        std::string label = line.substr(start, i - start);
        if (!valid_name(label, false)) return fail("invalid label name");
        if (label.rfind("__", 0) == 0) return fail("label names starting with __ are reserved");
        if (i + 1 >= line.size() || line[i] != '=' || line[i + 1] != '"')
          return fail("expected =\" after label " + label);
        i += 2;
        std::string value;
        bool closed = false;
        while (i < line.size()) {
          char c = line[i++];
          if (c == '"') {
            closed = true;
            break;
          }
          if (c == '\\') {
            if (i >= line.size()) break;
            char e = line[i++];
            if (e == '\\')
              value += '\\';
            else if (e == '"')
              value += '"';
            else if (e == 'n')
              value += '\n';
            else
              return fail(std::string("invalid escape \\") + e + " in a label value");
          } else {
            value += c;
          }
        }
        if (!closed) return fail("unterminated label value");
        if (sample.labels.count(label)) return fail("duplicate label " + label);
        sample.labels[label] = value;
        if (i < line.size() && line[i] == ',') {
          ++i;
          continue;
        }
        if (i < line.size() && line[i] == '}') {
          ++i;
          break;
        }
        return fail("expected , or } after a label");
      }
    }
    if (i >= line.size() || line[i] != ' ') return fail("expected a space before the value");
    while (i < line.size() && line[i] == ' ') ++i;
    size_t end = line.find(' ', i);
    std::string value_text = line.substr(i, end == std::string::npos ? std::string::npos : end - i);
    if (!parse_value(value_text, &sample.value)) return fail("invalid value " + value_text);
    if (end != std::string::npos) {
      std::string ts = line.substr(end + 1);
      if (ts.empty() || !std::all_of(ts.begin() + (ts[0] == '-' ? 1 : 0), ts.end(),
                                     [](char c) { return c >= '0' && c <= '9'; }))
        return fail("invalid timestamp");
    }
    std::string family = family_of(sample.name, out->types);
    if (!out->types.count(family)) return fail("sample of " + family + " without a TYPE line");
    if (std::string e = enter_family(family); !e.empty()) return fail(e);
    const std::string& type = out->types[family];
    if (type == "counter" && !(sample.value >= 0)) return fail("a counter must be >= 0");
    if (type == "histogram" && sample.name == family + "_bucket" && !sample.labels.count("le"))
      return fail("a histogram bucket without le");
    std::string key = sample.name;
    for (const auto& [k, v] : sample.labels) key += "\x1f" + k + "=" + v;
    if (!series_seen.insert(key).second) return fail("duplicate series");
    out->samples.push_back(std::move(sample));
  }

  // Histogram consistency, per family and label set (without le).
  for (const auto& [family, type] : out->types) {
    if (type != "histogram") continue;
    struct Series {
      std::vector<std::pair<double, double>> buckets;  // (le, count) in exposition order
      std::optional<double> count, sum;
    };
    std::map<std::map<std::string, std::string>, Series> series;
    for (const Sample& s : out->samples) {
      auto labels = s.labels;
      if (s.name == family + "_bucket") {
        double le = 0;
        if (!parse_value(labels["le"], &le) || std::isnan(le))
          return family + ": invalid le \"" + labels["le"] + "\"";
        labels.erase("le");
        series[labels].buckets.emplace_back(le, s.value);
      } else if (s.name == family + "_count") {
        series[labels].count = s.value;
      } else if (s.name == family + "_sum") {
        series[labels].sum = s.value;
      }
    }
    for (const auto& [labels, h] : series) {
      std::string which = family;
      for (const auto& [k, v] : labels) which += " " + k + "=" + v;
      if (h.buckets.empty()) return which + ": no buckets";
      for (size_t k = 1; k < h.buckets.size(); ++k) {
        if (!(h.buckets[k].first > h.buckets[k - 1].first))
          return which + ": le values not strictly ascending";
        if (h.buckets[k].second < h.buckets[k - 1].second)
          return which + ": bucket counts decrease at le=" + std::to_string(h.buckets[k].first);
      }
      if (!std::isinf(h.buckets.back().first)) return which + ": no le=\"+Inf\" bucket";
      if (!h.count) return which + ": no _count";
      if (!h.sum) return which + ": no _sum";
      if (*h.count != h.buckets.back().second)
        return which + ": _count differs from the +Inf bucket";
    }
  }
  return "";
}

std::optional<double> Exposition::value(const std::string& name,
                                        const std::map<std::string, std::string>& labels) const {
  std::optional<double> found;
  for (const Sample& s : samples) {
    if (s.name != name) continue;
    bool match = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
      auto it = s.labels.find(kv.first);
      return it != s.labels.end() && it->second == kv.second;
    });
    if (!match) continue;
    if (found) throw std::logic_error("several samples of " + name + " match");
    found = s.value;
  }
  return found;
}

std::vector<Sample> Exposition::all(const std::string& name) const {
  std::vector<Sample> out;
  for (const Sample& s : samples)
    if (s.name == name) out.push_back(s);
  return out;
}

}  // namespace switchyard::test::ops
