// run_command.cc: `switchyard run` (start the daemon, then serve signals until told to stop) and
// `switchyard reload` (signal a running daemon through its pid file).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "dispatch/daemon.h"
#include "ops/http_endpoint.h"
#include "ops/logging.h"
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
  if (loaded.config->sources.size() != current->config->sources.size()) {
    spdlog::warn("reload: changes to sources: take effect only after a restart");
  }
  daemon->set_pipeline(next);
  daemon->metrics().add_reload("success");
  spdlog::info("reloaded {}: {} handler(s), {} route(s)", loaded.config->path,
               loaded.config->handlers.size(), loaded.config->routes.size());
  sd_notify(0, "READY=1");
}

}  // namespace

std::string default_pid_file(const std::string& config_path) {
  std::string dir = runtime_dir();
  std::error_code ec;
  std::string absolute = std::filesystem::absolute(config_path, ec).lexically_normal().string();
  char hash[17];
  snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(fnv1a(absolute)));
  return dir + "/switchyard-" + hash + ".pid";
}

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
    http = std::make_unique<HttpEndpoint>(loaded.config->metrics.listen, &daemon.metrics(),
                                          loaded.endpoint, [&daemon] { return daemon.pipeline(); });
    s = http->start();
    if (!s) {
      spdlog::error("{}", s.message());
      daemon.stop();
      return 2;
    }
  }
  std::string pid_file =
      options.pid_file.empty() ? default_pid_file(loaded.config->path) : options.pid_file;
  {
    std::ofstream out(pid_file, std::ios::trunc);
    out << getpid() << "\n";
    if (!out) spdlog::warn("cannot write pid file {}; `switchyard reload` will not find this process", pid_file);
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
  if (http) http->stop();
  bool clean = daemon.stop();
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
  std::string pid_file =
      pid_file_option.empty() ? default_pid_file(loaded.config->path) : pid_file_option;
  std::ifstream in(pid_file);
  long pid = 0;
  if (!(in >> pid) || pid <= 1) {
    std::cerr << "switchyard: no running instance for " << loaded.config->path << " (pid file "
              << pid_file << " missing or empty); under systemd use: systemctl reload switchyard\n";
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
