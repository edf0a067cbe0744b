// crash_sink.cc: test plugin that kills the process (abort) on a message containing
// "crash":true; other messages are appended as lines to config.path (optional).
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class CrashSink : public switchyard::sdk::Handler {
 public:
  CrashSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    if (auto path = options.optional_string("path")) path_ = host.resolve_path(*path);
  }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    std::vector<switchyard::sdk::Event> events{event};
    std::vector<switchyard::sdk::Result> results(1, switchyard::sdk::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  // Crashes before writing anything when any event of the batch carries the marker.
  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    for (const auto& event : events) {
      if (event.message().find("\"crash\":true") != std::string_view::npos) std::abort();
    }
    if (path_.empty()) return;
    std::string lines;
    for (const auto& event : events) lines.append(event.message()).append("\n");
    std::FILE* file = std::fopen(path_.c_str(), "ab");
    if (!file) throw switchyard::sdk::RetryError("crash_sink: cannot open " + path_);
    bool ok = std::fwrite(lines.data(), 1, lines.size(), file) == lines.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) throw switchyard::sdk::RetryError("crash_sink: cannot write " + path_);
  }

 private:
  std::string path_;
};

}  // namespace

SWITCHYARD_PLUGIN(CrashSink, "crash_sink", "1.0.0", "path")
