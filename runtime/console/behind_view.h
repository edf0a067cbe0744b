// behind_view.h: what `stats` and `top` show of how far behind each source is and how each
// handler fares, merged from the snapshots every running instance publishes to K:stats
// (source/behind_sampler.h).
// Thread safety: uses the caller's connection from the thread that owns it.
#ifndef SWITCHYARD_CONSOLE_BEHIND_VIEW_H_
#define SWITCHYARD_CONSOLE_BEHIND_VIEW_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/behind.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// One source, as reported by the freshest live instance (every instance reports the same global
// figures); reported is false when no running instance published one in the last seconds.
struct SourceBehindView {
  bool reported = false;
  int instances = 0;  // live instances reporting
  double oldest_age_seconds = 0;
  double in_1m = 0, in_5m = 0, out_1m = 0, out_5m = 0;
  double drain_eta_seconds = 0;    // +infinity: the backlog does not shrink
  double sampled_seconds_ago = 0;  // how old the freshest snapshot is
  int64_t pending = -1;            // pending when it was sampled; -1: not in the snapshot
};

// One handler over the last minute, summed over every live instance.
struct HandlerView {
  std::string name;
  uint64_t calls = 0;                   // handle_batch calls
  std::map<std::string, double> rates;  // messages/s by outcome (ok, retry, reject, dead_letter)
  double p50_seconds = 0, p99_seconds = 0;  // NaN without calls in the last minute
  double rate(const std::string& outcome) const {
    auto it = rates.find(outcome);
    return it == rates.end() ? 0 : it->second;
  }
  // retry + reject + dead_letter per second.
  double error_rate() const { return rate("retry") + rate("reject") + rate("dead_letter"); }
};

// Reads K:stats of every source of `config` (one HGETALL each, plus TIME). *sources is keyed by
// source name; *handlers comes from the first source's key, sorted by name. Unreadable or stale
// snapshots are skipped. Errors: a failed command, naming it.
Status read_behind(RedisConnection& connection, const Config& config,
                   std::map<std::string, SourceBehindView>* sources,
                   std::vector<HandlerView>* handlers);

// "12.3 s", "4m05s", "2h10m", "never" (infinity): a duration for people.
std::string human_seconds(double seconds);
// "0.4 ms", "12 ms", "1.50 s", "-" (NaN): a latency for people.
std::string human_latency(double seconds);

}  // namespace switchyard

#endif  // SWITCHYARD_CONSOLE_BEHIND_VIEW_H_
