// throwing_sink.cc: test plugin whose handle() throws; the SDK turns it into a REJECT.
#include <stdexcept>

#include "switchyard/handler.hpp"

namespace {

class ThrowingSink : public switchyard::sdk::Handler {
 public:
  ThrowingSink(const switchyard::sdk::PluginConfig&, switchyard::sdk::Host&) {}
  switchyard::sdk::Result handle(const switchyard::sdk::Event&) override {
    throw std::runtime_error("boom from throwing_sink");
  }
};

}  // namespace

SWITCHYARD_PLUGIN(ThrowingSink, "throwing_sink", "1.0.0")
