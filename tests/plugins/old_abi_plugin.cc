/* old_abi_plugin.cc: test plugin built for ABI 0: it exports only switchyard_plugin_entry_v0. */
#include <stdint.h>

typedef struct old_descriptor {
  uint32_t abi_version;
  uint32_t struct_size;
  const char* name;
} old_descriptor;

static const old_descriptor descriptor = {0, sizeof(old_descriptor), "old_abi_plugin"};

extern "C" __attribute__((visibility("default"))) const old_descriptor* switchyard_plugin_entry_v0(
    void) {
  return &descriptor;
}
