// plugin_library.h: one loaded plugin .so (Boost.DLL), checked against the host's C ABI.
// Thread safety: immutable after load; share freely. The library stays loaded while any
// PluginLibrary shared_ptr (held by every HandlerInstance created from it) is alive.
#ifndef SWITCHYARD_PLUGIN_HOST_PLUGIN_LIBRARY_H_
#define SWITCHYARD_PLUGIN_HOST_PLUGIN_LIBRARY_H_

#include <memory>
#include <string>
#include <vector>

#include "switchyard/plugin.h"
#include "util/status.h"

namespace switchyard {

class PluginLibrary {
 public:
  // Loads the plugin at path (absolute; RTLD_NOW | RTLD_LOCAL), finds its entry point and checks
  // the descriptor's ABI version, then its struct size (at least SY_PLUGIN_DESCRIPTOR_MIN_SIZE;
  // larger is accepted, see plugin.h), before reading anything else. On failure
  // returns null and sets *error to a message naming path and what to do (both ABI versions on
  // a mismatch, dlerror's text on a load failure). Before loading, opens the real file (symlinks
  // resolved) once with O_NOFOLLOW and refuses it, checked on that descriptor, when it or any
  // directory above it (or above the name given) is owned by anyone but root or the running
  // user, or writable by group or others (a sticky directory such as /tmp excepted); the message
  // names it and the fix (chmod go-w / chown). The descriptor checked is the one loaded
  // (/proc/self/fd/N), so the file cannot be swapped in between. Setting
  // SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1 turns a refusal into a warning (development only).
  static std::shared_ptr<PluginLibrary> load(const std::string& path, std::string* error);

  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const std::string& path() const { return path_; }
  const sy_plugin_descriptor& descriptor() const { return *descriptor_; }
  std::string name() const { return descriptor_->name ? descriptor_->name : ""; }
  std::string version() const { return descriptor_->version ? descriptor_->version : ""; }
  // Whether the plugin accepts key in its config (true when it declares no key list).
  bool accepts_config_key(const std::string& key) const;
  // The declared config keys (empty when any key is accepted).
  std::vector<std::string> config_keys() const;

 private:
  struct Impl;
  PluginLibrary(std::string path, std::unique_ptr<Impl> impl, const sy_plugin_descriptor* d);
  std::string path_;
  std::unique_ptr<Impl> impl_;
  const sy_plugin_descriptor* descriptor_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_PLUGIN_HOST_PLUGIN_LIBRARY_H_
