// wait_for.cc: wait_for, polling with a short backoff and a clear timeout message.
#include "support/wait_for.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <thread>

namespace switchyard::test {

WaitStatus wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                    const std::string& what) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto interval = std::chrono::milliseconds(1);
  std::string last_error;
  auto check = [&]() {
    try {
      return condition();
    } catch (const std::exception& e) {
      last_error = e.what();
      return false;
    }
  };
  for (;;) {
    if (check()) return {true, {}};
    const auto now = Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - now));
    interval = std::min(interval * 2, std::chrono::milliseconds(10));
  }
  return {false, "timed out after " + std::to_string(timeout.count()) + " ms waiting for " + what +
                     (last_error.empty() ? "" : " (last error: " + last_error + ")")};
}

void wait_or_throw(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                   const std::string& what) {
  WaitStatus status = wait_for(condition, timeout, what);
  if (!status) throw std::runtime_error(status.message);
}

}  // namespace switchyard::test
