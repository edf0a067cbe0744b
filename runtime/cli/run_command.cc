// run_command.cc: `switchyard run`: start the daemon, then serve signals until told to stop.
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdlib>
#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "dispatch/daemon.h"
#include "switchyard/plugin.h"

namespace switchyard {
namespace {

// Re-reads routes.yaml and swaps in a new pipeline; on any error the old one keeps running.
void reload(const CommonOptions& common, Daemon* daemon) {
  sd_notify(0, "RELOADING=1");
  std::shared_ptr<const Pipeline> current = daemon->pipeline();
  Loaded loaded;
  if (load_common(common, &loaded) != 0) {
    spdlog::error("reload failed: the configuration above is invalid; still running the previous "
                  "routing table");
    sd_notify(0, "READY=1");
    return;
  }
  std::shared_ptr<const Pipeline> next;
  Status s = build_pipeline(loaded.config, loaded.plugins_dir, current.get(), &next);
  if (!s) {
    spdlog::error("reload failed: {}; still running the previous routing table", s.message());
    sd_notify(0, "READY=1");
    return;
  }
  if (loaded.config->sources.size() != current->config->sources.size()) {
    spdlog::warn("reload: changes to sources: take effect only after a restart");
  }
  daemon->set_pipeline(next);
  spdlog::info("reloaded {}: {} handler(s), {} route(s)", loaded.config->path,
               loaded.config->handlers.size(), loaded.config->routes.size());
  sd_notify(0, "READY=1");
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
  DaemonOptions daemon_options;
  daemon_options.endpoint = loaded.endpoint;
  daemon_options.plugins_dir = loaded.plugins_dir;
  daemon_options.instance_name = options.instance;
  Daemon daemon(daemon_options, pipeline);
  s = daemon.start();
  if (!s) {
    spdlog::error("{}", s.message());
    return 2;
  }

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
    timespec wait = {0, 100 * 1000 * 1000};
    int sig = sigtimedwait(&signals, nullptr, &wait);
    if (sig == SIGHUP) {
      spdlog::info("SIGHUP: reloading {}", loaded.config->path);
      reload(common, &daemon);
    } else if (sig == SIGTERM || sig == SIGINT) {
      spdlog::info("{}: finishing the messages in hand, then exiting", strsignal(sig));
      break;
    }
  }
  sd_notify(0, "STOPPING=1");
  if (!daemon.stop()) {
    spdlog::default_logger()->flush();
    std::_Exit(1);  // workers still inside handlers; their messages stay in flight
  }
  spdlog::info("stopped cleanly");
  return 0;
}

}  // namespace switchyard
