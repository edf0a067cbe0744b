// fuzz_config.cc: fuzz target for the routes.yaml loader (load_config_from_string): any text gives
// a Config or a positioned error.
#include <string>

#include "config/config_loader.h"
#include "fuzz_target.h"

SWITCHYARD_FUZZ_TARGET(config) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  switchyard::Config config;
  switchyard::Status s =
      switchyard::load_config_from_string(yaml, "fuzz.yaml", "/nonexistent/fuzz", &config);
  if (!s) {
    FUZZ_CHECK(s.message().rfind("fuzz.yaml:", 0) == 0, "errors start with FILE:");
    FUZZ_CHECK(config.sources.empty(), "a failed load leaves the config unchanged");
    return 0;
  }
  FUZZ_CHECK(config.version == 1, "only version 1 loads");
  FUZZ_CHECK(!config.sources.empty(), "a loaded config has a source");
  for (const auto& route : config.routes)
    for (const auto& handler : route.handlers)
      FUZZ_CHECK(config.find_handler(handler) != nullptr, "routes name defined handlers");
  for (const auto& handler : config.handlers)
    FUZZ_CHECK(handler.plugin.find('/') == std::string::npos, "a plugin is a name, never a path");
  return 0;
}
