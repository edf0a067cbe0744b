// handler_registry.h: turns the `handlers:` of a Config into live handler instances: loads each
// plugin once from the plugins directory, checks each handler's config keys against the plugin's
// declared list, and creates the instances.
// Thread safety: stateless functions; the result is immutable and may be shared across threads.
#ifndef SWITCHYARD_PLUGIN_HOST_HANDLER_REGISTRY_H_
#define SWITCHYARD_PLUGIN_HOST_HANDLER_REGISTRY_H_

#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "plugin_host/handler_instance.h"
#include "util/status.h"

namespace switchyard {

struct LoadedHandlers {
  // One per config.handlers entry, same order.
  std::vector<std::shared_ptr<HandlerInstance>> instances;
};

// The plugins directory used when neither routes.yaml nor --plugins-dir names one: the
// executable's ../lib/switchyard/plugins (so any install prefix, and the build tree, work).
std::string default_plugins_dir();

// Loads PLUGINS_DIR/<plugin>.so for every handler and creates its instance. When previous is
// given, instances whose handler name, plugin and config are unchanged are reused (not
// re-created) and already loaded libraries are shared. Errors start with the handler's
// file:line:col and name the plugin path and what to do.
Status load_handlers(const Config& config, const std::string& plugins_dir,
                     const LoadedHandlers* previous, LoadedHandlers* out, bool check_only = false);

}  // namespace switchyard

#endif  // SWITCHYARD_PLUGIN_HOST_HANDLER_REGISTRY_H_
