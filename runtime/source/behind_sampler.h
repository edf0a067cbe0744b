// behind_sampler.h: how far behind each source is: samples depth, oldest age and counters every
// few seconds, sets the switchyard_source_* gauges and publishes this instance's snapshot to
// K:stats for `switchyard stats` and `switchyard top` (README "How far behind").
// Thread safety: BehindSampler is used by one thread (the daemon's housekeeping); the free
// functions use the caller's connection from the thread that owns it.
#ifndef SWITCHYARD_SOURCE_BEHIND_SAMPLER_H_
#define SWITCHYARD_SOURCE_BEHIND_SAMPLER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/behind.h"
#include "metrics/metrics.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// How often the daemon samples and publishes (ms); snapshots older than kSnapshotStaleMs are
// ignored by readers (the instance stopped), older than kSnapshotForgetMs are deleted.
inline constexpr int64_t kBehindSampleEveryMs = 2000;
inline constexpr int64_t kSnapshotStaleMs = 10000;
inline constexpr int64_t kSnapshotForgetMs = 60000;
// The hash field prefix of the instances' snapshots in K:stats.
inline constexpr const char* kSnapshotFieldPrefix = "instance:";

// K:stats of the source with key K (hash): "head" -> "<sha1> <first seen ms>" of K's head (lists),
// "instance:<consumer>" -> that instance's JSON snapshot.
inline std::string behind_stats_key(const std::string& source_key) { return source_key + ":stats"; }

// K:stats:history of the source with key K (sorted set): the last hour of its backlog and oldest
// age for the web console, one member "<bucket ms> <pending> <oldest age s>" per
// kHistoryBucketMs bucket, scored by the bucket's start. Every instance writes the same global
// figures; the last write of a bucket wins, members older than kHistorySpanMs are removed.
inline std::string behind_history_key(const std::string& source_key) {
  return source_key + ":stats:history";
}
inline constexpr int64_t kHistoryBucketMs = 10000;
inline constexpr int64_t kHistorySpanMs = 3600000;

// Redis' clock (TIME) in ms: the one clock of every age, so that hosts with skewed clocks agree;
// this host's clock when an ACL refuses TIME. Errors: the connection failed.
Status redis_time_ms(RedisConnection& connection, int64_t* now_ms);

// The age in seconds (now_ms minus its time) of the oldest message not yet taken from `source`;
// 0 when none waits. Lists: the first time any instance saw the current head (oldest_head.lua,
// kept in K:stats); streams: the time part of the first entry after the group's last-delivered id.
// Errors: a failed command, or K:stats not a hash (names the key and says to DEL it).
Status read_oldest_age(RedisConnection& connection, const SourceConfig& source, int64_t now_ms,
                       double* age_seconds);

class BehindSampler {
 public:
  // sources and consumers (this instance's consumer name per source) in the same order; metrics
  // outlives the sampler.
  BehindSampler(std::vector<SourceConfig> sources, std::vector<std::string> consumers,
                Metrics* metrics);
  // One round for every source: depth, oldest age, rates, ETA into the gauges, and one HSET of
  // this instance's snapshot per source (snapshots of instances silent for kSnapshotForgetMs are
  // deleted), and the backlog and oldest age into K:stats:history. The first source's snapshot
  // also holds the per-handler rates and latency buckets of the last minute. The cursors of
  // the backfills of `handlers` (the running config's) on sources with an archive go into the
  // switchyard_backfill_* series. Errors: the first failed command (the round stops there;
  // gauges keep their last values).
  Status sample(RedisConnection& connection, const std::vector<std::string>& handlers = {});
  // Deletes this instance's snapshots (a clean stop). Errors are ignored.
  void withdraw(RedisConnection& connection);

 private:
  std::string handlers_json(int64_t now_ms);

  std::vector<SourceConfig> sources_;
  std::vector<std::string> consumers_;
  Metrics* metrics_;
  std::vector<RateWindow> taken_;  // per source: this instance's received counter, pending
  std::deque<std::pair<int64_t, std::map<std::string, Metrics::HandlerTotals>>> handler_history_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_BEHIND_SAMPLER_H_
