// disposition_test.cc: every handler outcome x attempt x flush result x retry settings gets the
// documented decision (done, reschedule with the backoff, dead letter with its reason), and the
// backoff stays within its bounds for any jitter draw.
#include "dispatch/disposition.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard {
namespace {

using std::chrono::milliseconds;

constexpr int64_t kNow = 1'700'000'000'000;
constexpr uint64_t kDraws[] = {
    0, 1, 2, 3, 7, 1000, 123456789, UINT64_MAX / 2, UINT64_MAX - 1, UINT64_MAX};

RetryConfig retry_config(int max_attempts, int64_t initial_ms = 100, int64_t max_ms = 30000) {
  RetryConfig r;
  r.max_attempts = max_attempts;
  r.initial_backoff = milliseconds(initial_ms);
  r.max_backoff = milliseconds(max_ms);
  return r;
}

// The uncapped, unjittered delay after `attempt` failed, computed the slow way.
int64_t nominal_delay(const RetryConfig& r, int attempt) {
  int64_t delay = std::max<int64_t>(1, r.initial_backoff.count());
  const int64_t cap = std::max<int64_t>(delay, r.max_backoff.count());
  for (int i = 1; i < attempt && delay < cap; ++i) delay *= 2;
  return std::min(delay, cap);
}

TEST(RetryDelay, DoublesPerAttemptWithinHalfToFullOfTheNominalDelay) {
  const RetryConfig r = retry_config(50, 100, 30000);
  for (int attempt = 1; attempt <= 12; ++attempt) {
    const int64_t nominal = nominal_delay(r, attempt);
    for (uint64_t draw : kDraws) {
      const int64_t d = retry_delay(r, attempt, draw).count();
      EXPECT_GE(d, std::max<int64_t>(100, nominal / 2))
          << "attempt " << attempt << " draw " << draw;
      EXPECT_LE(d, nominal) << "attempt " << attempt << " draw " << draw;
    }
  }
  EXPECT_EQ(nominal_delay(r, 1), 100);
  EXPECT_EQ(nominal_delay(r, 4), 800);
  EXPECT_EQ(nominal_delay(r, 12), 30000);
}

TEST(RetryDelay, TheDrawSpansEveryValueFromHalfToFull) {
  const RetryConfig r = retry_config(5, 10, 1000);
  // attempt 3: nominal 40 ms, jitter [20, 40]: 21 values, draw modulo 21.
  std::vector<bool> seen(41, false);
  for (uint64_t draw = 0; draw < 21; ++draw) {
    const int64_t d = retry_delay(r, 3, draw).count();
    ASSERT_GE(d, 20);
    ASSERT_LE(d, 40);
    seen[d] = true;
  }
  for (int64_t d = 20; d <= 40; ++d) EXPECT_TRUE(seen[d]) << d << " ms never drawn";
  EXPECT_EQ(retry_delay(r, 3, 0).count(), 20);
  EXPECT_EQ(retry_delay(r, 3, 20).count(), 40);
  EXPECT_EQ(retry_delay(r, 3, 21).count(), 20);
}

TEST(RetryDelay, NeverBelowInitialBackoffEvenWhenHalfTheDelayIs) {
  const RetryConfig r = retry_config(5, 100, 30000);
  EXPECT_EQ(retry_delay(r, 1, 0).count(), 100);  // [50, 100] clamped up to 100
  for (uint64_t draw : kDraws) EXPECT_EQ(retry_delay(r, 1, draw).count(), 100) << draw;
}

TEST(RetryDelay, CappedAtMaxBackoffForAnyAttempt) {
  const RetryConfig r = retry_config(INT_MAX, 100, 5000);
  for (int attempt : {7, 8, 20, 41, 64, 1000, INT_MAX - 1, INT_MAX}) {
    for (uint64_t draw : kDraws) {
      const int64_t d = retry_delay(r, attempt, draw).count();
      EXPECT_GE(d, 2500) << attempt;
      EXPECT_LE(d, 5000) << attempt;
    }
  }
}

TEST(RetryDelay, HugeBackoffsDoNotOverflow) {
  for (const RetryConfig& r : {retry_config(INT_MAX, INT64_MAX / 4, INT64_MAX / 2),
                               retry_config(INT_MAX, INT64_MAX / 2 + 1, INT64_MAX),
                               retry_config(INT_MAX, INT64_MAX, INT64_MAX)}) {
    for (int attempt : {1, 2, 3, 100, INT_MAX}) {
      for (uint64_t draw : kDraws) {
        const int64_t d = retry_delay(r, attempt, draw).count();
        EXPECT_GE(d, r.initial_backoff.count()) << attempt;
        EXPECT_LE(d, r.max_backoff.count()) << attempt;
      }
    }
  }
}

TEST(DecideDisposition, AHugeBackoffIsDueAtTheEndOfTimeNotInThePast) {
  const RetryConfig r = retry_config(5, INT64_MAX, INT64_MAX);
  const Disposition d = decide_disposition({SY_OUTCOME_RETRY, "x", true, "", 1}, r, kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kReschedule);
  EXPECT_EQ(d.delay.count(), INT64_MAX);
  EXPECT_EQ(d.due_ms, INT64_MAX);
}

TEST(RetryDelay, OddSettingsCountAsTheNearestSensibleOnes) {
  // initial_backoff 0 (or negative) counts as 1 ms.
  for (uint64_t draw : kDraws) EXPECT_EQ(retry_delay(retry_config(5, 0, 0), 1, draw).count(), 1);
  for (uint64_t draw : kDraws) EXPECT_EQ(retry_delay(retry_config(5, -5, 0), 3, draw).count(), 1);
  // max_backoff below initial_backoff counts as initial_backoff: always exactly initial.
  for (int attempt : {1, 2, 10})
    for (uint64_t draw : kDraws)
      EXPECT_EQ(retry_delay(retry_config(5, 400, 100), attempt, draw).count(), 400);
  // initial == max: exactly that.
  for (int attempt : {1, 5})
    for (uint64_t draw : kDraws)
      EXPECT_EQ(retry_delay(retry_config(5, 250, 250), attempt, draw).count(), 250);
  // An attempt under 1 counts as the first.
  for (int attempt : {0, -1, INT_MIN})
    for (uint64_t draw : kDraws)
      EXPECT_EQ(retry_delay(retry_config(5, 100, 30000), attempt, draw),
                retry_delay(retry_config(5, 100, 30000), 1, draw));
}

TEST(RetryDelay, IsAFunctionOfItsArguments) {
  const RetryConfig r = retry_config(10, 100, 30000);
  for (uint64_t draw : kDraws) EXPECT_EQ(retry_delay(r, 5, draw), retry_delay(r, 5, draw)) << draw;
}

// What decide_disposition must answer, written out rule by rule from its contract.
struct Expected {
  Disposition::Kind kind;
  int32_t outcome;
  std::string reason;       // kDeadLetter
  std::string log_outcome;  // "ok" for kDone
  std::string log;
};

Expected expected(int32_t kind, bool flushed, int attempt, const RetryConfig& r,
                  const std::string& handler_reason, const std::string& flush_error,
                  int64_t delay) {
  const std::string n = std::to_string(attempt);
  const std::string max = std::to_string(r.max_attempts);
  if (kind == SY_OUTCOME_OK && flushed) return {Disposition::kDone, SY_OUTCOME_OK, "", "ok", ""};
  if (kind != SY_OUTCOME_OK && kind != SY_OUTCOME_RETRY) {
    return {Disposition::kDeadLetter, SY_OUTCOME_REJECT, handler_reason, "reject",
            attempt == 1 ? "handler answered reject: " + handler_reason + "; dead-lettered"
                         : "handler answered reject on attempt " + n + ": " + handler_reason +
                               "; dead-lettered"};
  }
  const std::string why = kind == SY_OUTCOME_OK ? flush_error : handler_reason;
  if (attempt < r.max_attempts) {
    return {Disposition::kReschedule, SY_OUTCOME_RETRY, "", "retry",
            "handler answered retry on attempt " + n + " of " + max + ": " + why +
                "; retrying in " + std::to_string(delay) + " ms"};
  }
  return {Disposition::kDeadLetter, SY_OUTCOME_RETRY,
          "gave up after " + n + (attempt == 1 ? " attempt: " : " attempts: ") + why, "dead_letter",
          attempt == 1 ? "handler answered retry: " + why +
                             "; dead-lettered (retry.max_attempts is " + max + ")"
                       : "handler answered retry on attempt " + n + " of " + max + ": " + why +
                             "; gave up, dead-lettered"};
}

TEST(DecideDisposition, EveryOutcomeAttemptFlushAndRetrySetting) {
  const std::vector<RetryConfig> configs = {
      retry_config(1),            // no retries at all
      retry_config(2),            // one retry
      retry_config(5),            // the default
      retry_config(5, 100, 100),  // backoff capped from the start
      retry_config(5, 0, 0),      // backoff under 1 ms
      retry_config(INT_MAX, 1, INT64_MAX / 4),
  };
  const int32_t kinds[] = {SY_OUTCOME_OK, SY_OUTCOME_RETRY, SY_OUTCOME_REJECT, 3, -1, INT32_MAX};
  const std::string handler_reason = "database is locked";
  const std::string flush_error = "handler db (plugin /x/db.so): flush failed: disk full";
  int cases = 0;
  for (const RetryConfig& r : configs) {
    // First, a middle one, the last allowed, and one past it (retry.max_attempts lowered by a
    // reload while a retry waited).
    std::vector<int> attempts = {1, 2, r.max_attempts / 2 + 1, r.max_attempts - 1, r.max_attempts};
    if (r.max_attempts < INT_MAX) attempts.push_back(r.max_attempts + 1);
    for (int attempt : attempts) {
      if (attempt < 1) continue;
      for (int32_t kind : kinds) {
        for (bool flushed : {true, false}) {
          for (uint64_t draw : {uint64_t{0}, uint64_t{99}, UINT64_MAX}) {
            const std::string_view error = flushed ? std::string_view() : flush_error;
            const HandlerVerdict v{kind, handler_reason, flushed, error, attempt};
            const Disposition d = decide_disposition(v, r, kNow, draw);
            const int64_t delay = retry_delay(r, attempt, draw).count();
            const Expected e =
                expected(kind, flushed, attempt, r, handler_reason, flush_error, delay);
            const std::string at = "kind " + std::to_string(kind) + ", attempt " +
                                   std::to_string(attempt) + " of " +
                                   std::to_string(r.max_attempts) + ", flushed " +
                                   std::to_string(flushed) + ", draw " + std::to_string(draw);
            ASSERT_EQ(d.kind, e.kind) << at;
            EXPECT_EQ(d.outcome, e.outcome) << at;
            EXPECT_EQ(d.reason, e.reason) << at;
            EXPECT_EQ(std::string(d.log_outcome), e.log_outcome) << at;
            EXPECT_EQ(d.log, e.log) << at;
            if (d.kind == Disposition::kReschedule) {
              EXPECT_EQ(d.delay.count(), delay) << at;
              EXPECT_EQ(d.due_ms, delay > INT64_MAX - kNow ? INT64_MAX : kNow + delay) << at;
              EXPECT_EQ(d.next_attempt, attempt + 1) << at;
            } else {
              EXPECT_EQ(d.delay.count(), 0) << at;
              EXPECT_EQ(d.due_ms, 0) << at;
              EXPECT_EQ(d.next_attempt, 0) << at;
            }
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_GT(cases, 1000);
}

TEST(DecideDisposition, OkAndFlushedIsDoneWhateverElseIsSaid) {
  const HandlerVerdict v{SY_OUTCOME_OK, "ignored", true, "ignored too", 3};
  const Disposition d = decide_disposition(v, retry_config(1), kNow, 5);
  EXPECT_EQ(d.kind, Disposition::kDone);
  EXPECT_EQ(d.outcome, SY_OUTCOME_OK);
  EXPECT_TRUE(d.reason.empty());
  EXPECT_TRUE(d.log.empty());
}

TEST(DecideDisposition, FirstRetryIsScheduledAtInitialBackoff) {
  const HandlerVerdict v{SY_OUTCOME_RETRY, "database is locked", true, "", 1};
  const Disposition d = decide_disposition(v, retry_config(5, 100, 30000), kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kReschedule);
  EXPECT_EQ(d.due_ms, kNow + 100);
  EXPECT_EQ(d.next_attempt, 2);
  EXPECT_EQ(d.log,
            "handler answered retry on attempt 1 of 5: database is locked; retrying in 100 ms");
}

TEST(DecideDisposition, LastRetryGivesUpWithThePluralCount) {
  const HandlerVerdict v{SY_OUTCOME_RETRY, "database is locked", true, "", 2};
  const Disposition d = decide_disposition(v, retry_config(2), kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kDeadLetter);
  EXPECT_EQ(d.reason, "gave up after 2 attempts: database is locked");
  EXPECT_EQ(d.log_outcome, "dead_letter");
}

TEST(DecideDisposition, MaxAttemptsOneDeadLettersARetryAtOnce) {
  const HandlerVerdict v{SY_OUTCOME_RETRY, "timeout", true, "", 1};
  const Disposition d = decide_disposition(v, retry_config(1), kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kDeadLetter);
  EXPECT_EQ(d.reason, "gave up after 1 attempt: timeout");
  EXPECT_EQ(d.log, "handler answered retry: timeout; dead-lettered (retry.max_attempts is 1)");
}

TEST(DecideDisposition, AFailedFlushTurnsOkIntoRetryButLeavesRetryAndRejectAlone) {
  const RetryConfig r = retry_config(3);
  const Disposition ok = decide_disposition({SY_OUTCOME_OK, "", false, "disk full", 1}, r, kNow, 0);
  ASSERT_EQ(ok.kind, Disposition::kReschedule);
  EXPECT_EQ(ok.outcome, SY_OUTCOME_RETRY);
  EXPECT_NE(ok.log.find(": disk full; retrying in"), std::string::npos) << ok.log;

  const Disposition retry =
      decide_disposition({SY_OUTCOME_RETRY, "locked", false, "disk full", 3}, r, kNow, 0);
  ASSERT_EQ(retry.kind, Disposition::kDeadLetter);
  EXPECT_EQ(retry.reason, "gave up after 3 attempts: locked");

  const Disposition reject =
      decide_disposition({SY_OUTCOME_REJECT, "bad quote", false, "disk full", 1}, r, kNow, 0);
  ASSERT_EQ(reject.kind, Disposition::kDeadLetter);
  EXPECT_EQ(reject.outcome, SY_OUTCOME_REJECT);
  EXPECT_EQ(reject.reason, "bad quote");
}

TEST(DecideDisposition, AFlushMessageIsCutToTheReasonSizeOfAHandler) {
  const std::string long_error(3000, 'e');
  const Disposition d =
      decide_disposition({SY_OUTCOME_OK, "", false, long_error, 1}, retry_config(1), kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kDeadLetter);
  EXPECT_EQ(d.reason,
            "gave up after 1 attempt: " + long_error.substr(0, SWITCHYARD_REASON_MAX - 1));
}

TEST(DecideDisposition, AnUnknownKindIsARejectWithItsReason) {
  const Disposition d = decide_disposition(
      {42, "plugin returned an invalid outcome kind 42", true, "", 2}, retry_config(5), kNow, 0);
  ASSERT_EQ(d.kind, Disposition::kDeadLetter);
  EXPECT_EQ(d.outcome, SY_OUTCOME_REJECT);
  EXPECT_EQ(d.reason, "plugin returned an invalid outcome kind 42");
  EXPECT_EQ(d.log,
            "handler answered reject on attempt 2: plugin returned an invalid outcome kind 42; "
            "dead-lettered");
}

}  // namespace
}  // namespace switchyard
