// tap.h: the daemon's side of `switchyard tap`: while a tap client subscribes to one of a source's
// tap channels (K:tap for every event, K:tap:event:GLOB for the events GLOB matches), workers hand
// it a sample of the envelopes they handle (event, handlers, outcome), at most kTapPerSecond per
// channel per second, and one thread publishes them. The glob is applied here, before the limit,
// so a tap of rare events sees them all however busy the source. Nobody tapping costs a worker
// one relaxed atomic load per batch; the tap thread asks Redis once a second which tap channels
// have subscribers (PUBSUB CHANNELS), and publishes nothing while nobody listens.
// Thread safety: TapChannel::tapped and Tap::offer are for the worker threads; Tap::run runs on
// one thread of its own, Tap::stop may be called from any thread.
#ifndef SWITCHYARD_DISPATCH_TAP_H_
#define SWITCHYARD_DISPATCH_TAP_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "redis/redis_url.h"

namespace switchyard {

// At most this many envelopes per channel per second are published; the rest are counted and
// reported as one {"dropped":N} message per second.
constexpr int kTapPerSecond = 100;
// A source's tap channels served at once (the first ones in byte order; the rest get nothing and
// are logged once), and the longest glob served.
constexpr size_t kTapMaxChannels = 8;
constexpr size_t kTapMaxGlobBytes = 256;

// The channel a tap client subscribes to for the source whose key is key: K:tap for every event,
// K:tap:event:GLOB for the events that event_glob matches (glob_match, as routes: use). Pure.
std::string tap_channel(const std::string& key, std::string_view event_glob = {});

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
  // Someone subscribes to one of the source's tap channels (as of the last check, at most a
  // second old). Workers read it once per batch with a relaxed load.
  std::atomic<bool> tapped{false};
};

class Tap {
 public:
  // One channel per source, in config order.
  explicit Tap(const std::vector<SourceConfig>& sources);

  // The channel of the source named name; nullptr when there is none. Valid as long as the Tap.
  TapChannel* channel(const std::string& name);

  // Queues the record of an envelope of `event` (encode() makes it, once, and only when a
  // listener's glob matches) for each listening channel of the source that matches, unless
  // kTapPerSecond records of that channel were queued in the current second: then counts it as
  // dropped there. Never blocks on Redis (a short mutex only).
  void offer(TapChannel* channel, std::string_view event,
             const std::function<std::string()>& encode);

  // The listening channels of a source: its tap channels (tap_channel) among `channels` (a
  // PUBSUB CHANNELS reply), those with an empty or too long glob left out, sorted, at most
  // kTapMaxChannels; *ignored counts the rest. Pure.
  static std::vector<std::string> listening(const std::string& key,
                                            const std::vector<std::string>& channels,
                                            size_t* ignored);
  // Sets the listening channels of the source named name (as listening() returns them); the
  // queued records and counts of a channel that stays are kept.
  void set_listening(const std::string& name, const std::vector<std::string>& channels);

  // The publishing thread's body, until stop(): asks Redis every second which tap channels have
  // subscribers (set_listening, and each source's tapped flag) and publishes the queued records
  // every 100 ms, over its own connection to endpoint. Redis being away clears every flag and is
  // retried a second later.
  void run(const RedisEndpoint& endpoint);
  void stop();

 private:
  struct Listener {
    std::string channel;
    std::string glob;  // empty: every event
    std::deque<std::string> records;
    int64_t second = 0;  // the second (steady clock) records were counted in
    int queued = 0;      // records queued in that second
    uint64_t dropped = 0;
  };
  size_t index_of(const TapChannel* channel) const;

  std::vector<std::unique_ptr<TapChannel>> channels_;
  std::vector<std::string> keys_;  // per source
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;                         // under mutex_
  std::vector<std::vector<Listener>> listeners_;  // per source, under mutex_
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_TAP_H_
