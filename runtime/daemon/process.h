// process.h: `switchyard run` as a process: starts the daemon (daemon.h) and the HTTP endpoint,
// writes the pid file, then serves signals (SIGTERM/SIGINT stop, SIGHUP reloads), the --watch
// watcher and systemd's notify protocol (READY, RELOADING, STOPPING, WATCHDOG) until told to
// stop; and `switchyard reload`, which signals such a process.
#ifndef SWITCHYARD_DAEMON_PROCESS_H_
#define SWITCHYARD_DAEMON_PROCESS_H_

#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "redis/redis_url.h"
#include "util/status.h"

namespace switchyard {

// What the process runs with: the loaded routes.yaml, the Redis endpoint (password resolved)
// and the plugins directory, as the command line resolved them.
struct ProcessConfig {
  std::shared_ptr<const Config> config;
  RedisEndpoint endpoint;
  std::string plugins_dir;
};

// Loads the config again for a reload, resolved as at start. Errors name file:line:col (or the
// setting) and say what to do; the process then keeps its previous routing table.
using ConfigLoader = std::function<Status(ProcessConfig*)>;

struct ProcessOptions {
  std::string instance;  // consumer name; empty = hostname:slot
  std::string pid_file;  // empty = default_pid_file(config) (pid_file.h)
  bool watch = false;    // reload when routes.yaml or a .so in the plugins dir changes
};

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (threads started later inherit it),
// so that run_process takes them with sigtimedwait, and ignores SIGPIPE. Call before anything
// else in `run`: a signal that arrives during start-up is then served, not fatal.
// Thread safety: call from the main thread before starting threads.
void block_served_signals();

// Runs the daemon for `first` until SIGTERM or SIGINT; SIGHUP (and, with options.watch, a
// changed file) reloads through load_again. Returns the exit code: 0 after a clean stop, 2 when
// it cannot start (the error is logged); exits with 1 when workers are still inside handlers
// after the shutdown timeout. Thread safety: call once, from the main thread, after
// block_served_signals().
int run_process(ProcessConfig first, const ConfigLoader& load_again, const ProcessOptions& options);

// Sends SIGHUP to the `switchyard run` for config_path, found through pid_file (empty: the
// default pid file), after read_daemon_pid's checks. *pid receives the pid signalled. Errors
// name the pid file and say what to do.
Status signal_reload(const std::string& config_path, const std::string& pid_file, long* pid);

}  // namespace switchyard

#endif  // SWITCHYARD_DAEMON_PROCESS_H_
