// pid_file.cc: writing, finding and checking the pid file of `switchyard run`.
#include "daemon/pid_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <vector>

#include "util/runtime_dir.h"

namespace switchyard {
namespace {

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
  if (exe.size() > deleted.size() &&
      exe.compare(exe.size() - deleted.size(), deleted.size(), deleted) == 0)
    exe.resize(exe.size() - deleted.size());
  return exe;
}

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

Status write_pid_file(const std::string& path, const std::string& config_path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return Status::error("cannot write pid file " + path + ": " + strerror(errno));
  const std::string text =
      std::to_string(getpid()) + "\n" + absolute_config_path(config_path) + "\n";
  const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  const int err = errno;
  close(fd);
  if (!ok) return Status::error("cannot write pid file " + path + ": " + strerror(err));
  return Status::ok();
}

Status read_daemon_pid(const std::string& pid_file, const std::string& config_path, long* pid) {
  int fd = open(pid_file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    return Status::error("no running instance for " + config_path + " (pid file " + pid_file +
                         ": " + strerror(errno) +
                         "); under systemd use: systemctl reload switchyard");
  }
  struct stat st;
  const bool stat_ok = fstat(fd, &st) == 0;
  std::string text(256, '\0');
  const ssize_t n = stat_ok ? read(fd, text.data(), text.size()) : -1;
  close(fd);
  if (!stat_ok || !S_ISREG(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    return Status::error("pid file " + pid_file +
                         " is not a regular file owned by root or this "
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
  const bool is_run =
      args.size() >= 2 && std::find(args.begin() + 1, args.end(), "run") != args.end();
  const std::string self = exe_of("/proc/self/exe");
  const std::string other = exe_of("/proc/" + std::to_string(*pid) + "/exe");
  // A daemon that turned core dumps off hides its exe from other non-root users: then the
  // command line alone is checked.
  const bool same_binary = other.empty()
                               ? (!args.empty() && std::filesystem::path(args[0]).filename() ==
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

}  // namespace switchyard
