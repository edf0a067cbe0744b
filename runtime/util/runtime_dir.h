// runtime_dir.h: where this process keeps small local state (lock and pid files), and the stable
// hash used to name those files.
// Thread safety: pure functions; safe from any thread.
#ifndef SWITCHYARD_UTIL_RUNTIME_DIR_H_
#define SWITCHYARD_UTIL_RUNTIME_DIR_H_

#include <cstdint>
#include <cstdlib>
#include <string>

namespace switchyard {

// $RUNTIME_DIRECTORY (systemd's RuntimeDirectory=, first entry), else $XDG_RUNTIME_DIR, else /tmp.
inline std::string runtime_dir() {
  for (const char* var : {"RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"}) {
    const char* v = std::getenv(var);
    if (v && *v) {
      std::string dir = v;
      return dir.substr(0, dir.find(':'));
    }
  }
  return "/tmp";
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
