// source_stats.h: per source, what Redis holds now: pending, in flight (per consumer, alive or
// silent), retrying, dead, alerts, pauses, the archive and backfills; read by `switchyard stats`
// and the web console. Thread safety: uses the caller's connection from the thread that owns it.
#ifndef SWITCHYARD_CONSOLE_SOURCE_STATS_H_
#define SWITCHYARD_CONSOLE_SOURCE_STATS_H_

#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "redis/redis_connection.h"
#include "source/archive.h"
#include "util/status.h"

namespace switchyard {

struct ConsumerStats {
  long long inflight = 0;
  bool alive = false;
  // When its heartbeat (K:heartbeat:<consumer>, or K:lease for a lease holder) was last set, by
  // Redis' clock in ms: now minus (reclaim_after minus the key's PTTL); -1 when it has expired.
  long long heartbeat_ms = -1;
  // When its instance last published a snapshot to K:stats (kept for a minute after it stops),
  // by Redis' clock in ms; -1: none.
  long long snapshot_ms = -1;
};

struct GroupStats {  // streams: one consumer group
  std::string name;
  long long pending = 0, lag = -1;  // lag -1: Redis cannot tell
  struct Consumer {
    std::string name;
    long long pending = 0, idle_ms = 0;
  };
  std::vector<Consumer> consumers;
};

struct SourceStats {
  long long now_ms = 0;  // Redis' clock when these were read: the one clock of every age
  std::string name;
  std::string key;
  long long pending = 0, inflight = 0, retrying = 0, dead = 0;
  std::map<std::string, ConsumerStats> consumers;
  bool stream = false;
  std::vector<GroupStats> groups;
  std::map<std::string, std::string> alerts;        // K:alerts: code -> "<ISO time> <text>"
  std::map<std::string, std::string> paused;        // K:paused: field -> "<ISO time> by <who>"
  long long archived = -1;                          // XLEN K:archive; -1: archive off
  std::map<std::string, BackfillCursor> backfills;  // handler -> K:backfill:<handler>
};

// Reads every source of `config` (only the one named `only` when not empty) into *out, in
// config order. Errors: a failed command, naming it.
Status collect_source_stats(RedisConnection& connection, const Config& config,
                            const std::string& only, std::vector<SourceStats>* out);

}  // namespace switchyard

#endif  // SWITCHYARD_CONSOLE_SOURCE_STATS_H_
