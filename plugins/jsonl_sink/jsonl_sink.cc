// jsonl_sink.cc: appends every envelope, byte for byte, as one line to a file (fan-out / audit).
// Thread safety: an instance is used by one thread at a time (the plugin ABI's promise).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <system_error>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"
#include "switchyard/version.h"

namespace {

std::string errno_text(int err) { return std::system_category().message(err); }

class JsonlSink : public switchyard::sdk::BatchHandler {
 public:
  JsonlSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    const std::string path = options.required_string("path");
    if (path.empty()) throw std::runtime_error("config.path: must not be empty");
    path_ = host.resolve_path(path);
    if (host.check_only()) return;  // `switchyard check`: validate only, create no file
    std::string error;
    if (!open(&error)) host.warn(error + " (events will be retried)");
  }
  ~JsonlSink() override {
    if (fd_ >= 0) ::close(fd_);
  }
  JsonlSink(const JsonlSink&) = delete;
  JsonlSink& operator=(const JsonlSink&) = delete;

  // Appends the batch's lines with one write() at the end of the file (O_APPEND). On failure
  // every event of the batch gets RETRY.
  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>& results) override {
    if (events.empty()) return;
    size_t total = 1;
    for (const auto& event : events) total += event.message().size() + 1;
    std::string buffer;
    buffer.reserve(total);
    // A previous failed write may have left a partial line: end it so the next line is whole.
    if (torn_) buffer += '\n';
    for (const auto& event : events) append_line(buffer, event.message());

    std::string error;
    if (open(&error)) {
      size_t written = 0;
      if (write_all(buffer, &written, &error)) {
        torn_ = false;
        return;
      }
      if (written > 0) torn_ = true;
      ::close(fd_);  // reopen on the next batch (the file may have been replaced)
      fd_ = -1;
    }
    for (auto& result : results) result = switchyard::sdk::Result::retry(error);
  }

  // Makes the lines durable: fsync for a regular file. A character device (/dev/null,
  // /dev/stdout on a terminal), a pipe or FIFO, or a socket has nothing to sync, and fsync on it
  // fails with EINVAL (or EROFS): that is success here.
  void flush() override {
    if (fd_ < 0 || !sync_) return;
    if (::fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) {
      throw std::runtime_error(path_ + ": fsync failed: " + errno_text(errno));
    }
  }

 private:
  // A valid JSON text can hold a raw CR or LF only as insignificant whitespace (inside strings
  // they are escaped), so a multi-line envelope is kept on one line by turning them into spaces.
  static void append_line(std::string& buffer, std::string_view message) {
    if (message.find_first_of("\r\n") == std::string_view::npos) {
      buffer.append(message);
    } else {
      for (char c : message) buffer += (c == '\n' || c == '\r') ? ' ' : c;
    }
    buffer += '\n';
  }

  bool open(std::string* error) {
    if (fd_ >= 0) return true;
    // O_NONBLOCK: opening a FIFO that has no reader fails (ENXIO, retried) instead of hanging
    // the worker; it is cleared again so that writes to a full pipe wait.
    fd_ = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd_ < 0) {
      *error = path_ + ": cannot open: " + errno_text(errno);
      return false;
    }
    struct stat st;
    const int flags = ::fcntl(fd_, F_GETFL);
    if (::fstat(fd_, &st) != 0 || flags < 0 || ::fcntl(fd_, F_SETFL, flags & ~O_NONBLOCK) != 0) {
      *error = path_ + ": cannot open: " + errno_text(errno);
      ::close(fd_);
      fd_ = -1;
      return false;
    }
    sync_ = S_ISREG(st.st_mode);
    return true;
  }

  bool write_all(const std::string& buffer, size_t* written, std::string* error) {
    while (*written < buffer.size()) {
      ssize_t n = ::write(fd_, buffer.data() + *written, buffer.size() - *written);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = path_ + ": write failed: " + errno_text(n < 0 ? errno : EIO);
        return false;
      }
      *written += static_cast<size_t>(n);
    }
    return true;
  }

  std::string path_;
  int fd_ = -1;
  bool torn_ = false;  // the file may end with a partial line
  bool sync_ = true;   // a regular file: flush() fsyncs it
};

}  // namespace

SWITCHYARD_PLUGIN(JsonlSink, "jsonl_sink", SWITCHYARD_VERSION_STRING, "path")
