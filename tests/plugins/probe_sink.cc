// probe_sink.cc: test plugin that appends each envelope as a line to config.path and logs its
// creation and destruction ("probe_sink created: PATH" / "probe_sink destroyed: PATH, N events").
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class ProbeSink : public switchyard::sdk::BatchHandler {
 public:
  ProbeSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host)
      : host_(host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
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

  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    std::string lines;
    for (const auto& event : events) lines.append(event.message()).append("\n");
    std::FILE* file = std::fopen(path_.c_str(), "ab");
    if (!file) throw switchyard::sdk::RetryError("probe_sink: cannot open " + path_);
    bool ok = std::fwrite(lines.data(), 1, lines.size(), file) == lines.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) throw switchyard::sdk::RetryError("probe_sink: cannot write " + path_);
    count_ += events.size();
  }

 private:
  switchyard::sdk::Host& host_;
  std::string path_;
  bool check_only_ = false;
  uint64_t count_ = 0;
};

}  // namespace

SWITCHYARD_PLUGIN(ProbeSink, "probe_sink", "1.0.0", "path")
