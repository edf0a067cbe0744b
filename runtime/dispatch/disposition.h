// disposition.h: what becomes of a message after one handler ran it (done, retried later, or
// dead-lettered), and the retry backoff. Thread safety: pure functions of their arguments.
#ifndef SWITCHYARD_DISPATCH_DISPOSITION_H_
#define SWITCHYARD_DISPATCH_DISPOSITION_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "switchyard/plugin.h"

namespace switchyard {

// The delay before attempt `attempt` + 1 after attempt `attempt` failed: initial_backoff doubled
// per attempt after the first, capped at max_backoff, then placed uniformly in [delay/2, delay]
// by `draw` (any 64-bit number: the caller draws it from a random engine), and never below
// initial_backoff. An initial_backoff under 1 ms counts as 1 ms, a max_backoff under
// initial_backoff as initial_backoff, an attempt under 1 as 1. Never overflows, whatever the
// durations.
std::chrono::milliseconds retry_delay(const RetryConfig& retry, int attempt, uint64_t draw);

// What one handler did with one message: its answer, its flush, and which attempt it was.
struct HandlerVerdict {
  int32_t kind = SY_OUTCOME_OK;  // the handler's sy_outcome_kind; any other value is a reject
  std::string_view reason;       // the handler's reason (for retry and reject)
  bool flushed = true;           // whether flush() after the batch succeeded
  std::string_view flush_error;  // flush()'s message when it failed
  int attempt = 1;               // the attempt just made: 1 = first delivery, 2 = first retry, ...
};

// The decision for one message and one handler.
struct Disposition {
  enum Kind {
    kDone,        // handled: nothing more to do for this handler
    kReschedule,  // run it again for this handler at due_ms (attempt next_attempt)
    kDeadLetter,  // write it to K:dead with `reason`
  };
  Kind kind = kDone;
  // The outcome that counts (metrics, log): the handler's, except that ok becomes retry when the
  // flush failed (nothing is durable), and an unknown kind is a reject.
  int32_t outcome = SY_OUTCOME_OK;
  std::chrono::milliseconds delay{0};  // kReschedule: the backoff
  int64_t due_ms = 0;                  // kReschedule: now_ms + delay (at most INT64_MAX)
  int next_attempt = 0;                // kReschedule: attempt + 1
  std::string reason;                  // kDeadLetter: the dead letter's reason
  // The warning the worker logs: its outcome field ("retry", "reject" or "dead_letter"; "ok" for
  // kDone) and its text (naming the attempt, the reason and what happens next; empty for kDone).
  std::string_view log_outcome = "ok";
  std::string log;
};

// Decides what becomes of a message `verdict` describes, by `retry` (max_attempts and backoff),
// with the clock at now_ms (unix ms, the clock retries are scheduled by) and `draw` for the
// backoff's jitter (see retry_delay):
//   ok, flushed                           -> done
//   retry (or ok, flush failed), attempt < max_attempts
//                                         -> reschedule at now_ms + retry_delay(attempt)
//   retry (or ok, flush failed), attempt >= max_attempts
//                                         -> dead: "gave up after N attempt(s): <reason>"
//   reject (or an unknown kind)           -> dead: "<reason>"
// A failed flush's message, cut to SWITCHYARD_REASON_MAX - 1 bytes, is the reason of an ok.
Disposition decide_disposition(const HandlerVerdict& verdict, const RetryConfig& retry,
                               int64_t now_ms, uint64_t draw);

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_DISPOSITION_H_
