// config_watcher.cc: the inotify watcher behind `switchyard run --watch`.
#include "daemon/config_watcher.h"

#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace switchyard {

ConfigWatcher::~ConfigWatcher() {
  if (fd_ >= 0) close(fd_);
}

Status ConfigWatcher::start(const std::string& config_path, const std::string& plugins_dir) {
  fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd_ < 0) return Status::error(std::string("--watch: inotify: ") + strerror(errno));
  std::filesystem::path config(config_path);
  config_name_ = config.filename().string();
  std::string config_dir = config.has_parent_path() ? config.parent_path().string() : ".";
  Status s = add(config_dir, /*config=*/true);
  return s ? add(plugins_dir, /*config=*/false) : s;
}

bool ConfigWatcher::due(std::string* what) {
  read_events();
  if (changed_.empty()) return false;
  const auto quiet = std::chrono::steady_clock::now() - last_event_;
  if (quiet < kQuiet || (!writing_.empty() && quiet < kHold)) return false;
  what->clear();
  size_t n = 0;
  for (const std::string& path : changed_) {
    if (n++ == 3) {
      *what += ", ...";
      break;
    }
    *what += (n > 1 ? ", " : "") + path;
  }
  changed_.clear();
  writing_.clear();
  return true;
}

std::chrono::milliseconds ConfigWatcher::next_check(std::chrono::milliseconds cap) const {
  if (changed_.empty()) return cap;
  auto deadline = last_event_ + (writing_.empty() ? kQuiet : kHold);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1), cap);
}

Status ConfigWatcher::add(const std::string& dir, bool config) {
  constexpr uint32_t kMask =
      IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ONLYDIR;
  // The same directory twice (routes.yaml among the plugins) gives the same descriptor.
  int wd = inotify_add_watch(fd_, dir.c_str(), kMask);
  if (wd < 0) return Status::error("--watch: cannot watch " + dir + ": " + strerror(errno));
  Watch& watch = watches_[wd];
  watch.dir = dir;
  (config ? watch.config : watch.plugins) = true;
  return Status::ok();
}

bool ConfigWatcher::relevant(const Watch& watch, std::string_view name) const {
  return (watch.config && name == config_name_) ||
         (watch.plugins && name.size() > 3 && name.substr(name.size() - 3) == ".so");
}

void ConfigWatcher::read_events() {
  alignas(inotify_event) char buffer[16384];
  while (true) {
    ssize_t n = read(fd_, buffer, sizeof(buffer));
    if (n <= 0) return;  // EAGAIN: none left
    for (char* p = buffer; p < buffer + n;) {
      const auto* event = reinterpret_cast<const inotify_event*>(p);
      p += sizeof(inotify_event) + event->len;
      if (event->mask & IN_Q_OVERFLOW) {
        note("(inotify queue overflow)");
        continue;
      }
      auto it = watches_.find(event->wd);
      if (it == watches_.end()) continue;
      if (event->mask & IN_IGNORED) {
        spdlog::warn(
            "--watch: {} is no longer watched (removed or unmounted); restart to "
            "watch it again",
            it->second.dir);
        watches_.erase(it);
        continue;
      }
      std::string_view name = event->len ? std::string_view(event->name) : std::string_view();
      if (!relevant(it->second, name)) continue;
      std::string path = it->second.dir + "/" + std::string(name);
      note(path);
      struct stat st;
      if ((event->mask & IN_CREATE) && lstat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode))
        writing_.insert(path);
      if (event->mask & (IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM)) writing_.erase(path);
    }
  }
}

void ConfigWatcher::note(const std::string& path) {
  changed_.insert(path);
  last_event_ = std::chrono::steady_clock::now();
}

}  // namespace switchyard
