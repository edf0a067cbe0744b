// status.h: the result of an operation that can fail in an expected way (LevelDB style).
// Thread safety: a value type; copy freely.
#ifndef SWITCHYARD_UTIL_STATUS_H_
#define SWITCHYARD_UTIL_STATUS_H_

#include <string>
#include <utility>

namespace switchyard {

// Either ok, or an error with a message that names its subject and what to do.
class Status {
 public:
  Status() = default;
  static Status ok() { return Status(); }
  static Status error(std::string message) { return Status(std::move(message)); }

  bool is_ok() const { return !failed_; }
  explicit operator bool() const { return is_ok(); }
  // The error message; empty when ok.
  const std::string& message() const { return message_; }

 private:
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}
  bool failed_ = false;
  std::string message_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_STATUS_H_
