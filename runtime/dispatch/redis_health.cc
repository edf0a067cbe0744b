// redis_health.cc: once-per-change logging of Redis reachability and refusals, and reconnect
// backoff.
#include "dispatch/redis_health.h"

#include <spdlog/spdlog.h>

#include <random>
#include <string_view>

#include "redis/redis_connection.h"
#include "source/source_alerts.h"

namespace switchyard {

void RedisHealth::report_down(const std::string& address, const std::string& why) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (up_.exchange(false)) {
    down_since_ = std::chrono::steady_clock::now();
    spdlog::error("Redis {} unreachable: {}; messages stay in Redis, reconnecting with backoff",
                  address, why);
  }
}

void RedisHealth::report_failure(const std::string& address, const std::string& why,
                                 bool connected) {
  if (!connected) {
    report_down(address, why);
  } else if (!report_refused(address, why) && log_once(why)) {
    spdlog::error("Redis {} refused a request: {}", address, why);
  }
}

bool RedisHealth::report_refused(const std::string& address, const std::string& why) {
  if (redis_refusal_advice(why) == nullptr) return false;
  std::lock_guard<std::mutex> lock(mutex_);
  last_refusal_ = std::chrono::steady_clock::now();
  if (!refused_.exchange(true)) {
    refused_since_ = std::chrono::steady_clock::now();
    // The message names the address already (the redis layer's form): not twice.
    const std::string prefix = "Redis " + address + ": ";
    const std::string_view what = why.rfind(prefix, 0) == 0
                                      ? std::string_view(why).substr(prefix.size())
                                      : std::string_view(why);
    spdlog::error(
        "Redis {} refuses writes: {}; nothing is lost: messages stay in Redis, the connection is "
        "kept, and the request is retried every few seconds",
        address, what);
  }
  return true;
}

void RedisHealth::report_ok(const std::string& address) {
  if (!refused_.load(std::memory_order_relaxed)) return;
  std::lock_guard<std::mutex> lock(mutex_);
  // A request that happened to write nothing goes through while Redis still refuses the others:
  // the refusal is over only once none was met for a while (every refusing path retries within
  // about a second).
  if (std::chrono::steady_clock::now() - last_refusal_ < kRefusalQuiet) return;
  if (refused_.exchange(false)) {
    auto refused_for = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - refused_since_);
    spdlog::info("Redis {} accepts writes again after {} ms", address, refused_for.count());
  }
}

void RedisHealth::report_up(const std::string& address) {
  report_ok(address);
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
