// plugin_paths.h: where the tests find the plugins this build made (header-only; needs the
// SWITCHYARD_PLUGIN_DIR and SWITCHYARD_TEST_PLUGIN_DIR definitions of switchyard_test_support).
#ifndef SWITCHYARD_TESTS_SUPPORT_PLUGIN_PATHS_H_
#define SWITCHYARD_TESTS_SUPPORT_PLUGIN_PATHS_H_

#include <string>

namespace switchyard::test {

// The path of a bundled plugin (plugins/NAME) or of a test plugin (tests/plugins/NAME.cc), as
// built; the file exists once its target is built. Thread safety: pure.
inline std::string bundled_plugin(const std::string& name) {
  return std::string(SWITCHYARD_PLUGIN_DIR) + "/" + name + ".so";
}
inline std::string test_plugin(const std::string& name) {
  return std::string(SWITCHYARD_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_PLUGIN_PATHS_H_
