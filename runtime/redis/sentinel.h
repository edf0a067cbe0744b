// sentinel.h: finds the current master of a Redis Sentinel deployment by asking the sentinels,
// and follows the sentinels' +switch-master announcements.
#ifndef SWITCHYARD_REDIS_SENTINEL_H_
#define SWITCHYARD_REDIS_SENTINEL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <thread>

#include "redis/redis_url.h"
#include "util/status.h"

namespace switchyard {

// Asks endpoint.discovery's sentinels in order for SENTINEL get-master-addr-by-name
// endpoint.sentinel_master (after AUTH [sentinel_user] sentinel_password when
// endpoint.sentinel_password is set); the first answer wins. Each sentinel gets timeout to
// connect and answer. Errors name every sentinel tried and what it said (down, AUTH refused,
// master unknown) and say what to check.
// Thread safety: reentrant (each call opens and closes its own connections).
Status ask_sentinels_for_master(
    const RedisEndpoint& endpoint, RedisNodeAddress* master,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

// How many +switch-master announcements for a master this process follows have been heard by
// the SentinelWatchers of this process. A connection in sentinel mode remembers the count when it
// connects and reconnects (asking the sentinels again) once it has changed.
// Thread safety: any thread.
uint64_t sentinel_switch_count();

// Subscribes to +switch-master on one of endpoint.discovery's sentinels at a time (AUTH as
// ask_sentinels_for_master), moving to the next when one goes away (retrying every second), on a
// thread of its own. An announcement for endpoint.sentinel_master raises sentinel_switch_count()
// and is passed to on_switch ("NAME OLDHOST OLDPORT NEWHOST NEWPORT"); so is a sentinel that
// refuses the subscription (on_problem, each distinct text once), for the caller to log.
// Ownership: owns its thread and connection; the destructor stops it (within ~0.2 s).
// Thread safety: the callbacks run on the watcher's thread.
class SentinelWatcher {
 public:
  SentinelWatcher(RedisEndpoint endpoint, std::function<void(const std::string&)> on_switch,
                  std::function<void(const std::string&)> on_problem);
  ~SentinelWatcher();
  SentinelWatcher(const SentinelWatcher&) = delete;
  SentinelWatcher& operator=(const SentinelWatcher&) = delete;

 private:
  void run();
  bool watch_one(const RedisNodeAddress& sentinel);  // until it goes away or stop_
  RedisEndpoint endpoint_;
  std::function<void(const std::string&)> on_switch_;
  std::function<void(const std::string&)> on_problem_;
  std::string last_problem_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_SENTINEL_H_
