// wait.h: bounded polling of a condition, the only way tests wait for asynchronous effects.
#ifndef SWITCHYARD_TESTS_SUPPORT_WAIT_H_
#define SWITCHYARD_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <functional>
#include <source_location>
#include <string>

namespace switchyard::test {

// Polls `condition` until it returns true or `timeout` has passed: first check immediately, then
// sleeps starting at 1 ms and doubling up to 10 ms between checks; the condition is evaluated one
// last time at the deadline. Returns true as soon as it holds. On timeout, adds a non-fatal gtest
// failure at the caller's location: "timed out after N ms waiting for <what>" (plus the last
// exception's message, if any) and returns false; use `ASSERT_TRUE(wait_until(...))`.
// Errors: a std::exception thrown by `condition` counts as "not yet" (e.g. Redis still restarting);
// the last one is quoted in the failure message. Other exceptions propagate.
// Thread safety: reentrant; `condition` runs on the calling thread.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                const std::string& what,
                std::source_location where = std::source_location::current());

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_WAIT_H_
