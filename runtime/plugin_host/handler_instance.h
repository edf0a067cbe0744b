// handler_instance.h: one configured handler (routes.yaml `handlers:` entry) created from a
// loaded plugin; calls into the plugin through the C ABI.
// Thread safety: handle_batch and flush serialise on an internal mutex, so one instance is never
// called from two threads at once (the ABI's promise to plugins). name() etc. are immutable.
#ifndef SWITCHYARD_PLUGIN_HOST_HANDLER_INSTANCE_H_
#define SWITCHYARD_PLUGIN_HOST_HANDLER_INSTANCE_H_

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "plugin_host/plugin_library.h"
#include "switchyard/plugin.h"
#include "util/status.h"

namespace switchyard {

class HandlerInstance {
 public:
  // Creates an instance of library's plugin named handler_name with config_json (an object
  // text). config_dir is handed to the plugin to resolve relative paths. check_only asks the
  // plugin to validate its config without opening anything (for `switchyard check`). On failure
  // returns null and sets *error to "handler NAME (plugin PATH): <plugin's message>".
  static std::unique_ptr<HandlerInstance> create(std::shared_ptr<PluginLibrary> library,
                                                 const std::string& handler_name,
                                                 const std::string& config_json,
                                                 const std::string& config_dir, std::string* error,
                                                 bool check_only = false);
  // Destroys the plugin instance (after a final flush); the library may unload after this.
  ~HandlerInstance();
  HandlerInstance(const HandlerInstance&) = delete;
  HandlerInstance& operator=(const HandlerInstance&) = delete;

  const std::string& name() const { return name_; }
  const std::string& config_json() const { return config_json_; }
  const PluginLibrary& library() const { return *library_; }
  const std::shared_ptr<PluginLibrary>& library_ptr() const { return library_; }

  // Handles count events; outcomes must have count slots. Kinds are reset to OK and reasons
  // cleared before the call; an out-of-range kind from the plugin becomes a REJECT.
  void handle_batch(const sy_event* events, size_t count, sy_outcome* outcomes);
  // Calls the plugin's flush; an error names the handler.
  Status flush();

  // What probe() found: the plugin's verdict on its external resources.
  struct ProbeOutcome {
    enum Kind { kOk, kProblems, kUnsupported } kind;
    std::vector<std::string> problems;  // kProblems: one line each, as the plugin wrote them
  };
  // Asks the plugin to verify its external resources (plugin.h's probe, for `switchyard check
  // --connect`); call it only on a check-only instance. kUnsupported when the plugin's
  // descriptor has no probe (an older plugin) or the plugin says it has nothing to check. An
  // unknown return code, or problems without a report, is kProblems with a line saying so.
  ProbeOutcome probe();

 private:
  HandlerInstance() = default;
  static void log_from_plugin(void* context, int32_t level, const char* message);

  std::shared_ptr<PluginLibrary> library_;
  std::string name_;
  std::string config_json_;
  std::string config_dir_;
  sy_host_api host_api_{};
  void* instance_ = nullptr;
  std::mutex mutex_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_PLUGIN_HOST_HANDLER_INSTANCE_H_
