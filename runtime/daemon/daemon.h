// daemon.h: `switchyard run`: owns the workers of every source and the housekeeping thread
// (heartbeats, reclaiming the in-flight lists of dead consumers), and shuts them down in order.
// Thread safety: start/stop/reload from one controlling thread (run_process in daemon/process.h).
#ifndef SWITCHYARD_DAEMON_DAEMON_H_
#define SWITCHYARD_DAEMON_DAEMON_H_

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "dispatch/handler_watchdog.h"
#include "dispatch/pause.h"
#include "dispatch/pipeline.h"
#include "dispatch/redis_health.h"
#include "dispatch/tap.h"
#include "dispatch/worker.h"
#include "metrics/metrics.h"
#include "redis/redis_url.h"
#include "redis/sentinel.h"
#include "source/consumer_identity.h"
#include "util/status.h"

namespace switchyard {

struct DaemonOptions {
  RedisEndpoint endpoint;
  std::string plugins_dir;
  std::string instance_name;  // --instance; empty = hostname:slot
};

class Daemon {
 public:
  Daemon(DaemonOptions options, std::shared_ptr<const Pipeline> pipeline);
  ~Daemon();

  // Takes a consumer identity per source and starts the threads. Errors name what failed.
  Status start();
  // Stops taking, lets every worker finish (handle and ack) the batch in hand, and joins. Returns
  // false if workers were still busy after shutdown_timeout (their messages stay in flight and are
  // redelivered after restart).
  bool stop();
  // What a reload to `next` cannot apply while running (compared with the config the daemon
  // started with, not the last reload's): one line per changed setting of
  // `sources:` (workers, lock files and heartbeats are set up at start), or of redis: / metrics:,
  // naming the setting and its old and new value. Empty when everything in `next` can be applied.
  std::vector<std::string> changes_needing_restart(const Config& next) const;
  // Swaps in a new pipeline; workers pick it up at their next batch. The per-handler metrics
  // follow its handlers at once (Metrics::set_handlers).
  void set_pipeline(std::shared_ptr<const Pipeline> pipeline);
  std::shared_ptr<const Pipeline> pipeline() const { return pipelines_.get(); }
  RedisHealth& health() { return health_; }
  Metrics& metrics() { return metrics_; }
  // The stuck-handler watchdog over every worker; check() it from the control thread.
  HandlerWatchdog& watchdog() { return watchdog_; }

 private:
  void housekeeping();
  // Reads every source's K:paused for its workers (and the switchyard_paused gauges), logs what
  // changed, and makes the deliveries parked for handlers no longer paused due again.
  void follow_pauses(RedisConnection& connection, const std::vector<SourceConfig>& sources);

  DaemonOptions options_;
  std::shared_ptr<const Config> started_;  // the config the workers and sources were set up with
  PipelineHolder pipelines_;
  RedisHealth health_;
  Metrics metrics_;
  HandlerWatchdog watchdog_{&metrics_};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> give_up_at_ms_{INT64_MAX};
  std::vector<std::unique_ptr<ConsumerIdentity>> identities_;  // one per source
  std::vector<std::unique_ptr<PauseBoard>> pauses_;            // one per source
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::thread> threads_;
  std::thread housekeeper_;
  std::unique_ptr<Tap> tap_;  // `switchyard tap`: samples handled envelopes while someone taps
  std::thread tap_thread_;
  // redis.sentinel: follows +switch-master, so a demoted master is left at once.
  std::unique_ptr<SentinelWatcher> sentinel_watcher_;
  std::mutex mutex_;
  std::condition_variable wake_;
  int running_ = 0;  // worker threads still running, under mutex_
};

}  // namespace switchyard

#endif  // SWITCHYARD_DAEMON_DAEMON_H_
