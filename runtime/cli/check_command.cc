// check_command.cc: `switchyard check`: validate routes.yaml, load every plugin with its config,
// print the routing table, the event contracts and the Redis keys each source uses; exit 0 or 2.
// `check --print-keys` prints the routes.yaml key table instead.
#include <algorithm>
#include <iomanip>
#include <iostream>

#include "cli/commands.h"
#include "config/config_keys.h"
#include "dispatch/pipeline.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"
#include "switchyard/plugin.h"

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

int check_command(const CommonOptions& common) {
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
  // Redis is optional for check, but say what it looks like from here.
  RedisConnection connection(loaded.endpoint, "switchyard:check", std::chrono::milliseconds(3000));
  s = connection.connect();
  if (!s) {
    std::cout << "\nwarning: " << s.message() << "\n";
    return 0;
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
  return 0;
}

int version_command() {
  std::cout << "switchyard " << SWITCHYARD_VERSION_STRING << " (plugin ABI "
            << SWITCHYARD_ABI_VERSION << ")\n";
  return 0;
}

}  // namespace switchyard
