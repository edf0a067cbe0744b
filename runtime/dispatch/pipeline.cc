// pipeline.cc: builds a Pipeline from a Config.
#include "dispatch/pipeline.h"

namespace switchyard {
namespace {

// Builds pipeline->routes from its config's routes: (handler indexes by name).
Status build_routes(Pipeline* pipeline) {
  const Config* config = pipeline->config.get();
  std::vector<RouteTable::Route> routes;
  for (const RouteConfig& r : config->routes) {
    RouteTable::Route route;
    route.pattern = r.pattern;
    for (const std::string& name : r.handlers) {
      int index = pipeline->handler_index(name);
      if (index < 0) {
        return Status::error(r.mark.str() + ": route \"" + r.pattern + "\" names handler \"" +
                             name + "\" which is not defined under handlers:");
      }
      route.handlers.push_back(index);
    }
    routes.push_back(std::move(route));
  }
  pipeline->routes = RouteTable(std::move(routes));
  return Status::ok();
}

}  // namespace

Status build_pipeline(std::shared_ptr<const Config> config, const std::string& plugins_dir,
                      const Pipeline* previous, std::shared_ptr<const Pipeline>* out,
                      bool check_only) {
  auto pipeline = std::make_shared<Pipeline>();
  pipeline->config = config;
  // Contracts first: a bad schema is a configuration error found before any plugin is loaded.
  Status s = ContractSet::load(*config, &pipeline->contracts);
  if (!s) return s;
  s = load_handlers(*config, plugins_dir, previous ? &previous->handlers : nullptr,
                    &pipeline->handlers, check_only);
  if (!s) return s;
  s = build_routes(pipeline.get());
  if (!s) return s;
  *out = std::move(pipeline);
  return Status::ok();
}

Status build_routing_only(std::shared_ptr<const Config> config,
                          std::shared_ptr<const Pipeline>* out) {
  auto pipeline = std::make_shared<Pipeline>();
  pipeline->config = std::move(config);
  Status s = ContractSet::load(*pipeline->config, &pipeline->contracts);
  if (!s) return s;
  s = build_routes(pipeline.get());
  if (!s) return s;
  *out = std::move(pipeline);
  return Status::ok();
}

}  // namespace switchyard
