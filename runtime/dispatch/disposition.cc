// disposition.cc: decide_disposition and retry_delay.
#include "dispatch/disposition.h"

#include <algorithm>
#include <climits>

namespace switchyard {

std::chrono::milliseconds retry_delay(const RetryConfig& retry, int attempt, uint64_t draw) {
  const int64_t initial = std::max<int64_t>(1, retry.initial_backoff.count());
  const int64_t cap = std::max<int64_t>(initial, retry.max_backoff.count());
  const int shift = attempt <= 1 ? 0 : std::min(attempt - 1, 40);
  int64_t delay = initial;
  for (int i = 0; i < shift && delay < cap; ++i) delay = delay > cap / 2 ? cap : delay * 2;
  delay = std::min(delay, cap);
  const int64_t low = delay / 2;
  const int64_t jittered =
      low + static_cast<int64_t>(draw % static_cast<uint64_t>(delay - low + 1));
  return std::chrono::milliseconds(std::clamp(jittered, initial, cap));
}

Disposition decide_disposition(const HandlerVerdict& verdict, const RetryConfig& retry,
                               int64_t now_ms, uint64_t draw) {
  Disposition d;
  if (verdict.kind == SY_OUTCOME_OK && verdict.flushed) return d;
  const int attempt = verdict.attempt;
  const std::string max = std::to_string(retry.max_attempts);
  std::string reason;
  if (verdict.kind == SY_OUTCOME_OK) {
    // Nothing the handler did is durable: a transient failure, told by the flush's message.
    d.outcome = SY_OUTCOME_RETRY;
    reason.assign(verdict.flush_error.substr(0, SWITCHYARD_REASON_MAX - 1));
  } else {
    d.outcome = verdict.kind == SY_OUTCOME_RETRY ? SY_OUTCOME_RETRY : SY_OUTCOME_REJECT;
    reason.assign(verdict.reason);
  }

  if (d.outcome == SY_OUTCOME_REJECT) {
    d.kind = Disposition::kDeadLetter;
    d.reason = reason;
    d.log_outcome = "reject";
    d.log = attempt == 1 ? "handler answered reject: " + reason + "; dead-lettered"
                         : "handler answered reject on attempt " + std::to_string(attempt) + ": " +
                               reason + "; dead-lettered";
    return d;
  }
  if (attempt < retry.max_attempts) {
    d.kind = Disposition::kReschedule;
    d.delay = retry_delay(retry, attempt, draw);
    // A backoff of centuries (durations are not capped) saturates rather than wrapping around.
    d.due_ms = now_ms > INT64_MAX - d.delay.count() ? INT64_MAX : now_ms + d.delay.count();
    d.next_attempt = attempt + 1;
    d.log_outcome = "retry";
    d.log = "handler answered retry on attempt " + std::to_string(attempt) + " of " + max + ": " +
            reason + "; retrying in " + std::to_string(d.delay.count()) + " ms";
    return d;
  }
  d.kind = Disposition::kDeadLetter;
  d.reason = "gave up after " + std::to_string(attempt) +
             (attempt == 1 ? " attempt: " : " attempts: ") + reason;
  d.log_outcome = "dead_letter";
  d.log = attempt == 1 ? "handler answered retry: " + reason +
                             "; dead-lettered (retry.max_attempts is " + max + ")"
                       : "handler answered retry on attempt " + std::to_string(attempt) + " of " +
                             max + ": " + reason + "; gave up, dead-lettered";
  return d;
}

}  // namespace switchyard
