// ops_support.h: helpers shared by the ops integration tests: plugin directories, HTTP GETs,
// reading the files sinks write, and a strict Prometheus text-format (0.0.4) parser. Compiled
// once (ops_support.cc) into a library the ops tests link.
#ifndef SWITCHYARD_TESTS_INTEGRATION_OPS_OPS_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_OPS_OPS_SUPPORT_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/http_get.h"
#include "support/plugin_paths.h"
#include "support/temp_dir.h"

namespace switchyard::test::ops {

// ------------------------------------------------------------------------------ plugins

// The built plugins (support/plugin_paths.h).
using test::bundled_plugin;
using test::test_plugin;

// Deploys `so_path` into `plugins_dir` under its own file name the way an operator should: copy
// to a hidden temporary name in the same directory, then rename over (a daemon never sees a
// half-written .so). Throws std::filesystem::filesystem_error on failure.
void deploy_plugin(const std::string& so_path, const std::string& plugins_dir);

// Creates dir/plugins holding copies of the given .so files; returns its path.
std::string make_plugins_dir(const TempDir& dir, const std::vector<std::string>& so_paths);

// Writes `text` to `path` atomically (temporary file + rename), as editors and config
// management tools do.
void write_atomically(const std::string& path, const std::string& text);

// ------------------------------------------------------------------------------ files, logs
// (split_lines and file_lines live in support/child_process.h, next to read_file.)

// Occurrences of `needle` in `haystack`.
size_t count_of(const std::string& haystack, const std::string& needle);

// The lines of `text` containing `needle`.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle);

// The 1-based number of the first line of `text` containing `needle`, 0 if none.
int line_number_of(const std::string& text, const std::string& needle);

// ------------------------------------------------------------------------------ commands

// Starts `switchyard stats --watch --interval 0.2 -c config` in *watch, its output (stdout and
// stderr) appended to out_path. Throws std::runtime_error if it cannot start.
void start_stats_watch(const std::string& config, const std::string& out_path, ChildProcess* watch);

// ------------------------------------------------------------------------------ HTTP

// GET http://127.0.0.1:port/path: the test kit's http_get (support/http_get.h).
using test::http_get;
using test::HttpResult;

// ------------------------------------------------------------------------------ Prometheus

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// One parsed exposition.
struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> types;  // family -> counter|gauge|histogram|summary|untyped
  std::map<std::string, std::string> help;   // family -> docstring

  // The value of the one sample named `name` whose labels include `labels`; nullopt if none.
  // Throws std::logic_error if several match (the test asked an ambiguous question).
  std::optional<double> value(const std::string& name,
                              const std::map<std::string, std::string>& labels = {}) const;
  // Every sample named `name`.
  std::vector<Sample> all(const std::string& name) const;
};

// Parses the Prometheus text exposition format 0.0.4 strictly; returns "" on success, else the
// first problem with its line number. Rules checked: every line ends with '\n'; "# HELP name
// text" and "# TYPE name type" at most once per family, TYPE before the family's first sample;
// other '#' lines are comments; samples are `name{label="value",...} value [timestamp]` with
// valid metric/label names, only \\ \" \n escapes, no duplicate label names, no duplicate
// series, every sample's family TYPEd, a family's lines in one group; counters are >= 0;
// histograms: le buckets in ascending order with non-decreasing counts, a +Inf bucket equal to
// _count, and a _sum, for every label set.
std::string parse_prometheus(const std::string& text, Exposition* out);

}  // namespace switchyard::test::ops

#endif  // SWITCHYARD_TESTS_INTEGRATION_OPS_OPS_SUPPORT_H_
