// worker.h: one consumer thread of one source: take a batch, hand it to the Dispatcher, then ack
// it together with its dead letters and retries; also leases due retries for the Dispatcher to
// run, and keeps its Redis connection (reconnects, refusals, keys of the wrong type). While a
// batch is handled, the take of the next one is already on its way (Source::prefetch), so that
// Redis and the handlers work at the same time.
// Thread safety: a Worker runs on one thread; the shared pieces it points at are thread-safe.
#ifndef SWITCHYARD_DISPATCH_WORKER_H_
#define SWITCHYARD_DISPATCH_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "dispatch/dedup.h"
#include "dispatch/dispatcher.h"
#include "dispatch/handler_watchdog.h"
#include "dispatch/pace.h"
#include "dispatch/pause.h"
#include "dispatch/pipeline.h"
#include "dispatch/redis_health.h"
#include "metrics/metrics.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/retry_schedule.h"
#include "source/source.h"

namespace switchyard {

// The current Pipeline, swapped by reloads. Thread-safe.
class PipelineHolder {
 public:
  std::shared_ptr<const Pipeline> get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pipeline_;
  }
  void set(std::shared_ptr<const Pipeline> pipeline) {
    std::lock_guard<std::mutex> lock(mutex_);
    pipeline_ = std::move(pipeline);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Pipeline> pipeline_;
};

// Process-wide state every worker shares. Owned by the daemon; outlives the workers.
struct WorkerShared {
  RedisEndpoint endpoint;
  PipelineHolder* pipelines = nullptr;
  RedisHealth* health = nullptr;
  std::atomic<bool>* stopping = nullptr;          // set on SIGTERM/SIGINT: finish the batch, exit
  std::atomic<int64_t>* give_up_at_ms = nullptr;  // steady-clock ms after which pending acks are
                                                  // abandoned (left in flight for redelivery)
  std::string instance;                           // host:pid, for dead letters
  Metrics* metrics = nullptr;
  Tap* tap = nullptr;                   // `switchyard tap` samples (nullptr: none)
  HandlerWatchdog* watchdog = nullptr;  // each worker adds its CallWatch (null: not watched)
  const PauseBoard* pause = nullptr;    // this source's pause state (null: never paused)
};

class Worker {
 public:
  Worker(SourceConfig source, int index, std::string consumer, std::string token,
         WorkerShared shared);
  Worker(const Worker&) = delete;  // its Dispatcher reads its clock
  Worker& operator=(const Worker&) = delete;
  // The thread body: runs until stopping is set, then finishes the batch in hand and returns.
  void run();

 private:
  bool ensure_connected();
  // Leases due retries, has the Dispatcher run them, and settles them.
  void run_due_retries(const Pipeline& pipeline);
  void ack_batch();
  // After a command failed with s: when Redis said WRONGTYPE on a list source, moves the keys
  // someone replaced with another type aside (heal_key_types). True when it ran.
  bool heal_wrong_types(const Status& s);
  // Logs why a take or start was refused (once while the reason stays the same), then waits
  // (interruptibly) before asking again.
  void pause_after_refusal(const std::string& why);
  int64_t now_ms() const;
  // While the source is paused (or its pause state is not read yet): waits a little and returns
  // false; true otherwise.
  bool follow_pause();
  // Hands the Dispatcher the paused handlers when they changed (one atomic load when not).
  void follow_paused_handlers();
  // How many messages the next take may move: batch, or with the source's max_rate the tokens
  // its bucket grants (asked for batch at once). 0: none now; it then waited (interruptibly) for
  // the next token, or after an error, and the caller loops.
  int paced_take_size(const Pipeline& pipeline);
  // How many messages the next take asks for without max_rate: grows towards batch while takes
  // come back full (a backlog), falls back to a few while they do not (latency).
  int adaptive_take_size() const;
  void learn_take_size(size_t taken, int asked);
  // Gives a batch taken ahead back unhandled (shutdown, pause).
  void release_next();

  SourceConfig source_;
  int index_;
  std::string consumer_;
  WorkerShared shared_;
  std::unique_ptr<RedisConnection> connection_;
  std::unique_ptr<Source> source_kind_;  // ListSource, LeaseSource or StreamSource
  std::unique_ptr<RetrySchedule> retries_;
  std::unique_ptr<Pacer> pacer_;
  std::unique_ptr<DedupStore> dedup_;
  ReconnectBackoff backoff_;
  bool recovered_ = false;
  bool take_reply_lost_ = false;
  bool pipelined_ = false;     // this worker takes ahead (not with Redis Cluster)
  bool rate_limited_ = false;  // the last paced_take_size was granted by max_rate
  bool prefetched_ = false;    // a take ahead is outstanding: ack_batch collects it
  int take_size_ = 0;          // the adaptive take size (adaptive_take_size)
  std::string last_refusal_;   // the refusal logged last; cleared by a take that works
  std::chrono::steady_clock::time_point next_retry_check_{};
  uint64_t paused_version_ = 0;  // the PauseBoard version the Dispatcher follows

  // Reused per batch: no per-message allocation in steady state.
  TakenBatch batch_;
  TakenBatch next_;  // the batch taken ahead while batch_ was handled (empty: none)
  AckWrites writes_;
  Dispatcher dispatcher_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_WORKER_H_
