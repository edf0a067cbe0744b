// child_process.h: spawn, signal, wait for and reap one child process (fork/exec, dies with its
// parent); part of the test kit (no GTest), used by the tests and the bench.
#ifndef SWITCHYARD_TESTS_SUPPORT_CHILD_PROCESS_H_
#define SWITCHYARD_TESTS_SUPPORT_CHILD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace switchyard::test {

// How to start a child. Every field is optional.
struct SpawnOptions {
  // Variables added to (or replacing those of) the test process' environment.
  std::map<std::string, std::string> env;
  // Variables removed from the inherited environment (applied before `env`).
  std::vector<std::string> unset_env;
  // File receiving stdout, opened O_APPEND|O_CREAT (0644); also stderr unless stderr_path is set.
  // Empty: stdout and stderr are inherited from the test process.
  std::string output_path;
  // File receiving stderr only (O_APPEND|O_CREAT). Empty: stderr goes where stdout goes.
  std::string stderr_path;
  // File read as stdin. Empty: /dev/null (a child never blocks on the test's terminal).
  std::string stdin_path;
  // Working directory of the child. Empty: the test's.
  std::string working_dir;
};

// One child process, owned by this object.
// Ownership: move-only; the destructor SIGKILLs and reaps a child that is still running, so a
// failing test never leaks processes. In the child, PR_SET_PDEATHSIG(SIGKILL) is set, so it also
// dies when the spawning *thread* of the test process dies: spawn from the test's main thread (or a
// thread that outlives the child). Signal dispositions and the signal mask are reset to defaults,
// file descriptors other than 0/1/2 are closed.
// Thread safety: not thread-safe; use one ChildProcess from one thread at a time.
// Errors: spawn() throws std::runtime_error (with argv[0] and strerror) when the program cannot be
// found or executed or a redirection file cannot be opened; nothing else throws.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  // Kills and reaps this object's running child (if any) before taking over `other`'s.
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Starts argv[0] (searched in $PATH when it has no '/') with argv; argv must not be empty.
  // Throws std::logic_error if this object already has a running child.
  void spawn(const std::vector<std::string>& argv, const SpawnOptions& options);
  // Shorthand: extra env vars, stdout+stderr appended to output_path (empty: inherited).
  void spawn(const std::vector<std::string>& argv,
             const std::map<std::string, std::string>& env = {},
             const std::string& output_path = "");

  // The child's pid, or -1 before spawn(). Stays valid (but the pid may be reused) after reaping.
  pid_t pid() const { return pid_; }
  // Sends `sig` to a child that has not been reaped yet; false if there is none or kill() failed.
  bool signal(int sig);
  // SIGKILL, then reap (bounded: 10 s; if the kernel never delivers the exit, says so on stderr
  // and returns nullopt). Returns the exit status as wait_exit() does (137 normally), nullopt if
  // nothing was spawned.
  std::optional<int> kill9();
  // Waits up to `timeout` for the child to exit and reaps it. Returns the exit code, 128+signal
  // when killed by a signal, or nullopt on timeout (the child keeps running) or when nothing was
  // spawned. After the child has been reaped, returns the stored status immediately.
  // Waits on a pidfd with poll() (falls back to waitpid(WNOHANG) polling at <= 5 ms granularity).
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  // True while the child has not exited (reaps it if it has).
  bool is_running();
  // The status as returned by wait_exit() once the child has been reaped, else nullopt.
  std::optional<int> exit_status() const { return status_; }

 private:
  bool try_reap(bool block);
  void release();

  pid_t pid_ = -1;
  int pidfd_ = -1;
  bool reaped_ = true;
  std::optional<int> status_;
};

// The outcome of run_command() / SwitchyardProcess::exec().
struct CommandResult {
  // Exit code; 128+signal when killed by a signal (137 after a timeout).
  int exit_code = -1;
  // True when the command did not finish within the timeout and was killed.
  bool timed_out = false;
  std::string out;  // everything written to stdout (binary-safe)
  std::string err;  // everything written to stderr (binary-safe)
};
// Prints exit code, timeout flag, stdout and stderr: `ASSERT_EQ(r.exit_code, 0) << r;`.
std::ostream& operator<<(std::ostream& os, const CommandResult& result);

// Runs argv to completion with stdout and stderr captured separately (through files in a private
// temporary directory; options.output_path/stderr_path/stdin_path are ignored). stdin_data, when
// not empty, is fed as stdin. On timeout the child is SIGKILLed and the result has timed_out =
// true (exit_code 137): check it, or print the result, which says so.
// Throws std::runtime_error when the program cannot be started. Thread safety: reentrant.
CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const SpawnOptions& options = {}, const std::string& stdin_data = "");

// "argv[0] argv[1] ...", for messages.
std::string join_argv(const std::vector<std::string>& argv);

// Reads a whole file (binary-safe); empty string if it does not exist. Thread safety: reentrant.
std::string read_file(const std::string& path);
// `text` split at '\n' (without the '\n's); a last line without '\n' is included, so a trailing
// '\n' adds no empty line. Thread safety: reentrant.
std::vector<std::string> split_lines(const std::string& text);
// The lines of a file, as split_lines; none if it does not exist. Thread safety: reentrant.
std::vector<std::string> file_lines(const std::string& path);
// The last `lines` lines of a file (for failure messages); empty if it does not exist.
std::string tail_file(const std::string& path, std::size_t lines = 40);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_CHILD_PROCESS_H_
