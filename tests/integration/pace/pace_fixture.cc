// pace_fixture.cc: the shared fixture of the pace and dedup integration tests.
#include "integration/pace/pace_fixture.h"

#include <filesystem>
#include <sstream>

#include "support/http_get.h"
#include "support/plugin_paths.h"
#include "support/wait.h"

namespace switchyard::test::pace {
namespace {

using namespace std::chrono_literals;

std::string indent(const std::string& text, int spaces) {
  std::istringstream in(text);
  std::string line, out;
  while (std::getline(in, line)) out += std::string(spaces, ' ') + line + "\n";
  return out;
}

}  // namespace

void PaceFixture::SetUp() {
  redis_.start();
  plugins_ = dir_.file("plugins");
  std::filesystem::create_directories(plugins_);
  for (const std::string& so : {bundled_plugin("jsonl_sink"), test_plugin("noop_sink"),
                                test_plugin("flaky_sink"), test_plugin("overlap_sink")})
    std::filesystem::copy_file(so, plugins_ + "/" + std::filesystem::path(so).filename().string());
}

std::string PaceFixture::write_config(int n, const std::string& source_extra,
                                      const std::string& handlers, const std::string& routes) {
  while (static_cast<int>(ports_.size()) <= n) ports_.push_back(pick_free_tcp_port());
  std::string y = "version: 1\nredis: { url: \"" + redis_.url() + "\" }\n";
  y += "plugins_dir: \"" + plugins_ + "\"\n";
  y += "sources:\n  events:\n    key: events\n    reclaim_after: 1s\n" + indent(source_extra, 4);
  y += "handlers:\n" + indent(handlers, 2);
  y += "routes:\n" + indent(routes, 2);
  y += "retry: { max_attempts: 5, initial_backoff: 100ms, max_backoff: 1s }\n";
  y += "metrics: { listen: \"127.0.0.1:" + std::to_string(port(n)) + "\" }\n";
  const std::string path = dir_.write("routes" + std::to_string(n) + ".yaml", y);
  while (static_cast<int>(configs_.size()) <= n) configs_.emplace_back();
  configs_[n] = path;
  return path;
}

void PaceFixture::start(int n) {
  while (static_cast<int>(daemons_.size()) <= n) daemons_.emplace_back();
  daemons_[n] =
      SwitchyardProcess::run(configs_.at(n), dir_.file("switchyard" + std::to_string(n) + ".log"));
  ASSERT_TRUE(wait_until([&] { return http_get(port(n), "/metrics").status == 200; }, 20s,
                         "daemon " + std::to_string(n) + " to serve /metrics"))
      << logs();
}

double PaceFixture::counter(int n, const std::string& name, const std::string& label_name,
                            const std::string& label) {
  HttpResult r = http_get(port(n), "/metrics");
  if (r.status != 200) return 0;
  const std::string prefix = name + "{" + label_name + "=\"" + label + "\"} ";
  std::istringstream in(r.body);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) return std::stod(line.substr(prefix.size()));
  return 0;
}

std::set<std::string> PaceFixture::distinct_lines(const std::string& path) const {
  std::vector<std::string> all = file_lines(path);
  return std::set<std::string>(all.begin(), all.end());
}

std::string PaceFixture::logs() {
  std::string out;
  for (size_t i = 0; i < daemons_.size(); ++i)
    out += "--- daemon " + std::to_string(i) + " ---\n" + daemons_[i].log_tail(40);
  return out;
}

}  // namespace switchyard::test::pace
