// wait.h: GTest layer over wait_for.h: a timed-out wait becomes a failure at the caller's line.
#ifndef SWITCHYARD_TESTS_SUPPORT_WAIT_H_
#define SWITCHYARD_TESTS_SUPPORT_WAIT_H_

#include <chrono>
#include <functional>
#include <source_location>
#include <string>

#include "support/wait_for.h"

namespace switchyard::test {

// wait_for() (same polling, same treatment of exceptions) that returns true as soon as the
// condition holds. On timeout, adds a non-fatal gtest failure at the caller's location with
// wait_for's message ("timed out after N ms waiting for <what>" ...) and returns false; use
// `ASSERT_TRUE(wait_until(...))`.
// Thread safety: reentrant; `condition` runs on the calling thread.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                const std::string& what,
                std::source_location where = std::source_location::current());

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_WAIT_H_
