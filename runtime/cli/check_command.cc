// check_command.cc: `switchyard check`: validate routes.yaml, load every plugin with its config,
// print the routing table, the event contracts and the Redis keys each source uses; exit 0 or 2.
// `check --connect` also has every plugin verify its external resources (exit 1 on a problem);
// `check --print-keys` prints the routes.yaml key table instead.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "config/config_keys.h"
#include "dispatch/dispatcher.h"
#include "dispatch/pipeline.h"
#include "plugin_host/handler_instance.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"
#include "switchyard/plugin.h"
#include "util/escape.h"

namespace switchyard {

int print_keys_command() {
  // The key column fits the longest path, with two spaces after it.
  int width = 28;
  for (const KeySpec& k : config_keys())
    width = std::max(width, static_cast<int>(k.path.size()) + 2);
  std::cout << std::left << std::setw(width) << "key" << std::setw(34) << "type" << std::setw(26)
            << "default"
            << "meaning\n";
  for (const KeySpec& k : config_keys()) {
    std::cout << std::setw(width) << k.path << std::setw(34) << describe_key_type(k)
              << std::setw(26) << (k.has_default ? k.default_text : "-") << k.doc << "\n";
  }
  return 0;
}

namespace {

// `check --connect`: probes every handler (plugin.h's probe) and prints one line per handler,
// then one per problem. Returns the number of problems.
int probe_handlers(const Config& config, const Pipeline& pipeline) {
  int problems = 0;
  std::cout << "\nconnections:\n";
  for (size_t i = 0; i < config.handlers.size(); ++i) {
    HandlerInstance& handler = *pipeline.handlers.instances[i];
    const HandlerInstance::ProbeOutcome outcome = handler.probe();
    std::cout << "  " << config.handlers[i].name << ": ";
    switch (outcome.kind) {
      case HandlerInstance::ProbeOutcome::kOk:
        std::cout << "ok\n";
        break;
      case HandlerInstance::ProbeOutcome::kUnsupported:
        std::cout << "no connection check (plugin " << handler.library().name() << ")\n";
        break;
      case HandlerInstance::ProbeOutcome::kProblems:
        std::cout << outcome.problems.size() << " problem(s)\n";
        for (const std::string& p : outcome.problems) {
          std::cout << "    " << p << "\n";
          std::cerr << "switchyard: handler " << config.handlers[i].name << ": " << p << "\n";
        }
        problems += static_cast<int>(outcome.problems.size());
        break;
    }
  }
  return problems;
}

}  // namespace

int check_command(const CommonOptions& common, bool connect) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const Config& config = *loaded.config;
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build_pipeline(loaded.config, loaded.plugins_dir, nullptr, &pipeline,
                            /*check_only=*/true);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 2;
  }
  std::cout << config.path << ": OK\n";
  std::cout << "redis: " << loaded.endpoint.redacted() << "\n";
  std::cout << "plugins_dir: " << loaded.plugins_dir << "\n\nhandlers:\n";
  for (size_t i = 0; i < config.handlers.size(); ++i) {
    const auto& lib = pipeline->handlers.instances[i]->library();
    std::cout << "  " << config.handlers[i].name << ": plugin " << lib.name() << " "
              << lib.version() << " (" << lib.path() << ")\n";
  }
  std::cout << "\nroutes:\n";
  for (const auto& r : config.routes) {
    std::cout << "  " << r.pattern << " ->";
    for (const auto& h : r.handlers) std::cout << " " << h;
    std::cout << "\n";
  }
  std::cout << "  (no match) -> "
            << (config.unrouted == Unrouted::kDeadLetter ? "dead letter" : "drop") << "\n";
  // build_pipeline compiled every schema (a bad one is an error above): say so per contract.
  std::cout << "\ncontracts:\n";
  for (const auto& [event, schema] : config.contracts) {
    std::cout << "  " << event << ": schema " << schema
              << (pipeline->contracts.has(event) ? " (compiled)" : " (not compiled)") << "\n";
  }
  if (config.contracts.empty()) std::cout << "  (none: payloads are not checked)\n";
  std::cout << "\nsources:\n";
  for (const auto& src : config.sources) {
    SourceKeys keys(src.key);
    std::cout << "  " << src.name << ": type " << to_string(src.type) << ", batch " << src.batch
              << ", workers " << src.workers << "\n"
              << "    reads      " << keys.pending
              << (src.format == SourceFormat::kLaravel
                      ? "  (Laravel queue \"" + src.queue + "\", tokens in " + keys.pending +
                            ":notify)"
                      : std::string())
              << "\n"
              << "    dead       " << keys.dead() << "\n"
              << "    retries    " << keys.retry() << "\n"
              << (src.type == SourceType::kStream
                      ? "    in flight  the pending entries of group " + src.group + "\n"
                  : src.delivery == Delivery::kLease
                      ? "    delivery   lease: one active consumer holds " + keys.lease() +
                            "; the window at the head of " + keys.pending + " is recorded in " +
                            keys.window() + ", redelivery counts in " + keys.deliveries() + "\n"
                      : "    in flight  " + keys.pending + ":inflight:<consumer>:<worker>, " +
                            keys.owners() + ", " + keys.pending + ":heartbeat:<consumer>, " +
                            keys.deliveries() + "\n");
  }
  const int problems = connect ? probe_handlers(config, *pipeline) : 0;
  // Redis is optional for check, but say what it looks like from here (--connect requires it).
  RedisConnection connection(loaded.endpoint, "switchyard:check", std::chrono::milliseconds(3000));
  s = connection.connect();
  if (!s) {
    std::cout << "\n" << (connect ? "error: " : "warning: ") << s.message() << "\n";
    if (connect) std::cerr << "switchyard: " << s.message() << "\n";
    return connect ? 1 : 0;
  }
  Reply reply;
  s = connection.command({"CONFIG", "GET", "maxmemory-policy"}, &reply);
  if (s && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
    std::string policy(reply->element[1]->str, reply->element[1]->len);
    if (policy != "noeviction") {
      std::cout << "\nwarning: Redis maxmemory-policy is " << policy
                << ": under memory pressure Redis may evict queued messages; set "
                   "maxmemory-policy noeviction\n";
    }
  }
  std::cout << "\nredis: reachable\n";
  if (problems > 0) {
    std::cerr << "switchyard: check --connect found " << problems
              << " problem(s); fix them and run it again\n";
    return 1;
  }
  return 0;
}

int check_route_command(const CommonOptions& common, const std::string& event,
                        const std::string& source_name) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded, nullptr, /*need_redis=*/false)) return rc;
  const Config& config = *loaded.config;
  const SourceConfig* source = &config.sources.front();
  if (!source_name.empty()) {
    source = nullptr;
    for (const SourceConfig& s : config.sources)
      if (s.name == source_name) source = &s;
    if (!source) {
      std::cerr << "switchyard: --source " << printable(source_name) << ": no such source in "
                << config.path << "\n";
      return 2;
    }
  }
  if (event.empty()) {
    std::cerr << "switchyard: --route needs an event name, e.g. --route quote.created\n";
    return 2;
  }
  std::shared_ptr<const Pipeline> pipeline;
  Status s = build_routing_only(loaded.config, &pipeline);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 2;
  }
  std::vector<int> handlers;
  std::string reason;
  const Dispatcher::Route to = Dispatcher::route_event(*pipeline, event, &handlers, &reason);
  std::cout << "event: " << printable(event) << " (source " << source->name << ", key "
            << source->key << ")\n";
  auto contract = config.contracts.find(event);
  std::cout << "contract: "
            << (contract == config.contracts.end()
                    ? std::string("none (the payload is not checked)")
                    : "schema " + contract->second +
                          " (a payload that breaks it is dead-lettered before any handler)")
            << "\n";
  if (to == Dispatcher::Route::kHandlers) {
    std::cout << "handlers:";
    for (int h : handlers) std::cout << " " << config.handlers[h].name;
    std::cout << "\n";
  } else if (to == Dispatcher::Route::kDeadLetter) {
    std::cout << "handlers: none; dead-lettered to " << SourceKeys(source->key).dead() << ": "
              << printable(reason) << "\n";
  } else {
    std::cout << "handlers: none; dropped (no route matches and unrouted: drop)\n";
  }
  return 0;
}

}  // namespace switchyard
