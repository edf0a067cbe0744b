// child_process.cc: fork/exec with PR_SET_PDEATHSIG, pidfd-based waiting, output capture.
#include "support/child_process.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <utility>

#include "support/temp_dir.h"

extern char** environ;

namespace switchyard::test {
namespace {

using Clock = std::chrono::steady_clock;

// Closes a file descriptor on scope exit (parent side only).
struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
};

// Resolves a program name like execvp would, but in the parent (execvp is not async-signal-safe).
std::string resolve_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path_env = std::getenv("PATH");
  std::string path = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  throw std::runtime_error("cannot start " + name + ": not found in PATH");
}

int open_or_throw(const std::string& path, int flags, const std::string& what) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw std::runtime_error("cannot open " + what + " " + path + ": " + std::strerror(errno));
  }
  return fd;
}

// In the child: make `fd` become `target` without close-on-exec. Async-signal-safe.
bool move_fd(int fd, int target) {
  if (fd == target) return ::fcntl(fd, F_SETFD, 0) == 0;
  return ::dup2(fd, target) == target;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !reaped_) kill9();
  release();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      pidfd_(std::exchange(other.pidfd_, -1)),
      reaped_(std::exchange(other.reaped_, true)),
      status_(std::exchange(other.status_, std::nullopt)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !reaped_) kill9();
    release();
    pid_ = std::exchange(other.pid_, -1);
    pidfd_ = std::exchange(other.pidfd_, -1);
    reaped_ = std::exchange(other.reaped_, true);
    status_ = std::exchange(other.status_, std::nullopt);
  }
  return *this;
}

void ChildProcess::release() {
  if (pidfd_ >= 0) ::close(pidfd_);
  pidfd_ = -1;
}

void ChildProcess::spawn(const std::vector<std::string>& argv,
                         const std::map<std::string, std::string>& env,
                         const std::string& output_path) {
  SpawnOptions options;
  options.env = env;
  options.output_path = output_path;
  spawn(argv, options);
}

void ChildProcess::spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) throw std::invalid_argument("ChildProcess::spawn: empty argv");
  if (pid_ > 0 && !reaped_ && is_running()) {
    throw std::logic_error("ChildProcess::spawn: pid " + std::to_string(pid_) + " still running");
  }
  release();

  // Everything the child needs is prepared here: after fork() only async-signal-safe calls.
  const std::string program = resolve_program(argv[0]);
  std::vector<char*> c_argv;
  for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);

  std::set<std::string> drop(options.unset_env.begin(), options.unset_env.end());
  for (const auto& [k, v] : options.env) drop.insert(k);
  std::vector<std::string> env_strings;
  for (char** e = environ; e && *e; ++e) {
    std::string entry(*e);
    std::string name = entry.substr(0, entry.find('='));
    if (!drop.count(name)) env_strings.push_back(std::move(entry));
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> c_env;
  for (auto& s : env_strings) c_env.push_back(s.data());
  c_env.push_back(nullptr);

  Fd in_fd(open_or_throw(options.stdin_path.empty() ? "/dev/null" : options.stdin_path, O_RDONLY,
                         "stdin"));
  Fd out_fd(options.output_path.empty()
                ? -1
                : open_or_throw(options.output_path, O_WRONLY | O_CREAT | O_APPEND, "output"));
  Fd err_fd(options.stderr_path.empty()
                ? -1
                : open_or_throw(options.stderr_path, O_WRONLY | O_CREAT | O_APPEND, "stderr"));
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("pipe2 failed: ") + std::strerror(errno));
  }
  Fd err_read(pipe_fds[0]);
  Fd err_write(pipe_fds[1]);
  const char* working_dir = options.working_dir.empty() ? nullptr : options.working_dir.c_str();
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork failed: ") + std::strerror(errno));
  if (pid == 0) {
    // Child: async-signal-safe calls only.
    auto fail = [&](int err) {
      ssize_t ignored = ::write(err_write.fd, &err, sizeof err);
      (void)ignored;
      ::_exit(127);
    };
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
    if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
    struct sigaction dfl;
    std::memset(&dfl, 0, sizeof dfl);
    dfl.sa_handler = SIG_DFL;
    for (int sig = 1; sig < NSIG; ++sig) {
      if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
    }
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    if (!move_fd(in_fd.fd, 0)) fail(errno);
    if (out_fd.fd >= 0 && !move_fd(out_fd.fd, 1)) fail(errno);
    if (err_fd.fd >= 0) {
      if (!move_fd(err_fd.fd, 2)) fail(errno);
    } else if (out_fd.fd >= 0) {
      if (::dup2(1, 2) != 2) fail(errno);
    }
    if (working_dir && ::chdir(working_dir) != 0) fail(errno);
    // Nothing but 0/1/2 survives exec (the error pipe is close-on-exec already).
    ::syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(program.c_str(), c_argv.data(), c_env.data());
    fail(errno);
  }

  // Parent.
  ::close(err_write.fd);
  err_write.fd = -1;
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(err_read.fd, &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    throw std::runtime_error("cannot start " + program + ": " + std::strerror(child_errno));
  }
  pid_ = pid;
  reaped_ = false;
  status_.reset();
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));  // -1: fall back to polling
}

bool ChildProcess::try_reap(bool block) {
  if (pid_ <= 0 || reaped_) return true;
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return false;
  reaped_ = true;
  // r < 0 (ECHILD) means someone else reaped it (e.g. SIGCHLD ignored): the status is unknown.
  status_ = r == pid_ ? decode_status(status) : -1;
  release();
  return true;
}

bool ChildProcess::signal(int sig) {
  // An unreaped child's pid cannot be reused, so kill() targets the right process.
  if (pid_ <= 0 || reaped_) return false;
  return ::kill(pid_, sig) == 0;
}

std::optional<int> ChildProcess::kill9() {
  if (pid_ <= 0) return std::nullopt;
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    if (!wait_exit(std::chrono::seconds(10))) {
      std::cerr << "pid " << pid_ << " did not exit within 10 s of SIGKILL\n";
    }
  }
  return status_;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return std::nullopt;
  const auto deadline = Clock::now() + timeout;
  auto backoff = std::chrono::microseconds(500);
  for (;;) {
    if (try_reap(false)) return status_;
    const auto remaining = deadline - Clock::now();
    if (remaining <= Clock::duration::zero()) return std::nullopt;
    if (pidfd_ >= 0) {
      // Round up so that a sub-millisecond remainder does not spin.
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(remaining).count();
      struct pollfd p {
        pidfd_, POLLIN, 0
      };
      ::poll(&p, 1, static_cast<int>(std::min<long long>(ms, INT_MAX)));
    } else {
      std::this_thread::sleep_for(
          std::min<Clock::duration>(backoff, std::max<Clock::duration>(remaining, {})));
      backoff = std::min(backoff * 2, std::chrono::microseconds(5000));
    }
  }
}

bool ChildProcess::is_running() {
  if (pid_ <= 0) return false;
  return !try_reap(false);
}

std::ostream& operator<<(std::ostream& os, const CommandResult& result) {
  os << "exit code " << result.exit_code << (result.timed_out ? " (timed out)" : "")
     << "\n--- stdout ---\n"
     << result.out << "\n--- stderr ---\n"
     << result.err << "\n--------------";
  return os;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const SpawnOptions& options, const std::string& stdin_data) {
  TempDir dir;
  SpawnOptions opts = options;
  opts.output_path = dir.file("stdout");
  opts.stderr_path = dir.file("stderr");
  opts.stdin_path = stdin_data.empty() ? std::string() : dir.write("stdin", stdin_data);
  ChildProcess child;
  child.spawn(argv, opts);
  CommandResult result;
  std::optional<int> code = child.wait_exit(timeout);
  if (!code) {
    result.timed_out = true;
    code = child.kill9();
  }
  result.exit_code = code.value_or(-1);
  result.out = read_file(opts.output_path);
  result.err = read_file(opts.stderr_path);
  return result;
}

std::string join_argv(const std::vector<std::string>& argv) {
  std::string out;
  for (const auto& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> file_lines(const std::string& path) {
  return split_lines(read_file(path));
}

std::string tail_file(const std::string& path, std::size_t lines) {
  std::string text = read_file(path);
  if (lines == 0) return {};
  std::size_t pos = text.size();
  if (pos > 0 && text[pos - 1] == '\n') --pos;
  std::size_t found = 0;
  while (pos > 0) {
    std::size_t nl = text.rfind('\n', pos - 1);
    if (nl == std::string::npos) return text;
    if (++found == lines) return text.substr(nl + 1);
    pos = nl;
  }
  return text;
}

}  // namespace switchyard::test
