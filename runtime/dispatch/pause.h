// pause.h: pausing a source or a handler without a restart (README "Pause and resume"). The state
// lives in Redis, in the hash K:paused of each source, so every instance obeys it: field "source"
// pauses the source's takes, field "handler:NAME" parks the source's deliveries to NAME in
// K:retry at a score that never comes due (parked_score) until NAME is resumed. PauseBoard hands
// what the housekeeping thread last read to the source's workers.
#ifndef SWITCHYARD_DISPATCH_PAUSE_H_
#define SWITCHYARD_DISPATCH_PAUSE_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

// K:paused of the source whose key is K.
inline std::string paused_key(const std::string& source_key) { return source_key + ":paused"; }

// The fields of K:paused; their values say when and by whom ("<ISO time> by <user>@<host>").
inline constexpr std::string_view kPausedSourceField = "source";
inline constexpr std::string_view kPausedHandlerPrefix = "handler:";

// The K:retry score of a delivery parked for the paused handler: 2^52 plus 52 bits of a hash of
// the name, far beyond any due time (unix ms), exact as a double, one score per handler so that
// resuming finds its deliveries with one range. Pure.
int64_t parked_score(std::string_view handler);

// What K:paused holds, read from its HGETALL fields: whether the source is paused, and the
// handlers paused in it (sorted). Fields of any other shape are ignored. Pure.
struct PausedState {
  bool source = false;
  std::vector<std::string> handlers;
  static PausedState from_fields(const std::map<std::string, std::string>& fields);
};

// The pause state of one source, published by the housekeeping thread, read by the source's
// workers on every loop (one atomic load each while nothing changes).
// Thread safety: publish() from one thread; the rest from any thread.
class PauseBoard {
 public:
  void publish(PausedState state);
  // False until the first publish: workers take nothing before they know whether to.
  bool loaded() const { return loaded_.load(std::memory_order_acquire); }
  bool source_paused() const { return source_.load(std::memory_order_relaxed); }
  // Changes whenever the paused handlers change; handlers() reads them.
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  std::vector<std::string> handlers() const;

 private:
  std::atomic<bool> loaded_{false};
  std::atomic<bool> source_{false};
  std::atomic<uint64_t> version_{0};
  mutable std::mutex mutex_;  // guards handlers_
  std::vector<std::string> handlers_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_PAUSE_H_
