// handler_watchdog.h: the stuck-handler watchdog. Each worker records the handler call it is in
// (CallWatch: a few relaxed atomic stores per call, nothing per message); one control thread
// looks at every worker (HandlerWatchdog::check) and reports a call that runs longer than its
// handler's handler_timeout: one log line, a count, the stuck gauge, /healthz failing and the
// systemd watchdog no longer fed (README "Stuck handlers").
#ifndef SWITCHYARD_DISPATCH_HANDLER_WATCHDOG_H_
#define SWITCHYARD_DISPATCH_HANDLER_WATCHDOG_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/metrics.h"

namespace switchyard {

// The handler call one thread is in (a worker, or one of its lanes: dispatch/call_lanes.h),
// readable from another thread without locks.
// Thread safety: begin() and end() from that one thread only; running() from any thread.
class CallWatch {
 public:
  // What running() reports.
  struct Call {
    std::string handler;
    std::string event;       // the first event of the call (names longer than kTextBytes are cut)
    uint64_t events = 0;     // messages in the call
    int64_t started_ms = 0;  // steady clock
    int64_t timeout_ms = 0;  // the handler's handler_timeout
  };
  static constexpr size_t kTextBytes = 128;

  CallWatch() = default;
  CallWatch(const CallWatch&) = delete;
  CallWatch& operator=(const CallWatch&) = delete;

  // The worker enters a call of handler with `events` messages, the first of event, at
  // started_ms (steady clock, ms; not 0).
  void begin(std::string_view handler, std::string_view event, uint64_t events, int64_t timeout_ms,
             int64_t started_ms);
  // The call returned.
  void end();
  // The call in progress, if any (false when the worker is not in a call). A call that ends
  // while it is read is not reported (false), never reported half-written.
  bool running(Call* out) const;

 private:
  // Text written and read as relaxed atomic words (a seqlock: started_ms_ is the sequence).
  struct Text {
    std::array<std::atomic<uint64_t>, kTextBytes / 8> words{};
    std::atomic<uint32_t> size{0};
    void store(std::string_view text);
    std::string load() const;
  };
  std::atomic<int64_t> started_ms_{0};  // 0: not in a call
  std::atomic<int64_t> timeout_ms_{0};
  std::atomic<uint64_t> events_{0};
  Text handler_;
  Text event_;
};

// Every worker's CallWatch (one per thread that calls handlers), and what the watchdog last
// concluded.
// Thread safety: add() from any thread (a worker adds one when it starts a lane); check() from
// one thread (the process's main loop); unhealthy_reason() from any thread.
class HandlerWatchdog {
 public:
  explicit HandlerWatchdog(Metrics* metrics) : metrics_(metrics) {}

  // A new CallWatch for a thread calling handlers for source; owned here, valid as long as the
  // watchdog.
  CallWatch* add(std::string source);
  // Looks at every worker at now_ms (steady clock): a call past its timeout is logged once (error,
  // naming the handler, event, source, how long and what to do), counted in
  // switchyard_handler_timeouts_total and sets switchyard_handler_stuck; when it returns, that is
  // logged and the gauge falls back. Returns true when no call is past its timeout.
  bool check(int64_t now_ms);
  // "" while healthy, else why not (one line per stuck call): for /healthz.
  std::string unhealthy_reason() const;

  // The steady clock in ms, as begin() and check() take it.
  static int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

 private:
  struct Slot {
    std::string source;
    CallWatch watch;
    CallWatch::Call reported;  // the stuck call logged last (started_ms 0: none)
  };
  Metrics* metrics_;
  std::mutex slots_mutex_;  // guards slots_ (the Slots themselves: check() alone)
  std::vector<std::unique_ptr<Slot>> slots_;
  mutable std::mutex mutex_;  // guards reason_
  std::string reason_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_HANDLER_WATCHDOG_H_
