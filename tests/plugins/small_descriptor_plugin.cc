/* small_descriptor_plugin.cc: test plugin whose descriptor says ABI 1 but is only 8 bytes (the
 * two header fields); the host must refuse it without reading past them. */
#include <stdint.h>

#include "switchyard/plugin.h"

typedef struct header_only_descriptor {
  uint32_t abi_version;
  uint32_t struct_size;
} header_only_descriptor;

static const header_only_descriptor descriptor = {SWITCHYARD_ABI_VERSION,
                                                  sizeof(header_only_descriptor)};

extern "C" __attribute__((visibility("default"))) const sy_plugin_descriptor*
switchyard_plugin_entry_v1(void) {
  return reinterpret_cast<const sy_plugin_descriptor*>(&descriptor);
}
