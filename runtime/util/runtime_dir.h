// runtime_dir.h: where this process keeps small local state (lock and pid files), and the stable
// hash used to name those files.
// Thread safety: pure functions (runtime_dir may create /run/switchyard); safe from any thread.
#ifndef SWITCHYARD_UTIL_RUNTIME_DIR_H_
#define SWITCHYARD_UTIL_RUNTIME_DIR_H_

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

#include "util/status.h"

namespace switchyard {

// The directory for lock and pid files: $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=, first
// entry), else $XDG_RUNTIME_DIR, else /run/switchyard when running as root (created 0700 if
// missing). Never a shared directory such as /tmp, where another user could plant the files.
// The directory must be a real directory (not a symlink) owned by root or the running user and
// writable by nobody else; otherwise returns an error naming it and saying what to set.
inline Status runtime_dir(std::string* dir) {
  std::string chosen;
  for (const char* var : {"RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"}) {
    const char* v = std::getenv(var);
    if (v && *v) {
      chosen = v;
      chosen = chosen.substr(0, chosen.find(':'));
      break;
    }
  }
  if (chosen.empty()) {
    if (geteuid() != 0) {
      return Status::error(
          "no runtime directory for lock and pid files: set RUNTIME_DIRECTORY (or "
          "XDG_RUNTIME_DIR) to a directory only this user can write, e.g. "
          "RUNTIME_DIRECTORY=$HOME/.cache/switchyard");
    }
    chosen = "/run/switchyard";
    if (mkdir(chosen.c_str(), 0700) != 0 && errno != EEXIST) {
      return Status::error("cannot create runtime directory " + chosen + ": " + strerror(errno) +
                           " (set RUNTIME_DIRECTORY to a directory only root can write)");
    }
  }
  struct stat st;
  if (lstat(chosen.c_str(), &st) != 0) {
    return Status::error("runtime directory " + chosen + ": " + strerror(errno) +
                         " (create it, or set RUNTIME_DIRECTORY to an existing directory)");
  }
  if (!S_ISDIR(st.st_mode) || (st.st_uid != 0 && st.st_uid != geteuid()) ||
      (st.st_mode & (S_IWGRP | S_IWOTH))) {
    return Status::error("runtime directory " + chosen +
                         " is not a directory owned by root or this user and writable by nobody "
                         "else, so another user could plant lock or pid files there; set "
                         "RUNTIME_DIRECTORY to a private directory (chmod 0700)");
  }
  *dir = chosen;
  return Status::ok();
}

// 64-bit FNV-1a of text: stable across runs and hosts, for naming files after a key or path.
inline uint64_t fnv1a(const std::string& text) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_RUNTIME_DIR_H_
