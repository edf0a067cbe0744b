/* older_descriptor_plugin.cc: test plugin, plain C style, whose descriptor is a frozen copy of
 * the ABI 1.0 layout (the ABI's minimum size), as a plugin built against the first SDK has it.
 * The host must load it and call it whatever fields later 1.x releases add. It rejects every
 * event with "older_descriptor_plugin handled NAME" so a test sees that its code ran. */
#include <stdint.h>
#include <stdio.h>

#include "switchyard/plugin.h"

namespace {

/* The descriptor as ABI 1.0 defined it; never change this copy. */
typedef struct descriptor_1_0 {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;
  const char* version;
  const char* const* config_keys;
  int32_t (*create)(const char*, const sy_host_api*, void**, char*, size_t);
  void (*handle_batch)(void*, const sy_event*, size_t, sy_outcome*);
  int32_t (*flush)(void*, char*, size_t);
  void (*destroy)(void*);
} descriptor_1_0;

static_assert(sizeof(descriptor_1_0) == SY_PLUGIN_DESCRIPTOR_MIN_SIZE,
              "the ABI 1 minimum is the 1.0 descriptor");

int instance_tag;

int32_t create(const char*, const sy_host_api*, void** instance, char*, size_t) {
  *instance = &instance_tag;
  return 0;
}

void handle_batch(void*, const sy_event* events, size_t count, sy_outcome* outcomes) {
  for (size_t i = 0; i < count; ++i) {
    outcomes[i].kind = SY_OUTCOME_REJECT;
    snprintf(outcomes[i].reason, sizeof(outcomes[i].reason), "older_descriptor_plugin handled %.*s",
             static_cast<int>(events[i].name.size), events[i].name.data);
  }
}

void destroy(void*) {}

const char* const keys[] = {"path", NULL};

const descriptor_1_0 descriptor = {SWITCHYARD_ABI_VERSION,
                                   sizeof(descriptor_1_0),
                                   "older_descriptor_plugin",
                                   "1.0.0",
                                   keys,
                                   &create,
                                   &handle_batch,
                                   NULL,
                                   &destroy};

}  // namespace

extern "C" __attribute__((visibility("default"))) const sy_plugin_descriptor*
switchyard_plugin_entry_v1(void) {
  return reinterpret_cast<const sy_plugin_descriptor*>(&descriptor);
}
