// pause.cc: the K:paused fields, parked scores and the board workers read.
#include "dispatch/pause.h"

#include <algorithm>

namespace switchyard {

int64_t parked_score(std::string_view handler) {
  uint64_t hash = 14695981039346656037ull;  // FNV-1a, 64 bits
  for (unsigned char c : handler) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return (int64_t{1} << 52) + static_cast<int64_t>(hash >> 12);
}

PausedState PausedState::from_fields(const std::map<std::string, std::string>& fields) {
  PausedState state;
  for (const auto& [field, value] : fields) {
    if (field == kPausedSourceField) {
      state.source = true;
    } else if (field.size() > kPausedHandlerPrefix.size() &&
               field.compare(0, kPausedHandlerPrefix.size(), kPausedHandlerPrefix) == 0) {
      state.handlers.push_back(field.substr(kPausedHandlerPrefix.size()));
    }
  }
  std::sort(state.handlers.begin(), state.handlers.end());
  return state;
}

void PauseBoard::publish(PausedState state) {
  source_.store(state.source, std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (handlers_ != state.handlers) {
      handlers_ = std::move(state.handlers);
      version_.fetch_add(1, std::memory_order_release);
    }
  }
  loaded_.store(true, std::memory_order_release);
}

std::vector<std::string> PauseBoard::handlers() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return handlers_;
}

}  // namespace switchyard
