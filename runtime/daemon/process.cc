// process.cc: the control loop of `switchyard run` (signals, reload, watcher, systemd notify) and
// the signal behind `switchyard reload`.
#include "daemon/process.h"

#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "console/console_server.h"
#include "daemon/config_watcher.h"
#include "daemon/daemon.h"
#include "daemon/pid_file.h"
#include "log/logging.h"
#include "ops/http_endpoint.h"
#include "switchyard/plugin.h"

namespace switchyard {
namespace {

sigset_t served_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  return signals;
}

// Re-reads routes.yaml and swaps in a new pipeline; on any error the old one keeps running.
void reload(const ConfigLoader& load_again, Daemon* daemon) {
  sd_notify(0, "RELOADING=1");
  std::shared_ptr<const Pipeline> current = daemon->pipeline();
  ProcessConfig loaded;
  Status s = load_again(&loaded);
  if (!s) {
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
    spdlog::warn(
        "reload: {}: not applied, the running process keeps the old value; restart "
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

}  // namespace

void block_served_signals() {
  sigset_t signals = served_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int run_process(ProcessConfig loaded, const ConfigLoader& load_again,
                const ProcessOptions& options) {
  const sigset_t signals = served_signals();
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
  auto current_config = [&daemon]() -> std::shared_ptr<const Config> {
    std::shared_ptr<const Pipeline> pipeline = daemon.pipeline();
    return pipeline ? pipeline->config : nullptr;
  };
  // The web console, on the same listener (it outlives the endpoint, which calls it).
  std::unique_ptr<ConsoleServer> console;
  if (loaded.config->ui.enabled) {
    ConsoleOptions console_options;
    console_options.write = loaded.config->ui.write;
    std::string error;
    if (console_options.write &&
        !read_console_token(loaded.config->ui, &console_options.token, &error)) {
      spdlog::error("{}", error);
      daemon.stop();
      return 2;
    }
    console = std::make_unique<ConsoleServer>(loaded.endpoint, current_config,
                                              std::move(console_options));
  }
  std::unique_ptr<HttpEndpoint> http;
  if (!loaded.config->metrics.listen.empty()) {
    http = std::make_unique<HttpEndpoint>(loaded.config->metrics.listen, &daemon.metrics(),
                                          loaded.endpoint, current_config);
    http->set_health_check([&daemon] { return daemon.watchdog().unhealthy_reason(); });
    if (console)
      http->add_routes({[&console](httplib::Server& server) { console->install(server); },
                        &ConsoleServer::is_write_path, ConsoleServer::kMaxBody});
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
  bool healthy = true;
  while (true) {
    if (!ready && daemon.health().ever_up()) {
      sd_notify(0, "READY=1");
      ready = true;
    }
    // A handler call past its handler_timeout: systemd's watchdog is no longer fed, so systemd
    // restarts the wedged process (its messages stay in flight for the next run).
    const bool was_healthy = healthy;
    healthy = daemon.watchdog().check(HandlerWatchdog::now_ms());
    if (healthy != was_healthy) {
      sd_notifyf(0, "STATUS=%s",
                 healthy ? "" : ("stuck: " + daemon.watchdog().unhealthy_reason()).c_str());
    }
    if (watchdog && healthy && std::chrono::steady_clock::now() >= next_watchdog) {
      sd_notify(0, "WATCHDOG=1");
      next_watchdog =
          std::chrono::steady_clock::now() + std::chrono::microseconds(watchdog_usec / 2);
    }
    std::chrono::milliseconds tick{100};
    if (watcher) tick = watcher->next_check(tick);
    timespec wait = {0, static_cast<long>(tick.count()) * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", loaded.config->path);
      reload(load_again, &daemon);
    } else if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: finishing the messages in hand, then exiting", strsignal(sig));
      break;
    }
    std::string changed;
    if (watcher && watcher->due(&changed)) {
      spdlog::info("--watch: {} changed: reloading {}", changed, loaded.config->path);
      reload(load_again, &daemon);
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

Status signal_reload(const std::string& config_path, const std::string& pid_file_option,
                     long* pid) {
  std::string pid_file = pid_file_option;
  Status s = pid_file.empty() ? default_pid_file(config_path, &pid_file) : Status::ok();
  if (s) s = read_daemon_pid(pid_file, config_path, pid);
  if (!s) return s;
  if (kill(static_cast<pid_t>(*pid), SIGHUP) != 0) {
    return Status::error("cannot signal pid " + std::to_string(*pid) + " from " + pid_file + ": " +
                         strerror(errno));
  }
  return Status::ok();
}

}  // namespace switchyard
