// probed_sink.cc: test plugin whose probe (`switchyard check --connect`) answers from its config:
// config.problem (a string, may hold several lines) is reported as problems, config.throw is
// thrown as an exception, neither means everything is usable. It accepts every event.
#include <stdexcept>
#include <string>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class ProbedSink : public switchyard::sdk::BatchHandler {
 public:
  ProbedSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host)
      : check_only_(host.check_only()) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    problem_ = options.optional_string("problem").value_or("");
    throw_ = options.optional_string("throw").value_or("");
  }

  void handle_batch(const std::vector<switchyard::sdk::Event>&,
                    std::vector<switchyard::sdk::Result>&) override {}

  switchyard::sdk::ProbeResult probe() override {
    if (!check_only_) throw std::logic_error("probe called on an instance that is not check-only");
    if (!throw_.empty()) throw std::runtime_error(throw_);
    std::vector<std::string> problems;
    for (size_t start = 0; start < problem_.size();) {
      size_t end = problem_.find('\n', start);
      if (end == std::string::npos) end = problem_.size();
      problems.push_back(problem_.substr(start, end - start));
      start = end + 1;
    }
    return switchyard::sdk::ProbeResult::checked(problems);
  }

 private:
  bool check_only_;
  std::string problem_;
  std::string throw_;
};

}  // namespace

SWITCHYARD_PLUGIN(ProbedSink, "probed_sink", "1.0.0", "problem", "throw")
