// retry_schedule.h: the durable retry schedule K:retry (a sorted set scored by due time, unix ms)
// shared by every source kind: lease due entries, then settle each one (done, rescheduled or
// dead-lettered) atomically.
// Thread safety: used by one thread (it holds that thread's connection).
#ifndef SWITCHYARD_SOURCE_RETRY_SCHEDULE_H_
#define SWITCHYARD_SOURCE_RETRY_SCHEDULE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "records/retry_entry.h"
#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

// A retry entry leased for processing; member is the exact zset member to settle.
struct LeasedRetry {
  std::string member;
  RetryEntry entry;
  bool malformed = false;
};

// How one leased retry ends: settled (removed), rescheduled, or dead-lettered.
struct RetrySettlement {
  std::string member;  // the leased member
  enum Kind { kDone, kReschedule, kDeadLetter } kind = kDone;
  int64_t due_ms = 0;  // kReschedule
  std::string data;    // kReschedule: new member; kDeadLetter: encoded letter
};

class RetrySchedule {
 public:
  RetrySchedule(RedisConnection* connection, SourceKeys keys)
      : connection_(connection), keys_(std::move(keys)) {}

  // Names who runs what this schedule leases: the worker `worker` of a run that is alive while
  // GET alive_key returns alive_value (a list consumer's heartbeat and token; a lease holder's
  // K:lease and holder). Without it (streams), every due lease is taken as a crash.
  void set_runner(const std::string& alive_key, const std::string& alive_value, int worker) {
    me_ = alive_key + "\n" + alive_value + "\n" + std::to_string(worker);
  }
  // Leases up to max retries due by Redis's clock for lease_ms (moving their score forward and
  // counting the lease in the member), so a crash leaves them to be leased again later. A due
  // retry whose runner is another live worker (a slow handler) has its lease renewed instead.
  // now_ms is this host's clock: clock_offset_ms() then tells how far Redis's clock is ahead.
  Status lease(int max, int64_t now_ms, int64_t lease_ms, std::vector<LeasedRetry>* out);
  // Redis's clock minus this host's, as of the last lease() (0 before): add it to due times so
  // that every host schedules by the same clock.
  int64_t clock_offset_ms() const { return clock_offset_ms_; }
  // Applies settlements atomically per entry; an entry whose lease was lost (re-leased by someone
  // else) is skipped.
  Status settle(const std::vector<RetrySettlement>& settlements);

 private:
  RedisConnection* connection_;
  SourceKeys keys_;
  std::vector<std::string_view> args_;
  std::string me_;  // see set_runner; "" for none
  int64_t clock_offset_ms_ = 0;
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_RETRY_SCHEDULE_H_
