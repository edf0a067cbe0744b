// plugin_test_helpers.h: loads real plugin .so files into HandlerInstances and runs batches of
// sy_event (owning the envelope bytes) through them, for the plugin host and plugin tests.
// Thread safety: none; one EventBatch per thread.
#ifndef SWITCHYARD_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_HELPERS_H_
#define SWITCHYARD_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_HELPERS_H_

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "plugin_host/handler_instance.h"
#include "support/plugin_paths.h"
#include "switchyard/plugin.h"

namespace switchyard::test {

// Loads the plugin at path and creates handler `handler` from config_json (relative paths in
// it resolve against config_dir). Records a test failure and returns null on any error.
inline std::unique_ptr<HandlerInstance> create_handler(const std::string& path,
                                                       const std::string& handler,
                                                       const std::string& config_json,
                                                       const std::string& config_dir = "") {
  std::string error;
  std::shared_ptr<PluginLibrary> library = PluginLibrary::load(path, &error);
  if (!library) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  auto instance = HandlerInstance::create(library, handler, config_json, config_dir, &error);
  if (!instance) ADD_FAILURE() << error;
  return instance;
}

class EventBatch {
 public:
  // Adds the envelope {"event":"NAME","payload":PAYLOAD_JSON} (name is not escaped).
  EventBatch& add(const std::string& name, const std::string& payload_json, uint32_t attempt = 1) {
    std::string prefix = "{\"event\":\"" + name + "\",\"payload\":";
    entries_.push_back({prefix + payload_json + "}", 10, name.size(), prefix.size(),
                        payload_json.size(), attempt});
    return *this;
  }
  size_t size() const { return entries_.size(); }
  // The envelope bytes of event i.
  const std::string& message(size_t i) const { return entries_[i].message; }

  // Hands the whole batch to instance in one handle_batch call; returns one outcome per event.
  std::vector<sy_outcome> run(HandlerInstance& instance) const {
    std::vector<sy_event> events;
    events.reserve(entries_.size());
    for (const Entry& e : entries_) {
      const char* base = e.message.data();
      events.push_back({{base, e.message.size()},
                        {base + e.name_offset, e.name_size},
                        {base + e.payload_offset, e.payload_size},
                        e.attempt});
    }
    std::vector<sy_outcome> outcomes(events.size());
    instance.handle_batch(events.data(), events.size(), outcomes.data());
    return outcomes;
  }

 private:
  struct Entry {
    std::string message;
    size_t name_offset, name_size, payload_offset, payload_size;
    uint32_t attempt;
  };
  std::vector<Entry> entries_;
};

// "OK", "RETRY: reason" or "REJECT: reason", for readable assertions.
inline std::string describe(const sy_outcome& outcome) {
  switch (outcome.kind) {
    case SY_OUTCOME_OK:
      return "OK";
    case SY_OUTCOME_RETRY:
      return std::string("RETRY: ") + outcome.reason;
    case SY_OUTCOME_REJECT:
      return std::string("REJECT: ") + outcome.reason;
    default:
      return "KIND " + std::to_string(outcome.kind) + ": " + outcome.reason;
  }
}

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_UNIT_PLUGIN_HOST_PLUGIN_TEST_HELPERS_H_
