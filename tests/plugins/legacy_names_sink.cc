// legacy_names_sink.cc: test plugin written with the SDK's 0.1 names (switchyard::Handler,
// switchyard::Config, switchyard::JsonObject, ...), which must keep building and working. It
// rejects every event with "legacy_names_sink: PAYLOAD.id".
#include <string>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class LegacyNamesSink : public switchyard::Handler {
 public:
  LegacyNamesSink(const switchyard::Config& config, switchyard::Host&) : config_(config.json()) {}
  switchyard::Result handle(const switchyard::Event& event) override {
    switchyard::JsonObject payload(event.payload_json(), "payload");
    if (!payload.has("id")) throw switchyard::RejectError("payload.id is missing");
    return switchyard::Result::reject("legacy_names_sink: " +
                                      std::to_string(payload.required_int("id")));
  }

 private:
  std::string config_;
};

}  // namespace

SWITCHYARD_PLUGIN(LegacyNamesSink, "legacy_names_sink", "1.0.0")
