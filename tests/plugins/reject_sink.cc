// reject_sink.cc: test plugin that rejects every event with "rejected by reject_sink".
#include "switchyard/handler.hpp"

namespace {

class RejectSink : public switchyard::sdk::Handler {
 public:
  RejectSink(const switchyard::sdk::PluginConfig&, switchyard::sdk::Host&) {}
  switchyard::sdk::Result handle(const switchyard::sdk::Event&) override {
    return switchyard::sdk::Result::reject("rejected by reject_sink");
  }
};

}  // namespace

SWITCHYARD_PLUGIN(RejectSink, "reject_sink", "1.0.0")
