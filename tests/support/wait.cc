// wait.cc: wait_until, wait_for reported as a gtest failure at the caller's line.
#include "support/wait.h"

#include <gtest/gtest.h>

namespace switchyard::test {

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                const std::string& what, std::source_location where) {
  WaitStatus status = wait_for(condition, timeout, what);
  if (!status) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line())) << status.message;
  }
  return status.ok;
}

}  // namespace switchyard::test
