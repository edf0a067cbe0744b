// test_command.cc: `switchyard test FILE`: route tests. Each case's input goes through the
// daemon's own decoding, contracts and routing (Dispatcher::route) without Redis or plugins, and
// the handlers it reaches (or its dead-letter reason) are compared with what the case expects;
// `call: true` also runs the real handlers and reports their answers.
#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "config/yaml_reader.h"
#include "dispatch/dispatcher.h"
#include "dispatch/pipeline.h"
#include "log/logging.h"
#include "records/dead_letter.h"
#include "records/retry_entry.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// One case of the test file.
struct RouteCase {
  std::string name;
  Mark mark;            // where the case starts
  std::string message;  // the bytes fed in: input as JSON, or input_raw as is
  size_t source = 0;    // index into config.sources
  bool call = false;    // also run the handlers
  bool expect_dead_letter = false;
  std::vector<std::string> handlers;  // expected handler names (expect_dead_letter false)
  std::string dead_letter;            // expected substring of the reason (expect_dead_letter)
};

// What happened to one case.
struct RouteResult {
  Dispatcher::Route route = Dispatcher::Route::kDrop;
  std::vector<std::string> handlers;  // routed to, in routes.yaml order
  std::string reason;                 // kDeadLetter
  // call: true: one line per handler ("NAME: ok", "NAME: retry: REASON", "NAME: dead letter:
  // REASON") and the handlers' dead-letter reasons.
  std::vector<std::string> calls;
  std::vector<std::string> handler_dead_letters;
};

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + printable(n);
  return "[" + out + "]";
}

// Fails at f unless name is one of names, suggesting the closest.
void require_one_of(const YamlReader& reader, const Field& f, const std::string& name,
                    const std::vector<std::string>& names, const std::string& what,
                    const std::string& config_path) {
  if (std::find(names.begin(), names.end(), name) != names.end()) return;
  const std::string near = closest(name, names);
  reader.fail(f, "no " + what + " " + quote(printable(name)) + " in " + config_path +
                     (near.empty() ? " (it has " + join(names) + ")"
                                   : "; did you mean " + quote(near) + "?"));
}

// Reads the test file's text into cases; throws ConfigError or YAML::Exception.
std::vector<RouteCase> parse_cases(const std::string& text, const std::string& path,
                                   const Config& config) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  YamlReader reader(path, dir.empty() ? "." : dir);
  const Field root{"", YAML::Node(), YAML::Load(text)};
  if (!root.value.IsMap())
    reader.fail(reader.mark_of(root.value),
                "expected a map with a tests: list, got " + describe(root.value));
  const std::vector<Field> top = reader.entries(root);
  reader.reject_unknown(top, root, {"tests"});
  const Field* tests = find_field(top, "tests");
  if (!tests) reader.fail(reader.mark_of(root.value), "no tests: list; add one (see --help)");
  if (!tests->value.IsSequence() || tests->value.size() == 0)
    reader.fail(*tests, "expected a non-empty list of cases, got " + describe(tests->value));

  std::vector<std::string> sources, handlers;
  for (const SourceConfig& s : config.sources) sources.push_back(s.name);
  for (const HandlerConfig& h : config.handlers) handlers.push_back(h.name);

  std::vector<RouteCase> cases;
  for (size_t i = 0; i < tests->value.size(); ++i) {
    const Field c{"tests[" + std::to_string(i) + "]", YAML::Node(), tests->value[i]};
    if (!c.value.IsMap()) reader.fail(c, "expected a map (name:, input:, expect:)");
    const std::vector<Field> fields = reader.entries(c);
    reader.reject_unknown(fields, c, {"name", "input", "input_raw", "source", "call", "expect"});
    RouteCase rc;
    rc.mark = reader.mark_of(c.value);
    const Field* name = find_field(fields, "name");
    if (!name) reader.fail(c, "no name:; give every case a name");
    rc.name = reader.read_nonempty_string(*name);
    const Field* input = find_field(fields, "input");
    const Field* raw = find_field(fields, "input_raw");
    if (!input == !raw) reader.fail(c, "give exactly one of input: (YAML/JSON) or input_raw:");
    if (input) {
      rapidjson::StringBuffer buffer;
      YamlReader::JsonWriter writer(buffer);
      reader.write_json(*input, 0, &writer);
      rc.message.assign(buffer.GetString(), buffer.GetSize());
    } else {
      rc.message = reader.read_string(*raw);
    }
    if (const Field* source = find_field(fields, "source")) {
      const std::string s = reader.read_nonempty_string(*source);
      require_one_of(reader, *source, s, sources, "source", config.path);
      rc.source =
          static_cast<size_t>(std::find(sources.begin(), sources.end(), s) - sources.begin());
    }
    if (const Field* call = find_field(fields, "call")) rc.call = reader.read_bool(*call);
    const Field* expect = find_field(fields, "expect");
    if (!expect) reader.fail(c, "no expect:; add expect: {handlers: [...]} or {dead_letter: TEXT}");
    if (!expect->value.IsMap())
      reader.fail(*expect, "expected a map ({handlers: [...]} or {dead_letter: TEXT}), got " +
                               describe(expect->value));
    const std::vector<Field> wanted = reader.entries(*expect);
    reader.reject_unknown(wanted, *expect, {"handlers", "dead_letter"});
    const Field* want_handlers = find_field(wanted, "handlers");
    const Field* want_dead = find_field(wanted, "dead_letter");
    if (!want_handlers == !want_dead)
      reader.fail(*expect, "give exactly one of handlers: or dead_letter:");
    if (want_dead) {
      rc.expect_dead_letter = true;
      rc.dead_letter = reader.read_nonempty_string(*want_dead);
    } else {
      if (!want_handlers->value.IsSequence())
        reader.fail(*want_handlers, "expected a list of handler names ([] for none), got " +
                                        describe(want_handlers->value));
      for (size_t k = 0; k < want_handlers->value.size(); ++k) {
        const Field h{want_handlers->path + "[" + std::to_string(k) + "]", YAML::Node(),
                      want_handlers->value[k]};
        rc.handlers.push_back(reader.read_nonempty_string(h));
        require_one_of(reader, h, rc.handlers.back(), handlers, "handler", config.path);
      }
    }
    cases.push_back(std::move(rc));
  }
  return cases;
}

// Loads the test file; on failure sets *error to "FILE:LINE:COL: what" and returns false.
bool load_cases(const std::string& path, const Config& config, std::vector<RouteCase>* cases,
                std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path)) {
    *error = path + ": cannot read the test file; pass its path: switchyard test FILE";
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    *cases = parse_cases(text.str(), path, config);
    return true;
  } catch (const ConfigError& e) {
    *error = e.message;
  } catch (const YAML::Exception& e) {
    Mark at{path, 1, 1};
    if (!e.mark.is_null()) at = Mark{path, e.mark.line + 1, e.mark.column + 1};
    *error = at.str() + ": invalid YAML: " + e.msg;
  }
  return false;
}

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs one case the daemon's way. full: the pipeline with its handlers loaded (call: true only).
RouteResult run_case(const RouteCase& rc, const Pipeline& routing, const Pipeline* full,
                     Metrics* metrics) {
  const Config& config = *routing.config;
  Dispatcher dispatcher(config.sources[rc.source], "switchyard-test", metrics, unix_ms);
  RouteResult result;
  Envelope envelope;
  std::vector<int> matched;
  int attempts = 1;
  result.route =
      dispatcher.route(routing, rc.message, {}, 0, &envelope, &matched, &result.reason, &attempts);
  for (int h : matched) result.handlers.push_back(config.handlers[h].name);
  if (!rc.call || !full || result.route != Dispatcher::Route::kHandlers) return result;

  TakenBatch batch;
  batch.messages.push_back(rc.message);
  AckWrites writes;
  dispatcher.dispatch(*full, batch, &writes);
  for (const std::string& name : result.handlers) {
    std::string line = name + ": ok";
    for (const auto& [due, member] : writes.retries) {
      RetryEntry entry;
      if (decode_retry_entry(member, &entry) && entry.handler == name)
        line = name + ": retry (attempt " + std::to_string(entry.attempt) + " would follow)";
    }
    for (const std::string& encoded : writes.dead_letters) {
      DeadLetter letter;
      std::string error;
      if (decode_dead_letter(encoded, &letter, &error) && letter.handler == name) {
        line = name + ": dead letter: " + letter.reason;
        result.handler_dead_letters.push_back(letter.reason);
      }
    }
    result.calls.push_back(line);
  }
  return result;
}

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool passes(const RouteCase& rc, const RouteResult& got) {
  if (!rc.expect_dead_letter)
    return got.route != Dispatcher::Route::kDeadLetter &&
           sorted(got.handlers) == sorted(rc.handlers);
  if (got.route == Dispatcher::Route::kDeadLetter)
    return got.reason.find(rc.dead_letter) != std::string::npos;
  return std::any_of(
      got.handler_dead_letters.begin(), got.handler_dead_letters.end(),
      [&](const std::string& r) { return r.find(rc.dead_letter) != std::string::npos; });
}

std::string describe_expected(const RouteCase& rc) {
  if (rc.expect_dead_letter)
    return "dead letter, reason containing \"" + printable(rc.dead_letter) + "\"";
  return rc.handlers.empty() ? "no handler (dropped)" : "handlers " + join(rc.handlers);
}

std::string describe_got(const RouteResult& got) {
  switch (got.route) {
    case Dispatcher::Route::kDeadLetter:
      return "dead letter: " + printable(got.reason);
    case Dispatcher::Route::kDrop:
      return "no handler (dropped: no route matches and unrouted: drop)";
    case Dispatcher::Route::kHandlers:
      break;
  }
  return "handlers " + join(got.handlers);
}

}  // namespace

int test_command(const CommonOptions& common, const TestOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded, nullptr, /*need_redis=*/false)) return rc;
  std::vector<RouteCase> cases;
  std::string error;
  if (!load_cases(options.file, *loaded.config, &cases, &error)) {
    std::cerr << "switchyard: " << printable(error) << "\n";
    return 2;
  }
  std::shared_ptr<const Pipeline> routing;
  Status s = build_routing_only(loaded.config, &routing);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 2;
  }
  // The plugins are loaded only when a case asks for them.
  std::shared_ptr<const Pipeline> full;
  if (std::any_of(cases.begin(), cases.end(), [](const RouteCase& c) { return c.call; })) {
    setup_logging("warn", "text");
    s = build_pipeline(loaded.config, loaded.plugins_dir, nullptr, &full);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 2;
    }
  }
  Metrics metrics;
  int failed = 0;
  for (const RouteCase& rc : cases) {
    const RouteResult got = run_case(rc, *routing, full.get(), &metrics);
    const bool ok = passes(rc, got);
    if (ok) {
      std::cout << "ok    " << printable(rc.name) << "\n";
    } else {
      ++failed;
      std::cout << "FAIL  " << rc.mark.str() << ": " << printable(rc.name) << "\n"
                << "      expected: " << describe_expected(rc) << "\n"
                << "      got:      " << describe_got(got) << "\n";
    }
    for (const std::string& line : got.calls)
      std::cout << "      called " << printable(line) << "\n";
  }
  std::cout << "\n"
            << cases.size() - failed << " passed, " << failed << " failed (" << options.file
            << " against " << loaded.config->path << ")\n";
  return failed ? 1 : 0;
}

}  // namespace switchyard
