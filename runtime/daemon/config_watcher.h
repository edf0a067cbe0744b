// config_watcher.h: `switchyard run --watch`: inotify on routes.yaml and the plugins directory,
// telling the control loop when a reload is due.
#ifndef SWITCHYARD_DAEMON_CONFIG_WATCHER_H_
#define SWITCHYARD_DAEMON_CONFIG_WATCHER_H_

#include <chrono>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "util/status.h"

namespace switchyard {

// Watches the directory of routes.yaml (events for that one name: editors and config tools
// replace the file by rename) and the plugins directory (events for *.so names). A reload is due
// once no such event has arrived for kQuiet and no file created since is still open for writing:
// a `cp` of a .so in several chunks (IN_CREATE ... IN_CLOSE_WRITE) causes one reload, after its
// close. A file created but never closed (a hard link) holds it for kHold.
// Ownership: owns its inotify descriptor. Errors: start() names the directory that cannot be
// watched; a watched directory that goes away is logged once and no longer watched.
// Thread safety: use from one thread (the control loop's).
class ConfigWatcher {
 public:
  static constexpr std::chrono::milliseconds kQuiet{200};
  static constexpr std::chrono::milliseconds kHold{5000};

  ConfigWatcher() = default;
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Starts watching both directories; the error names the one that cannot be watched.
  Status start(const std::string& config_path, const std::string& plugins_dir);

  // Reads the pending events without blocking. True, once per burst of changes, when a reload is
  // due; *what then names the changed files.
  bool due(std::string* what);

  // How long the caller may wait before calling due() again: `cap`, or less when a reload may
  // become due sooner.
  std::chrono::milliseconds next_check(std::chrono::milliseconds cap) const;

 private:
  struct Watch {
    std::string dir;
    bool config = false;   // routes.yaml lives here
    bool plugins = false;  // the plugins directory
  };

  Status add(const std::string& dir, bool config);
  bool relevant(const Watch& watch, std::string_view name) const;
  void read_events();
  void note(const std::string& path);

  int fd_ = -1;
  std::map<int, Watch> watches_;
  std::string config_name_;
  std::set<std::string> changed_;  // since the last reload
  std::set<std::string> writing_;  // created, not closed yet
  std::chrono::steady_clock::time_point last_event_{};
};

}  // namespace switchyard

#endif  // SWITCHYARD_DAEMON_CONFIG_WATCHER_H_
