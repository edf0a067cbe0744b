// latency_sink.cc: benchmark plugin: records, for every event, handled time minus publish time.
//
// The publisher embeds its CLOCK_REALTIME nanoseconds in the payload ("sent_ns": <integer>); this
// handler reads the clock when it is handed the event and keeps the difference. The latencies are
// written as raw little-endian int64 nanoseconds to config.output when the handler is destroyed
// (daemon shutdown), and appended early if the buffer grows past a million entries.
// An event without "sent_ns" is counted as -1 (the benchmark reports it as an error).
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

int64_t realtime_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

class LatencySink : public switchyard::sdk::Handler {
 public:
  LatencySink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    output_ = host.resolve_path(options.required_string("output"));
    latencies_.reserve(1 << 16);
  }
  ~LatencySink() override { write_out(); }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    record(event, realtime_ns());
    return switchyard::sdk::Result::ok();
  }
  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    for (const auto& event : events) record(event, realtime_ns());
    if (latencies_.size() >= (1u << 20)) write_out();
  }

 private:
  void record(const switchyard::sdk::Event& event, int64_t now) {
    static constexpr std::string_view kField = "\"sent_ns\":";
    std::string_view payload = event.payload_json();
    size_t at = payload.find(kField);
    if (at == std::string_view::npos) {
      latencies_.push_back(-1);
      return;
    }
    int64_t sent = std::strtoll(payload.data() + at + kField.size(), nullptr, 10);
    latencies_.push_back(now - sent);
  }

  void write_out() {
    if (latencies_.empty()) return;
    if (FILE* f = std::fopen(output_.c_str(), "ab")) {
      std::fwrite(latencies_.data(), sizeof(int64_t), latencies_.size(), f);
      std::fclose(f);
    }
    latencies_.clear();
  }

  std::string output_;
  std::vector<int64_t> latencies_;
};

}  // namespace

SWITCHYARD_PLUGIN(LatencySink, "latency_sink", "1.0.0", "output")
