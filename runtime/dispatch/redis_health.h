// redis_health.h: the process-wide view of whether Redis answers, logging each change once (not
// once per reconnect attempt or per thread), and the capped reconnect backoff.
// Thread safety: all members are thread-safe.
#ifndef SWITCHYARD_DISPATCH_REDIS_HEALTH_H_
#define SWITCHYARD_DISPATCH_REDIS_HEALTH_H_

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>

namespace switchyard {

class RedisHealth {
 public:
  // Records a failure; logs "Redis unreachable: <why>" only on the up -> down change.
  void report_down(const std::string& address, const std::string& why);
  // Records a success; logs "Redis reachable again" only on the down -> up change (and ends a
  // refusal as report_ok does).
  void report_up(const std::string& address);
  // Records a failed request: an outage when the connection is gone (report_down); else Redis
  // answered with an error reply: a refusal of all writes (report_refused), or any other error,
  // logged once per text. The connection stays: a refusal is an answer, not an outage.
  void report_failure(const std::string& address, const std::string& why, bool connected);
  // Records Redis refusing writes as a whole (redis_refusal_advice: OOM at maxmemory, MISCONF,
  // READONLY, ...): logs "Redis refuses writes: <why>" once, until report_ok. Returns false, and
  // logs nothing, when why is not such a refusal.
  bool report_refused(const std::string& address, const std::string& why);
  // Records a request Redis carried out: after a refusal, once no refusal was met for
  // kRefusalQuiet, logs "Redis accepts writes again" once.
  // Lock-free while nothing is refused (call it after a successful write that Redis would refuse
  // at maxmemory: a take, a heartbeat; not an ack, whose deletions are let through).
  void report_ok(const std::string& address);
  bool up() const { return up_.load(); }
  // True once any connection succeeded.
  bool ever_up() const { return ever_up_.load(); }

 private:
  std::mutex mutex_;
  std::atomic<bool> up_{true};  // assume up until a failure says otherwise
  std::atomic<bool> ever_up_{false};
  std::atomic<bool> refused_{false};
  std::chrono::steady_clock::time_point down_since_;
  std::chrono::steady_clock::time_point refused_since_;
  std::chrono::steady_clock::time_point last_refusal_;
  static constexpr std::chrono::milliseconds kRefusalQuiet{2500};
};

// Exponential backoff for reconnects: 100 ms doubling to a cap of 5 s, with jitter.
class ReconnectBackoff {
 public:
  std::chrono::milliseconds next();
  void reset() { attempt_ = 0; }

 private:
  int attempt_ = 0;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_REDIS_HEALTH_H_
