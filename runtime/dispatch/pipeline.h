// pipeline.h: one generation of the routing setup (config, handler instances, route table).
// Workers take a snapshot per batch; a reload builds a new Pipeline and swaps it in between
// batches.
// Thread safety: immutable after build; share via shared_ptr<const Pipeline> across threads.
#ifndef SWITCHYARD_DISPATCH_PIPELINE_H_
#define SWITCHYARD_DISPATCH_PIPELINE_H_

#include <memory>
#include <string>

#include "config/config.h"
#include "contracts/contract.h"
#include "plugin_host/handler_registry.h"
#include "routing/route_table.h"
#include "util/status.h"

namespace switchyard {

struct Pipeline {
  std::shared_ptr<const Config> config;
  LoadedHandlers handlers;  // index i is config->handlers[i]
  RouteTable routes;        // handler indexes into handlers.instances
  ContractSet contracts;    // compiled schemas of config->contracts (event -> payload schema)

  // The index of the handler named name, or -1.
  int handler_index(std::string_view name) const {
    for (size_t i = 0; i < config->handlers.size(); ++i)
      if (config->handlers[i].name == name) return static_cast<int>(i);
    return -1;
  }
};

// Loads the handlers of config from plugins_dir (reusing unchanged instances of previous, when
// given) and builds the route table. Errors name file:line:col and the plugin path.
Status build_pipeline(std::shared_ptr<const Config> config, const std::string& plugins_dir,
                      const Pipeline* previous, std::shared_ptr<const Pipeline>* out,
                      bool check_only = false);

// As build_pipeline, but loads no plugin: handlers.instances stays empty. For routing without
// calling handlers (Dispatcher::route: `switchyard test`, `check --route`).
Status build_routing_only(std::shared_ptr<const Config> config,
                          std::shared_ptr<const Pipeline>* out);

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_PIPELINE_H_
