// pid_file.h: the pid file `switchyard run` writes and `switchyard reload` reads to find the
// daemon for a config ("PID\nABSOLUTE CONFIG PATH\n").
// Thread safety: stateless functions; safe from any thread.
#ifndef SWITCHYARD_DAEMON_PID_FILE_H_
#define SWITCHYARD_DAEMON_PID_FILE_H_

#include <string>

#include "util/status.h"

namespace switchyard {

// config_path made absolute and normalised (what the pid file records).
std::string absolute_config_path(const std::string& config_path);

// Where `run` writes its pid and `reload` finds it: in runtime_dir() (util/runtime_dir.h),
// named after the absolute config path. Fails when there is no safe runtime directory.
Status default_pid_file(const std::string& config_path, std::string* pid_file);

// Writes "PID\nCONFIG\n" (CONFIG: the absolute config path) to path, never through a symlink.
// The error names the file and why it cannot be written.
Status write_pid_file(const std::string& path, const std::string& config_path);

// Reads the pid that `run` wrote for config_path and checks, before anyone signals it, that the
// file is trustworthy (a regular file, not a symlink, owned by root or this user, writable by
// nobody else), names this config, and that the process is a `switchyard run` of the same
// binary. The error says what is wrong and what to do.
Status read_daemon_pid(const std::string& pid_file, const std::string& config_path, long* pid);

}  // namespace switchyard

#endif  // SWITCHYARD_DAEMON_PID_FILE_H_
