// wait.cc: wait_until, polling with a short backoff and a clear failure message.
#include "support/wait.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <exception>
#include <thread>

namespace switchyard::test {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                const std::string& what, std::source_location where) {
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
    if (check()) return true;
    const auto now = Clock::now();
    if (now >= deadline) break;
    std::this_thread::sleep_for(std::min<Clock::duration>(interval, deadline - now));
    interval = std::min(interval * 2, std::chrono::milliseconds(10));
  }
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
      << "timed out after " << timeout.count() << " ms waiting for " << what
      << (last_error.empty() ? "" : " (last error: " + last_error + ")");
  return false;
}

}  // namespace switchyard::test
