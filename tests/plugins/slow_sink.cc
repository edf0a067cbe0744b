// slow_sink.cc: test plugin that takes config.sleep_ms per batch, then appends each envelope as a
// line to config.path (a handler slower than reclaim_after, for ownership tests).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class SlowSink : public switchyard::sdk::Handler {
 public:
  SlowSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    path_ = host.resolve_path(options.required_string("path"));
    sleep_ms_ = options.optional_int("sleep_ms").value_or(1000);
  }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    std::vector<switchyard::sdk::Event> events{event};
    std::vector<switchyard::sdk::Result> results(1, switchyard::sdk::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    std::string lines;
    for (const auto& event : events) lines.append(event.message()).append("\n");
    std::FILE* file = std::fopen(path_.c_str(), "ab");
    if (!file) throw switchyard::sdk::RetryError("slow_sink: cannot open " + path_);
    bool ok = std::fwrite(lines.data(), 1, lines.size(), file) == lines.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) throw switchyard::sdk::RetryError("slow_sink: cannot write " + path_);
  }

 private:
  std::string path_;
  int64_t sleep_ms_ = 1000;
};

}  // namespace

SWITCHYARD_PLUGIN(SlowSink, "slow_sink", "1.0.0", "path", "sleep_ms")
