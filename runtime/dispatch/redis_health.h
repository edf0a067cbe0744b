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
  // Records a success; logs "Redis reachable again" only on the down -> up change.
  void report_up(const std::string& address);
  bool up() const { return up_.load(); }
  // True once any connection succeeded.
  bool ever_up() const { return ever_up_.load(); }

 private:
  std::mutex mutex_;
  std::atomic<bool> up_{true};  // assume up until a failure says otherwise
  std::atomic<bool> ever_up_{false};
  std::chrono::steady_clock::time_point down_since_;
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
