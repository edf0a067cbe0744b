// handler_watchdog.cc: recording the call a worker is in, and reporting calls past their timeout.
#include "dispatch/handler_watchdog.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <set>

#include "log/logging.h"
#include "util/escape.h"

namespace switchyard {
namespace {

std::string seconds(int64_t ms) {
  return ms % 1000 == 0 ? std::to_string(ms / 1000) : fmt::format("{:.1f}", ms / 1000.0);
}

}  // namespace

void CallWatch::Text::store(std::string_view text) {
  const size_t n = std::min(text.size(), kTextBytes);
  for (size_t i = 0; i * 8 < n; ++i) {
    uint64_t word = 0;
    std::memcpy(&word, text.data() + i * 8, std::min<size_t>(8, n - i * 8));
    words[i].store(word, std::memory_order_relaxed);
  }
  // A name cut short says so: its size is kept whole.
  size.store(static_cast<uint32_t>(std::min<size_t>(text.size(), UINT32_MAX)),
             std::memory_order_relaxed);
}

std::string CallWatch::Text::load() const {
  const size_t full = size.load(std::memory_order_relaxed);
  const size_t n = std::min(full, kTextBytes);
  std::string out(n, '\0');
  for (size_t i = 0; i * 8 < n; ++i) {
    const uint64_t word = words[i].load(std::memory_order_relaxed);
    std::memcpy(out.data() + i * 8, &word, std::min<size_t>(8, n - i * 8));
  }
  if (full > n) out += "...";
  return out;
}

void CallWatch::begin(std::string_view handler, std::string_view event, uint64_t events,
                      int64_t timeout_ms, int64_t started_ms) {
  // started_ms_ is 0 here, and end()'s fence keeps these stores after it: a reader that sees any
  // of them then sees started_ms_ changed, and drops what it read.
  handler_.store(handler);
  event_.store(event);
  events_.store(events, std::memory_order_relaxed);
  timeout_ms_.store(timeout_ms, std::memory_order_relaxed);
  started_ms_.store(started_ms, std::memory_order_release);
}

void CallWatch::end() {
  started_ms_.store(0, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
}

bool CallWatch::running(Call* out) const {
  const int64_t started = started_ms_.load(std::memory_order_acquire);
  if (started == 0) return false;
  Call c;
  c.handler = handler_.load();
  c.event = event_.load();
  c.events = events_.load(std::memory_order_relaxed);
  c.timeout_ms = timeout_ms_.load(std::memory_order_relaxed);
  c.started_ms = started;
  std::atomic_thread_fence(std::memory_order_acquire);
  // Ended (and maybe another call begun) meanwhile: what was read may mix two calls. A call past
  // its timeout began at least a second before the caller's clock, so a new one cannot carry the
  // same start time.
  if (started_ms_.load(std::memory_order_relaxed) != started) return false;
  *out = std::move(c);
  return true;
}

CallWatch* HandlerWatchdog::add(std::string source) {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  slots_.push_back(std::make_unique<Slot>());
  slots_.back()->source = std::move(source);
  return &slots_.back()->watch;
}

bool HandlerWatchdog::check(int64_t now_ms) {
  std::set<std::string> stuck_before, stuck_now;
  std::string reason;
  std::unique_lock<std::mutex> slots_lock(slots_mutex_);
  for (auto& slot : slots_) {
    CallWatch::Call& reported = slot->reported;
    if (reported.started_ms != 0) stuck_before.insert(reported.handler);
    CallWatch::Call c;
    const bool in_call = slot->watch.running(&c);
    if (reported.started_ms != 0 && (!in_call || c.started_ms != reported.started_ms)) {
      log_with(spdlog::level::warn,
               {.source = slot->source, .event = reported.event, .handler = reported.handler},
               "handler {} returned after more than {} s (its handler_timeout is {} s); no "
               "longer stuck",
               reported.handler, seconds(now_ms - reported.started_ms),
               seconds(reported.timeout_ms));
      reported = CallWatch::Call();
    }
    if (in_call && reported.started_ms == 0 && now_ms - c.started_ms > c.timeout_ms) {
      log_with(spdlog::level::err, {.source = slot->source, .event = c.event, .handler = c.handler},
               "handler {} stuck: one call has been running for {} s on {} message(s), longer "
               "than its handler_timeout of {} s. /healthz now fails and the systemd watchdog is "
               "no longer fed, so systemd restarts switchyard; the messages stay in flight and "
               "are handled again after the restart. Find what the handler waits on (a database "
               "or network call without a timeout?), or raise handlers.{}.handler_timeout if "
               "such calls are expected",
               c.handler, seconds(now_ms - c.started_ms), c.events, seconds(c.timeout_ms),
               c.handler);
      metrics_->add_handler_timeout(c.handler);
      reported = c;
    }
    if (reported.started_ms != 0) {
      stuck_now.insert(reported.handler);
      if (!reason.empty()) reason += "; ";
      reason += "handler " + reported.handler + " stuck for " +
                seconds(now_ms - reported.started_ms) + " s (handler_timeout " +
                seconds(reported.timeout_ms) + " s) on event " + printable(reported.event) +
                ", source " + printable(slot->source);
    }
  }
  slots_lock.unlock();
  for (const std::string& h : stuck_now)
    if (!stuck_before.count(h)) metrics_->set_handler_stuck(h, true);
  for (const std::string& h : stuck_before)
    if (!stuck_now.count(h)) metrics_->set_handler_stuck(h, false);
  std::lock_guard<std::mutex> lock(mutex_);
  reason_ = std::move(reason);
  return reason_.empty();
}

std::string HandlerWatchdog::unhealthy_reason() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return reason_;
}

}  // namespace switchyard
