// probe_sink.cc: test plugin that appends each envelope as a line to config.path and logs its
// creation and destruction ("probe_sink created: PATH" / "probe_sink destroyed: PATH, N events").
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class ProbeSink : public switchyard::Handler {
 public:
  ProbeSink(const switchyard::Config& config, switchyard::Host& host) : host_(host) {
    switchyard::JsonObject options(config.json(), "config");
    path_ = host.resolve_path(options.required_string("path"));
    check_only_ = host.check_only();
    if (!check_only_) host_.info("probe_sink created: " + path_);
  }
  ~ProbeSink() override {
    if (!check_only_) {
      host_.info("probe_sink destroyed: " + path_ + ", " + std::to_string(count_) + " events");
    }
  }
  ProbeSink(const ProbeSink&) = delete;
  ProbeSink& operator=(const ProbeSink&) = delete;

  switchyard::Result handle(const switchyard::Event& event) override {
    std::vector<switchyard::Event> events{event};
    std::vector<switchyard::Result> results(1, switchyard::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  void handle_batch(const std::vector<switchyard::Event>& events,
                    std::vector<switchyard::Result>&) override {
    std::string lines;
    for (const auto& event : events) lines.append(event.message()).append("\n");
    std::FILE* file = std::fopen(path_.c_str(), "ab");
    if (!file) throw switchyard::RetryError("probe_sink: cannot open " + path_);
    bool ok = std::fwrite(lines.data(), 1, lines.size(), file) == lines.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) throw switchyard::RetryError("probe_sink: cannot write " + path_);
    count_ += events.size();
  }

 private:
  switchyard::Host& host_;
  std::string path_;
  bool check_only_ = false;
  uint64_t count_ = 0;
};

}  // namespace

SWITCHYARD_PLUGIN(ProbeSink, "probe_sink", "1.0.0", "path")
