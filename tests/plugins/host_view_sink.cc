// host_view_sink.cc: test plugin that shows what the SDK's Host gives it. It logs
// "host_view_sink created" and rejects every event with
// "handler_name=[NAME] path=[resolve_path("out.txt")] check_only=0|1", so a test can hand it a
// smaller (older) sy_host_api and see which fields the SDK treats as absent.
#include <string>

#include "switchyard/handler.hpp"

namespace {

namespace sdk = switchyard::sdk;

class HostViewSink : public sdk::Handler {
 public:
  HostViewSink(const sdk::PluginConfig&, sdk::Host& host) : host_(host) {
    host_.info("host_view_sink created");
  }
  sdk::Result handle(const sdk::Event&) override {
    return sdk::Result::reject("handler_name=[" + host_.handler_name() + "] path=[" +
                               host_.resolve_path("out.txt") +
                               "] check_only=" + (host_.check_only() ? "1" : "0"));
  }

 private:
  sdk::Host& host_;
};

}  // namespace

SWITCHYARD_PLUGIN(HostViewSink, "host_view_sink", "1.0.0")
