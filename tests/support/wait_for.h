// wait_for.h: bounded polling of a condition that reports a status (no GTest; tests and bench).
#ifndef SWITCHYARD_TESTS_SUPPORT_WAIT_FOR_H_
#define SWITCHYARD_TESTS_SUPPORT_WAIT_FOR_H_

#include <chrono>
#include <functional>
#include <string>

namespace switchyard::test {

// The outcome of wait_for(): ok, or why it timed out.
struct WaitStatus {
  bool ok = false;
  // Empty when ok; else "timed out after N ms waiting for <what>" (plus the condition's last
  // exception, if any).
  std::string message;
  explicit operator bool() const { return ok; }
};

// Polls `condition` until it returns true or `timeout` has passed: first check immediately, then
// sleeps starting at 1 ms and doubling up to 10 ms between checks; the condition is evaluated one
// last time at the deadline. Returns {ok} as soon as it holds, else {!ok, message}.
// Errors: a std::exception thrown by `condition` counts as "not yet" (e.g. Redis still restarting);
// the last one is quoted in the message. Other exceptions propagate.
// Thread safety: reentrant; `condition` runs on the calling thread.
WaitStatus wait_for(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                    const std::string& what);

// As wait_for(), but throws std::runtime_error with the message on timeout.
void wait_or_throw(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                   const std::string& what);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_WAIT_FOR_H_
