// noop_sink.cc: test plugin that accepts every event (counts them, writes nothing).
#include <cstdint>
#include <string>
#include <vector>

#include "switchyard/handler.hpp"

namespace {

class NoopSink : public switchyard::Handler {
 public:
  NoopSink(const switchyard::Config&, switchyard::Host& host) : host_(host) {}
  ~NoopSink() override { host_.debug("noop_sink handled " + std::to_string(count_) + " events"); }

  switchyard::Result handle(const switchyard::Event&) override {
    ++count_;
    return switchyard::Result::ok();
  }
  void handle_batch(const std::vector<switchyard::Event>& events,
                    std::vector<switchyard::Result>&) override {
    count_ += events.size();  // results are preset to ok
  }

 private:
  switchyard::Host& host_;
  uint64_t count_ = 0;
};

}  // namespace

SWITCHYARD_PLUGIN(NoopSink, "noop_sink", "1.0.0")
