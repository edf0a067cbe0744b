// reject_sink.cc: test plugin that rejects every event with "rejected by reject_sink".
#include "switchyard/handler.hpp"

namespace {

class RejectSink : public switchyard::Handler {
 public:
  RejectSink(const switchyard::Config&, switchyard::Host&) {}
  switchyard::Result handle(const switchyard::Event&) override {
    return switchyard::Result::reject("rejected by reject_sink");
  }
};

}  // namespace

SWITCHYARD_PLUGIN(RejectSink, "reject_sink", "1.0.0")
