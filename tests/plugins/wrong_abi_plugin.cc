/* wrong_abi_plugin.cc: test plugin, plain C style without handler.hpp, whose descriptor claims
 * ABI version 999; the host must refuse it before touching anything but the first two fields. */
#include "switchyard/plugin.h"

static const sy_plugin_descriptor descriptor = {
    999, sizeof(sy_plugin_descriptor), "wrong_abi_plugin", "0.0.0", NULL, NULL, NULL, NULL, NULL,
    NULL};

extern "C" __attribute__((visibility("default"))) const sy_plugin_descriptor*
switchyard_plugin_entry_v1(void) {
  return &descriptor;
}
