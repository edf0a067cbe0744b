// stats_command.cc: `switchyard stats`: per source, pending, in flight (per consumer), retrying
// and dead.
#include <iostream>
#include <map>

#include "cli/commands.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"

namespace switchyard {

int stats_command(const CommonOptions& common, const StatsOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  RedisConnection connection(loaded.endpoint, "switchyard:stats");
  Status s = connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  auto integer = [&](std::vector<std::string_view> argv) -> long long {
    Reply reply;
    if (!connection.command_ok(argv, &reply)) return -1;
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
  };
  bool first = true;
  if (options.json) std::cout << "{";
  for (const auto& source : loaded.config->sources) {
    if (!options.source.empty() && source.name != options.source) continue;
    SourceKeys keys(source.key);
    long long pending = integer({"LLEN", keys.pending});
    long long dead = integer({"LLEN", keys.dead()});
    long long retrying = integer({"ZCARD", keys.retry()});
    std::map<std::string, long long> inflight;  // consumer -> messages
    std::map<std::string, bool> alive;
    Reply owners;
    s = connection.command_ok({"HGETALL", keys.owners()}, &owners);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    for (size_t i = 0; i + 1 < owners->elements; i += 2) {
      std::string list(owners->element[i]->str, owners->element[i]->len);
      std::string consumer(owners->element[i + 1]->str, owners->element[i + 1]->len);
      inflight[consumer] += integer({"LLEN", list});
      alive[consumer] = integer({"EXISTS", keys.heartbeat(consumer)}) == 1;
    }
    long long total_inflight = 0;
    for (const auto& [c, n] : inflight) total_inflight += n;
    if (options.json) {
      std::cout << (first ? "" : ",") << "\"" << source.name << "\":{\"key\":\"" << source.key
                << "\",\"pending\":" << pending << ",\"inflight\":" << total_inflight
                << ",\"retrying\":" << retrying << ",\"dead\":" << dead << ",\"consumers\":{";
      bool f = true;
      for (const auto& [c, n] : inflight) {
        std::cout << (f ? "" : ",") << "\"" << c << "\":{\"inflight\":" << n
                  << ",\"alive\":" << (alive[c] ? "true" : "false") << "}";
        f = false;
      }
      std::cout << "}}";
    } else {
      std::cout << source.name << " (" << source.key << "): pending " << pending << ", in flight "
                << total_inflight << ", retrying " << retrying << ", dead " << dead << "\n";
      for (const auto& [c, n] : inflight) {
        std::cout << "  consumer " << c << ": in flight " << n << (alive[c] ? "" : " (silent)")
                  << "\n";
      }
    }
    first = false;
  }
  if (options.json) std::cout << "}\n";
  return 0;
}

}  // namespace switchyard
