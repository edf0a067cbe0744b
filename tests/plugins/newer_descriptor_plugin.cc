/* newer_descriptor_plugin.cc: test plugin, plain C style, whose descriptor is larger than this
 * host's: the ABI 1 fields followed by fields of a later 1.x that this host does not know. The
 * host must load it, ignore the extra fields, and call it. It rejects every event with
 * "newer_descriptor_plugin handled NAME" and counts flushes in the reason of the next batch.
 * Its probe (ABI 1.1) reports two problems, "first problem" and "second problem". */
#include <stdint.h>
#include <stdio.h>

#include "switchyard/plugin.h"

namespace {

typedef struct newer_descriptor {
  sy_plugin_descriptor v1;
  /* Fields a later 1.x might add; a host that predates them never reads them. */
  const char* future_text;
  int32_t (*future_call)(void* instance);
} newer_descriptor;

struct instance_state {
  int flushes;
};

int32_t create(const char*, const sy_host_api*, void** instance, char*, size_t) {
  *instance = new instance_state{0};
  return 0;
}

void handle_batch(void* instance, const sy_event* events, size_t count, sy_outcome* outcomes) {
  const instance_state* state = static_cast<const instance_state*>(instance);
  for (size_t i = 0; i < count; ++i) {
    outcomes[i].kind = SY_OUTCOME_REJECT;
    snprintf(outcomes[i].reason, sizeof(outcomes[i].reason),
             "newer_descriptor_plugin handled %.*s after %d flushes",
             static_cast<int>(events[i].name.size), events[i].name.data, state->flushes);
  }
}

int32_t flush(void* instance, char*, size_t) {
  ++static_cast<instance_state*>(instance)->flushes;
  return 0;
}

void destroy(void* instance) { delete static_cast<instance_state*>(instance); }

int32_t probe(void*, char* report, size_t report_size) {
  snprintf(report, report_size, "first problem\nsecond problem\n");
  return SY_PROBE_PROBLEMS;
}

int32_t future_call(void*) { return 0; }

const char* const keys[] = {"path", NULL};

const newer_descriptor descriptor = {
    {SWITCHYARD_ABI_VERSION, sizeof(newer_descriptor), "newer_descriptor_plugin", "1.9.0", keys,
     &create, &handle_batch, &flush, &destroy, &probe},
    "from a later ABI 1.x",
    &future_call};

}  // namespace

extern "C" __attribute__((visibility("default"))) const sy_plugin_descriptor*
switchyard_plugin_entry_v1(void) {
  return &descriptor.v1;
}
