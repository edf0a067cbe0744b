// redis_health.cc: once-per-change logging of Redis reachability, and reconnect backoff.
#include "dispatch/redis_health.h"

#include <spdlog/spdlog.h>

#include <random>

namespace switchyard {

void RedisHealth::report_down(const std::string& address, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (up_.exchange(false)) {
    down_since_ = std::chrono::steady_clock::now();
    spdlog::error("Redis {} unreachable: {}; messages stay in Redis, reconnecting with backoff",
                  address, why);
  }
}

void RedisHealth::report_up(const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  bool first = !ever_up_.exchange(true);
  if (!up_.exchange(true)) {
    auto down_for = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - down_since_);
    spdlog::info("Redis {} reachable again after {} ms", address, down_for.count());
  } else if (first) {
    spdlog::info("connected to Redis {}", address);
  }
}

std::chrono::milliseconds ReconnectBackoff::next() {
  thread_local std::mt19937 rng{std::random_device{}()};
  int64_t base = std::min<int64_t>(5000, 100ll << std::min(attempt_, 6));
  ++attempt_;
  std::uniform_int_distribution<int64_t> jitter(base / 2, base);
  return std::chrono::milliseconds(jitter(rng));
}

}  // namespace switchyard
