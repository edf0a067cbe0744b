// run_command.cc: `switchyard run` (start the daemon, then serve signals, and with --watch file
// changes, until told to stop) and `switchyard reload` (signal a running daemon through its pid
// file).
#include <fcntl.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "daemon/daemon.h"
#include "log/logging.h"
#include "ops/http_endpoint.h"
#include "switchyard/plugin.h"
#include "util/runtime_dir.h"

namespace switchyard {
namespace {

// Re-reads routes.yaml and swaps in a new pipeline; on any error the old one keeps running.
void reload(const CommonOptions& common, Daemon* daemon) {
  sd_notify(0, "RELOADING=1");
  std::shared_ptr<const Pipeline> current = daemon->pipeline();
  Loaded loaded;
  Status s;
  if (load_common(common, &loaded, &s) != 0) {
    spdlog::error("reload failed: {}; still running the previous routing table", s.message());
    daemon->metrics().add_reload("failure");
    sd_notify(0, "READY=1");
    return;
  }
  std::shared_ptr<const Pipeline> next;
  s = build_pipeline(loaded.config, loaded.plugins_dir, current.get(), &next);
  if (!s) {
    spdlog::error("reload failed: {}; still running the previous routing table", s.message());
    daemon->metrics().add_reload("failure");
    sd_notify(0, "READY=1");
    return;
  }
  const std::vector<std::string> pending = daemon->changes_needing_restart(*loaded.config);
  for (const std::string& change : pending) {
    spdlog::warn("reload: {}: not applied, the running process keeps the old value; restart "
                 "switchyard to apply it",
                 change);
  }
  daemon->set_pipeline(next);
  daemon->metrics().add_reload(pending.empty() ? "success" : "partial");
  spdlog::info("reloaded {}{}: {} handler(s), {} route(s)", loaded.config->path,
               pending.empty() ? ""
                               : " partially (" + std::to_string(pending.size()) +
                                     " setting(s) need a restart)",
               loaded.config->handlers.size(), loaded.config->routes.size());
  sd_notify(0, "READY=1");
}

// --watch: inotify on the directory of routes.yaml (events for that one name: editors and config
// tools replace the file by rename) and on the plugins directory (events for *.so names). A
// reload is due once no such event has arrived for kQuiet and no file created since is still
// open for writing: a `cp` of a .so in several chunks (IN_CREATE ... IN_CLOSE_WRITE) causes one
// reload, after its close. A file created but never closed (a hard link) holds it for kHold.
// Thread safety: used by the signal loop's thread only.
class ConfigWatcher {
 public:
  static constexpr std::chrono::milliseconds kQuiet{200};
  static constexpr std::chrono::milliseconds kHold{5000};

  ConfigWatcher() = default;
  ~ConfigWatcher() {
    if (fd_ >= 0) close(fd_);
  }
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Starts watching both directories; the error names the one that cannot be watched.
  Status start(const std::string& config_path, const std::string& plugins_dir) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return Status::error(std::string("--watch: inotify: ") + strerror(errno));
    std::filesystem::path config(config_path);
    config_name_ = config.filename().string();
    std::string config_dir = config.has_parent_path() ? config.parent_path().string() : ".";
    Status s = add(config_dir, /*config=*/true);
    return s ? add(plugins_dir, /*config=*/false) : s;
  }

  // Reads the pending events without blocking. True, once per burst of changes, when a reload is
  // due; *what then names the changed files.
  bool due(std::string* what) {
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

  // How long the caller may wait before calling due() again: `cap`, or less when a reload may
  // become due sooner.
  std::chrono::milliseconds next_check(std::chrono::milliseconds cap) const {
    if (changed_.empty()) return cap;
    auto deadline = last_event_ + (writing_.empty() ? kQuiet : kHold);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    return std::clamp(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1), cap);
  }

 private:
  struct Watch {
    std::string dir;
    bool config = false;   // routes.yaml lives here
    bool plugins = false;  // the plugins directory
  };

  Status add(const std::string& dir, bool config) {
    constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                               IN_DELETE | IN_ONLYDIR;
    // The same directory twice (routes.yaml among the plugins) gives the same descriptor.
    int wd = inotify_add_watch(fd_, dir.c_str(), kMask);
    if (wd < 0) return Status::error("--watch: cannot watch " + dir + ": " + strerror(errno));
    Watch& watch = watches_[wd];
    watch.dir = dir;
    (config ? watch.config : watch.plugins) = true;
    return Status::ok();
  }

  bool relevant(const Watch& watch, std::string_view name) const {
    return (watch.config && name == config_name_) ||
           (watch.plugins && name.size() > 3 && name.substr(name.size() - 3) == ".so");
  }

  void read_events() {
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
          spdlog::warn("--watch: {} is no longer watched (removed or unmounted); restart to "
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

  void note(const std::string& path) {
    changed_.insert(path);
    last_event_ = std::chrono::steady_clock::now();
  }

  int fd_ = -1;
  std::map<int, Watch> watches_;
  std::string config_name_;
  std::set<std::string> changed_;  // since the last reload
  std::set<std::string> writing_;  // created, not closed yet
  std::chrono::steady_clock::time_point last_event_{};
};

}  // namespace

std::string absolute_config_path(const std::string& config_path) {
  std::error_code ec;
  return std::filesystem::absolute(config_path, ec).lexically_normal().string();
}

Status default_pid_file(const std::string& config_path, std::string* pid_file) {
  std::string dir;
  Status s = runtime_dir(&dir);
  if (!s) return s;
  char hash[17];
  snprintf(hash, sizeof(hash), "%016llx",
           static_cast<unsigned long long>(fnv1a(absolute_config_path(config_path))));
  *pid_file = dir + "/switchyard-" + hash + ".pid";
  return Status::ok();
}

namespace {

// Writes "PID\nCONFIG\n" (CONFIG: the absolute config path), never through a symlink.
Status write_pid_file(const std::string& path, const std::string& config_path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot write pid file " + path + ": " + strerror(errno));
  const std::string text = std::to_string(getpid()) + "\n" + absolute_config_path(config_path) + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  close(fd);
  if (!ok) return Status::error("cannot write pid file " + path + ": " + strerror(err));
  return Status::ok();
}

// The NUL-separated arguments of /proc/PID/cmdline ("" for an argument that is missing).
std::vector<std::string> process_arguments(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::vector<std::string> args;
  std::string arg;
  while (std::getline(in, arg, '\0')) args.push_back(arg);
  return args;
}

std::string exe_of(const std::string& proc_entry) {
  char buffer[4096];
  ssize_t n = readlink(proc_entry.c_str(), buffer, sizeof(buffer) - 1);
  if (n <= 0) return "";
  std::string exe(buffer, static_cast<size_t>(n));
  const std::string deleted = " (deleted)";  // the binary was replaced by an upgrade
  if (exe.size() > deleted.size() && exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
    exe.resize(exe.size() - deleted.size());
  return exe;
}

// Reads the pid that `run` wrote for config_path and checks, before anyone signals it, that the
// file is trustworthy (a regular file, not a symlink, owned by root or this user, writable by
// nobody else), names this config, and that the process is a `switchyard run` of the same
// binary. The error says what is wrong and what to do.
Status read_daemon_pid(const std::string& pid_file, const std::string& config_path, long* pid) {
  int fd = open(pid_file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Status::error("no running instance for " + config_path + " (pid file " + pid_file +
                         ": " + strerror(errno) + "); under systemd use: systemctl reload switchyard");
  }
  struct stat st;
  const bool stat_ok = fstat(fd, &st) == 0;
  std::string text(256, '\0');
  const ssize_t n = stat_ok ? read(fd, text.data(), text.size()) : -1;
  close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    return Status::error("pid file " + pid_file + " is not a regular file owned by root or this "
                         "user and writable by nobody else; refusing to signal the pid in it "
                         "(remove the file and restart switchyard)");
  }
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  const size_t newline = text.find('\n');
  const std::string first = text.substr(0, newline);
  std::string named = newline == std::string::npos ? "" : text.substr(newline + 1);
  if (!named.empty() && named.back() == '\n') named.pop_back();
  char* end = nullptr;
  *pid = std::strtol(first.c_str(), &end, 10);
  if (first.empty() || *end != '\0' || *pid <= 1) {
    return Status::error("no running instance for " + config_path + " (pid file " + pid_file +
                         " is empty or holds no pid); under systemd use: systemctl reload "
                         "switchyard");
  }
  const std::string config = absolute_config_path(config_path);
  if (named != config) {
    return Status::error("pid file " + pid_file + " names config \"" + named + "\", not " + config +
                         "; refusing to signal pid " + std::to_string(*pid) +
                         " (pass the daemon's --pid-file, or remove the stale file)");
  }
  const std::vector<std::string> args = process_arguments(*pid);
  const bool is_run = args.size() >= 2 && std::find(args.begin() + 1, args.end(), "run") != args.end();
  const std::string self = exe_of("/proc/self/exe");
  const std::string other = exe_of("/proc/" + std::to_string(*pid) + "/exe");
  // A daemon that turned core dumps off hides its exe from other non-root users: then the
  // command line alone is checked.
  const bool same_binary =
      other.empty() ? (!args.empty() && std::filesystem::path(args[0]).filename() ==
                                            std::filesystem::path(self).filename())
                    : other == self;
  if (!is_run || !same_binary) {
    return Status::error("pid " + std::to_string(*pid) + " from " + pid_file +
                         " is not a running `switchyard run` (the daemon exited and the pid was "
                         "reused, or the file is stale); refusing to signal it. Remove " +
                         pid_file + " and start switchyard");
  }
  return Status::ok();
}

}  // namespace

int run_command(const CommonOptions& common, const RunOptions& options) {
  // Block the signals we serve in every thread; this thread takes them with sigtimedwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  setup_logging(loaded.config->logging.level, loaded.config->logging.format);
  spdlog::info("switchyard {} (plugin ABI {}) starting with {}", SWITCHYARD_VERSION_STRING,
               SWITCHYARD_ABI_VERSION, loaded.config->path);

  std::shared_ptr<const Pipeline> pipeline;
  Status s = build_pipeline(loaded.config, loaded.plugins_dir, nullptr, &pipeline);
  if (!s) {
    spdlog::error("{}", s.message());
    return 2;
  }
  std::unique_ptr<ConfigWatcher> watcher;
  if (options.watch) {
    watcher = std::make_unique<ConfigWatcher>();
    s = watcher->start(loaded.config->path, loaded.plugins_dir);
    if (!s) {
      spdlog::error("{}", s.message());
      return 2;
    }
    spdlog::info("--watch: reloading when {} or a .so in {} changes", loaded.config->path,
                 loaded.plugins_dir);
  }
  DaemonOptions daemon_options;
  daemon_options.endpoint = loaded.endpoint;
  daemon_options.plugins_dir = loaded.plugins_dir;
  daemon_options.instance_name = options.instance;
  // Moved, not copied: the daemon alone holds the first generation, so a reload can destroy its
  // handler instances (and unload their plugins) once no batch uses them.
  Daemon daemon(daemon_options, std::move(pipeline));
  s = daemon.start();
  if (!s) {
    spdlog::error("{}", s.message());
    return 2;
  }
  std::unique_ptr<HttpEndpoint> http;
  if (!loaded.config->metrics.listen.empty()) {
    http = std::make_unique<HttpEndpoint>(
        loaded.config->metrics.listen, &daemon.metrics(), loaded.endpoint,
        [&daemon]() -> std::shared_ptr<const Config> {
          std::shared_ptr<const Pipeline> pipeline = daemon.pipeline();
          return pipeline ? pipeline->config : nullptr;
        });
    s = http->start();
    if (!s) {
      spdlog::error("{}", s.message());
      daemon.stop();
      return 2;
    }
  }
  std::string pid_file = options.pid_file;
  s = pid_file.empty() ? default_pid_file(loaded.config->path, &pid_file) : Status::ok();
  if (s) s = write_pid_file(pid_file, loaded.config->path);
  if (!s) spdlog::warn("{}; `switchyard reload` will not find this process", s.message());

  uint64_t watchdog_usec = 0;
  bool watchdog = sd_watchdog_enabled(0, &watchdog_usec) > 0;
  auto next_watchdog = std::chrono::steady_clock::now();
  bool ready = false;
  while (true) {
    if (!ready && daemon.health().ever_up()) {
      sd_notify(0, "READY=1");
      ready = true;
    }
    if (watchdog && std::chrono::steady_clock::now() >= next_watchdog) {
      sd_notify(0, "WATCHDOG=1");
      next_watchdog = std::chrono::steady_clock::now() + std::chrono::microseconds(watchdog_usec / 2);
    }
    std::chrono::milliseconds tick{100};
    if (watcher) tick = watcher->next_check(tick);
    timespec wait = {0, static_cast<long>(tick.count()) * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", loaded.config->path);
      reload(common, &daemon);
    } else if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: finishing the messages in hand, then exiting", strsignal(sig));
      break;
    }
    std::string changed;
    if (watcher && watcher->due(&changed)) {
      spdlog::info("--watch: {} changed: reloading {}", changed, loaded.config->path);
      reload(common, &daemon);
    }
  }
  sd_notify(0, "STOPPING=1");
  // Drain first: a client holding an HTTP connection open must not delay the messages in hand.
  bool clean = daemon.stop();
  if (http) http->stop();
  std::error_code ec;
  std::filesystem::remove(pid_file, ec);
  if (!clean) {
    spdlog::default_logger()->flush();
    std::_Exit(1);  // workers still inside handlers; their messages stay in flight
  }
  spdlog::info("stopped cleanly");
  return 0;
}

int reload_command(const CommonOptions& common, const std::string& pid_file_option) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  std::string pid_file = pid_file_option;
  Status s = pid_file.empty() ? default_pid_file(loaded.config->path, &pid_file) : Status::ok();
  long pid = 0;
  if (s) s = read_daemon_pid(pid_file, loaded.config->path, &pid);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  if (kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::cerr << "switchyard: cannot signal pid " << pid << " from " << pid_file << ": "
              << strerror(errno) << "\n";
    return 1;
  }
  std::cout << "sent SIGHUP to switchyard pid " << pid << "; it logs the reload's result\n";
  return 0;
}

}  // namespace switchyard
