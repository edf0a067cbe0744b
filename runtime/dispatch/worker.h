// worker.h: one consumer thread of one source: take a batch, decode, route, hand to handlers,
// then ack it together with its dead letters and retries; also runs due retries.
// Thread safety: a Worker runs on one thread; the shared pieces it points at are thread-safe.
#ifndef SWITCHYARD_DISPATCH_WORKER_H_
#define SWITCHYARD_DISPATCH_WORKER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "dispatch/pipeline.h"
#include "dispatch/redis_health.h"
#include "envelope/envelope.h"
#include "metrics/metrics.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/retry_schedule.h"
#include "source/source.h"
#include "switchyard/plugin.h"

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
  std::atomic<bool>* stopping = nullptr;       // set on SIGTERM/SIGINT: finish the batch, exit
  std::atomic<int64_t>* give_up_at_ms = nullptr;  // steady-clock ms after which pending acks are
                                                  // abandoned (left in flight for redelivery)
  std::string instance;                          // host:pid, for dead letters
  Metrics* metrics = nullptr;
};

// Delay before retry attempt number `attempt` + 1 after `attempt` failed: exponential from
// initial_backoff, capped at max_backoff, with jitter in [delay/2, delay] (never below initial).
std::chrono::milliseconds retry_delay(const RetryConfig& retry, int attempt);

class Worker {
 public:
  Worker(SourceConfig source, int index, std::string consumer, std::string token,
         WorkerShared shared);
  // The thread body: runs until stopping is set, then finishes the batch in hand and returns.
  void run();

 private:
  bool ensure_connected();
  // Decodes, routes and hands the batch to handlers; fills writes_ with what the ack must write.
  void dispatch(const Pipeline& pipeline, const std::vector<std::string_view>& messages);
  void run_due_retries(const Pipeline& pipeline);
  // format laravel: replaces *reason when message is a Laravel job payload rather than an event.
  void explain_laravel_job(std::string_view message, std::string* reason);
  // Calls handle_batch then flush, recording duration and outcome counts; returns flush's status.
  // outcomes_ must have room for events.size() slots.
  Status call_handler(HandlerInstance& handler, const std::vector<sy_event>& events);
  void ack_batch();
  // After a command failed with s: when Redis said WRONGTYPE on a list source, moves the keys
  // someone replaced with another type aside (heal_key_types). True when it ran.
  bool heal_wrong_types(const Status& s);
  // Logs why a take or start was refused (once while the reason stays the same), then waits
  // (interruptibly) before asking again.
  void pause_after_refusal(const std::string& why);
  // Dead-letters a message that reaches no handler (refused by its source, over max_deliveries,
  // undecodable, against its contract, unrouted) with this batch's ack: logs it (with its event
  // when known), adds the record to writes_ and counts it.
  void dead_letter_unrouted(std::string_view message, std::string_view event,
                            const std::string& reason, int attempts);
  DeadLetter letter(std::string_view message, const std::string* handler, std::string reason,
                    int attempts) const;
  int64_t now_ms() const;

  SourceConfig source_;
  int index_;
  std::string consumer_;
  WorkerShared shared_;
  std::unique_ptr<RedisConnection> connection_;
  std::unique_ptr<Source> source_kind_;   // ListSource, LeaseSource or StreamSource
  std::unique_ptr<RetrySchedule> retries_;
  ReconnectBackoff backoff_;
  bool recovered_ = false;
  bool take_reply_lost_ = false;
  std::string last_refusal_;  // the refusal logged last; cleared by a take that works
  std::chrono::steady_clock::time_point next_retry_check_{};

  // Reused per batch: no per-message allocation in steady state.
  EnvelopeDecoder decoder_;
  TakenBatch batch_;
  AckWrites writes_;
  std::vector<int> matched_;
  std::vector<std::vector<sy_event>> events_by_handler_;
  std::vector<std::vector<size_t>> messages_by_handler_;
  std::vector<sy_outcome> outcomes_;
  std::deque<std::string> unescaped_names_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_WORKER_H_
