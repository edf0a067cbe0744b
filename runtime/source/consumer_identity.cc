// consumer_identity.cc: picks and locks this process's consumer name.
#include "source/consumer_identity.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "util/runtime_dir.h"

namespace switchyard {
namespace {

std::string hostname() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) return "localhost";
  return host;
}

// This boot of this host (Linux boot_id), "" when unknown.
const std::string& boot_id() {
  static const std::string id = [] {
    std::ifstream in("/proc/sys/kernel/random/boot_id");
    std::string line;
    std::getline(in, line);
    return line;
  }();
  return id;
}

}  // namespace

bool ConsumerIdentity::run_token_is_dead(const std::string& token) {
  const size_t slash = token.find('/');
  if (boot_id().empty() || slash == std::string::npos || token.substr(0, slash) != boot_id())
    return false;
  const long long pid = std::atoll(token.c_str() + slash + 1);
  if (pid <= 0) return false;
  return kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH;
}

Status ConsumerIdentity::acquire(const std::string& scope, const std::string& explicit_name,
                                 std::unique_ptr<ConsumerIdentity>* out) {
  std::unique_ptr<ConsumerIdentity> id(new ConsumerIdentity());
  char hash[17];
  snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(fnv1a(scope)));
  std::string dir;
  Status dir_status = runtime_dir(&dir);
  if (!dir_status) return dir_status;
  const std::string host = hostname();
  for (int slot = 0; slot < 1024; ++slot) {
    std::string name = explicit_name.empty() ? host + ":" + std::to_string(slot) : explicit_name;
    std::string path =
        dir + "/switchyard-" + hash + "-" + std::to_string(fnv1a(name) % 100000000) + ".lock";
    int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      return Status::error("cannot create lock file " + path + ": " + strerror(errno) +
                           " (set RUNTIME_DIRECTORY to a writable directory)");
    }
    if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
      id->fd_ = fd;
      id->name_ = name;
      auto now = std::chrono::system_clock::now().time_since_epoch();
      id->token_ =
          (boot_id().empty() ? std::string("?") : boot_id()) + "/" + std::to_string(getpid()) +
          "/" + std::to_string(std::chrono::duration_cast<std::chrono::microseconds>(now).count());
      *out = std::move(id);
      return Status::ok();
    }
    close(fd);
    if (!explicit_name.empty()) {
      return Status::error("instance name \"" + explicit_name +
                           "\" is already used by another running switchyard on this host "
                           "(lock " +
                           path + "); give each process its own --instance");
    }
  }
  return Status::error("no free consumer slot in " + dir + " (1024 switchyard processes?)");
}

ConsumerIdentity::~ConsumerIdentity() {
  if (fd_ >= 0) close(fd_);
}

}  // namespace switchyard
