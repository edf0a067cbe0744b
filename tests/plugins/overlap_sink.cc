// overlap_sink.cc: test plugin that records when each call runs, so a test can tell how many calls
// overlapped across threads and processes: each handle_batch sleeps config.sleep_ms (default
// 50), then appends "<start ns> <end ns>" (CLOCK_REALTIME) to config.calls and each envelope as a
// line to config.path, each with one O_APPEND write.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

int64_t realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void append(const std::string& path, const std::string& text) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw switchyard::sdk::RetryError("overlap_sink: cannot open " + path);
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  if (!ok) throw switchyard::sdk::RetryError("overlap_sink: cannot write " + path);
}

class OverlapSink : public switchyard::sdk::Handler {
 public:
  OverlapSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    path_ = host.resolve_path(options.required_string("path"));
    calls_ = host.resolve_path(options.required_string("calls"));
    sleep_ms_ = options.optional_int("sleep_ms").value_or(50);
  }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    std::vector<switchyard::sdk::Event> events{event};
    std::vector<switchyard::sdk::Result> results(1, switchyard::sdk::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    const int64_t start = realtime_ns();
    std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
    std::string lines;
    for (const auto& event : events) lines.append(event.message()).append("\n");
    append(path_, lines);
    append(calls_, std::to_string(start) + " " + std::to_string(realtime_ns()) + "\n");
  }

 private:
  std::string path_;
  std::string calls_;
  int64_t sleep_ms_ = 50;
};

}  // namespace

SWITCHYARD_PLUGIN(OverlapSink, "overlap_sink", "1.0.0", "path", "calls", "sleep_ms")
