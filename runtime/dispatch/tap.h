// tap.h: the daemon's side of `switchyard tap`: while a tap client subscribes to a source's
// channel K:tap, workers hand it a sample of the envelopes they handle (event, handlers, outcome),
// at most kTapPerSecond per source per second, and one thread publishes them. Nobody tapping
// costs a worker one relaxed atomic load per batch; the tap thread asks Redis once a second
// whether anyone listens (PUBSUB NUMSUB), and publishes nothing while nobody does.
// Thread safety: TapChannel::tapped and Tap::offer are for the worker threads; Tap::run runs on
// one thread of its own, Tap::stop may be called from any thread.
#ifndef SWITCHYARD_DISPATCH_TAP_H_
#define SWITCHYARD_DISPATCH_TAP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "redis/redis_url.h"

namespace switchyard {

// At most this many envelopes per source per second are published; the rest are counted and
// reported as one {"dropped":N} message per second.
constexpr int kTapPerSecond = 100;

// The channel a tap client subscribes to for the source whose key is key.
std::string tap_channel(const std::string& key);

// One sampled envelope, as published: a JSON object
//   {"time":"2026-12-05T02:00:00.000Z","source":S,"event":E,"handlers":[H...],
//    "outcome":"ok"|"retry"|"dead_letter"|"dropped","reason":R}
// (reason only when there is one; event "" when the message did not decode). Every string is
// JSON-escaped: the event and reason come from producers and handlers.
std::string encode_tap_record(std::string_view source, std::string_view event,
                              const std::vector<std::string_view>& handlers,
                              std::string_view outcome, std::string_view reason);

// One source's tap state.
struct TapChannel {
  std::string source;   // the source's name
  std::string channel;  // tap_channel(its key)
  // Someone subscribes to channel (as of the last check, at most a second old). Workers read it
  // once per batch with a relaxed load.
  std::atomic<bool> tapped{false};
};

class Tap {
 public:
  // One channel per source, in config order.
  explicit Tap(const std::vector<SourceConfig>& sources);

  // The channel of the source named name; nullptr when there is none. Valid as long as the Tap.
  TapChannel* channel(const std::string& name);

  // Queues record (encode_tap_record) for channel's subscribers, unless kTapPerSecond records of
  // this channel were queued in the current second: then counts it as dropped. Never blocks on
  // Redis (a short mutex only).
  void offer(TapChannel* channel, std::string record);

  // The publishing thread's body, until stop(): checks PUBSUB NUMSUB every second (setting each
  // channel's tapped flag) and publishes the queued records every 100 ms, over its own
  // connection to endpoint. Redis being away clears every flag and is retried a second later.
  void run(const RedisEndpoint& endpoint);
  void stop();

 private:
  struct Pending {
    std::deque<std::string> records;
    int64_t second = 0;  // the second (steady clock) records were counted in
    int queued = 0;      // records queued in that second
    uint64_t dropped = 0;
  };

  std::vector<std::unique_ptr<TapChannel>> channels_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;         // under mutex_
  std::vector<Pending> pending_;  // per channel, under mutex_
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_TAP_H_
