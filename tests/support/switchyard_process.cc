// switchyard_process.cc: (GTest layer) launches the daemon binary under test and runs its
// one-shot commands.
#include "support/switchyard_process.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

namespace switchyard::test {
namespace {

// Variables that would silently redirect the binary to the developer's config or Redis.
SpawnOptions clean_options(const std::map<std::string, std::string>& env) {
  SpawnOptions options;
  options.unset_env = {"SWITCHYARD_CONFIG", "SWITCHYARD_REDIS_URL"};
  options.env = env;
  return options;
}

// True once a thread of process `pid` lists `sig` in SigBlk (/proc/PID/task/TID/status): main()
// has blocked it, and every thread started after inherits that. (Not the main thread alone: while
// it waits in sigtimedwait(), the kernel shows the awaited signals as unblocked.) False if the
// process is gone.
bool blocks_signal(pid_t pid, int sig) {
  std::error_code ec;
  const std::string tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream status(task.path() / "status");
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("SigBlk:", 0) != 0) continue;
      if ((std::stoull(line.substr(7), nullptr, 16) >> (sig - 1)) & 1ULL) return true;
      break;
    }
  }
  return false;
}

}  // namespace

std::string SwitchyardProcess::binary() { return SWITCHYARD_BINARY; }

SwitchyardProcess SwitchyardProcess::run(const std::string& config_path,
                                         const std::string& log_path,
                                         const std::vector<std::string>& extra_args,
                                         const std::map<std::string, std::string>& env,
                                         const std::vector<std::string>& command_prefix) {
  std::vector<std::string> argv = command_prefix;
  argv.insert(argv.end(), {binary(), "run", "-c", config_path});
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  SpawnOptions options = clean_options(env);
  options.output_path = log_path;
  SwitchyardProcess p;
  p.log_path_ = log_path;
  p.process_.spawn(argv, options);
  return p;
}

CommandResult SwitchyardProcess::exec(const std::vector<std::string>& args,
                                      std::chrono::milliseconds timeout,
                                      const std::map<std::string, std::string>& env,
                                      const std::string& stdin_data, std::source_location where) {
  std::vector<std::string> argv = {binary()};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = run_command(argv, timeout, clean_options(env), stdin_data);
  if (result.timed_out) {
    ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
        << "command `" << join_argv(argv) << "` did not finish within " << timeout.count()
        << " ms; killed\n"
        << result;
  }
  return result;
}

std::optional<int> SwitchyardProcess::stop(std::chrono::milliseconds timeout,
                                           std::source_location where) {
  if (!process_.is_running()) return process_.exit_status();
  signal(SIGTERM);
  if (auto status = process_.wait_exit(timeout)) return status;
  ADD_FAILURE_AT(where.file_name(), static_cast<int>(where.line()))
      << "switchyard (pid " << process_.pid() << ") did not exit within " << timeout.count()
      << " ms of SIGTERM; killing it\n--- " << log_path_ << " ---\n"
      << log_tail();
  process_.kill9();
  return std::nullopt;
}

bool SwitchyardProcess::signal(int sig) {
  if (sig == SIGTERM || sig == SIGINT || sig == SIGHUP) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (process_.is_running() && !blocks_signal(process_.pid(), sig) &&
           std::chrono::steady_clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
  return process_.signal(sig);
}

std::string SwitchyardProcess::log() const { return read_file(log_path_); }

std::string SwitchyardProcess::log_tail(std::size_t lines) const {
  return tail_file(log_path_, lines);
}

}  // namespace switchyard::test
