// noop_sink.cc: test plugin that accepts every event (counts them, writes nothing).
#include <cstdint>
#include <string>
#include <vector>

#include "switchyard/handler.hpp"

namespace {

class NoopSink : public switchyard::sdk::Handler {
 public:
  NoopSink(const switchyard::sdk::PluginConfig&, switchyard::sdk::Host& host) : host_(host) {}
  ~NoopSink() override { host_.debug("noop_sink handled " + std::to_string(count_) + " events"); }

  switchyard::sdk::Result handle(const switchyard::sdk::Event&) override {
    ++count_;
    return switchyard::sdk::Result::ok();
  }
  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>&) override {
    count_ += events.size();  // results are preset to ok
  }

 private:
  switchyard::sdk::Host& host_;
  uint64_t count_ = 0;
};

}  // namespace

SWITCHYARD_PLUGIN(NoopSink, "noop_sink", "1.0.0")
