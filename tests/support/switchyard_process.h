// switchyard_process.h: runs the real switchyard binary (SWITCHYARD_BINARY): the daemon or one
// command. GTest layer: a timeout is a gtest failure at the caller's line.
#ifndef SWITCHYARD_TESTS_SUPPORT_SWITCHYARD_PROCESS_H_
#define SWITCHYARD_TESTS_SUPPORT_SWITCHYARD_PROCESS_H_

#include <chrono>
#include <csignal>
#include <map>
#include <optional>
#include <source_location>
#include <string>
#include <vector>

#include "support/child_process.h"

namespace switchyard::test {

// A running `switchyard run -c CONFIG [extra_args...]`, stdout+stderr appended to a log file.
// The child never inherits $SWITCHYARD_CONFIG or $SWITCHYARD_REDIS_URL from the developer's
// environment (pass them in `env` to test them).
// Ownership: move-only; the destructor (and move-assignment over a running one) SIGKILLs and
// reaps the daemon. It also dies with the test process (PR_SET_PDEATHSIG).
// Thread safety: not thread-safe; drive it from the test's main thread (see ChildProcess).
// Errors: run() throws std::runtime_error if the binary cannot be started (e.g. not built).
class SwitchyardProcess {
 public:
  // Not running.
  SwitchyardProcess() = default;

  // Launches [command_prefix...] SWITCHYARD_BINARY run -c config_path extra_args..., output
  // appended to log_path. command_prefix must exec the binary (e.g. HostNetwork::exec_prefix, to
  // run it in a network namespace), so that pid() and signals reach the daemon itself.
  // Returns at once: wait for readiness with wait_until() on its observable effects.
  static SwitchyardProcess run(const std::string& config_path, const std::string& log_path,
                               const std::vector<std::string>& extra_args = {},
                               const std::map<std::string, std::string>& env = {},
                               const std::vector<std::string>& command_prefix = {});

  // Runs SWITCHYARD_BINARY args... to completion (check, publish, dlq, stats, version...), with
  // stdout and stderr captured separately. stdin_data, when not empty, is its stdin (for
  // `publish --file -`). On timeout the process is killed, result.timed_out is set and a non-fatal
  // failure is added at the caller's location. Throws std::runtime_error if it cannot start.
  static CommandResult exec(const std::vector<std::string>& args,
                            std::chrono::milliseconds timeout = std::chrono::seconds(30),
                            const std::map<std::string, std::string>& env = {},
                            const std::string& stdin_data = "",
                            std::source_location where = std::source_location::current());

  // Path of the daemon binary under test.
  static std::string binary();

  // Graceful stop: SIGTERM, then waits up to `timeout` for exit. Returns the exit status; on
  // timeout adds a failure (with the log tail) at the caller's location, SIGKILLs, and returns
  // nullopt. Returns the stored status if it had already exited, nullopt if never started.
  std::optional<int> stop(std::chrono::milliseconds timeout = std::chrono::seconds(20),
                          std::source_location where = std::source_location::current());
  // SIGKILL and reap (a crash). Returns the status (137), nullopt if never started.
  std::optional<int> kill9() { return process_.kill9(); }
  // SIGHUP: reload routes.yaml. False if not running.
  bool reload() { return signal(SIGHUP); }
  // Any signal; false if not running. SIGTERM, SIGINT and SIGHUP (which `run` serves itself) are
  // sent only once the daemon has blocked them (a thread's /proc status lists them in SigBlk),
  // waiting at most 10 s: sent earlier, between exec and main(), they would kill it with their
  // default action instead of being served. stop() and reload() go through here.
  bool signal(int sig);
  // See ChildProcess::wait_exit (exit code, 128+signal, nullopt on timeout).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout) {
    return process_.wait_exit(timeout);
  }
  bool is_running() { return process_.is_running(); }
  pid_t pid() const { return process_.pid(); }

  // The whole log file (stdout+stderr of every run appended), "" if none yet.
  std::string log() const;
  // The last `lines` lines of the log.
  std::string log_tail(std::size_t lines = 60) const;
  const std::string& log_path() const { return log_path_; }
  // The underlying process.
  ChildProcess& process() { return process_; }

 private:
  std::string log_path_;
  ChildProcess process_;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_SWITCHYARD_PROCESS_H_
