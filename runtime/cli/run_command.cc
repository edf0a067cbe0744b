// run_command.cc: `switchyard run` and `switchyard reload`: the options, handed to the process
// (daemon/process.h), which starts the daemon and serves signals, or signals it.
#include <iostream>

#include "cli/commands.h"
#include "daemon/process.h"

namespace switchyard {
namespace {

// The config and endpoint that load_common resolved, as the process takes them.
ProcessConfig process_config(Loaded loaded) {
  ProcessConfig config;
  config.config = std::move(loaded.config);
  config.endpoint = std::move(loaded.endpoint);
  config.plugins_dir = std::move(loaded.plugins_dir);
  return config;
}

}  // namespace

int run_command(const CommonOptions& common, const RunOptions& options) {
  block_served_signals();
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  // A reload resolves routes.yaml, the Redis endpoint and the plugins dir as at start.
  ConfigLoader load_again = [&common](ProcessConfig* next) {
    Loaded reloaded;
    Status s;
    if (load_common(common, &reloaded, &s) != 0) return s;
    *next = process_config(std::move(reloaded));
    return Status::ok();
  };
  ProcessOptions process_options;
  process_options.instance = options.instance;
  process_options.pid_file = options.pid_file;
  process_options.watch = options.watch;
  return run_process(process_config(std::move(loaded)), load_again, process_options);
}

int reload_command(const CommonOptions& common, const std::string& pid_file) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  long pid = 0;
  Status s = signal_reload(loaded.config->path, pid_file, &pid);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  std::cout << "sent SIGHUP to switchyard pid " << pid << "; it logs the reload's result\n";
  return 0;
}

}  // namespace switchyard
