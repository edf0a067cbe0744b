// plugin_library.cc: loads a plugin with Boost.DLL; refuses an untrusted file and one built for
// another ABI.
#include "plugin_host/plugin_library.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

namespace switchyard {

// The library, and the descriptor it was loaded from. dlopen knows the library by the name
// "/proc/self/fd/N" and returns an already loaded library of the same name: the descriptor stays
// open while the library is loaded, so that N names no other file meanwhile.
struct PluginLibrary::Impl {
  boost::dll::shared_library library;
  int fd = -1;

  ~Impl() {
    if (fd < 0) return;
    const std::string name = fd_path(fd);
    library.unload();
    // A library with unique (STB_GNU_UNIQUE) symbols is never unmapped: then N must stay ours.
    // (When the same file is still loaded through another descriptor, this one is kept too: at
    // most one descriptor per such overlap.)
    if (void* still = dlopen(name.c_str(), RTLD_LAZY | RTLD_NOLOAD)) {
      dlclose(still);
      return;
    }
    close(fd);
  }
  static std::string fd_path(int fd) { return "/proc/self/fd/" + std::to_string(fd); }
};

namespace {

// A plugin built for another ABI major version exports another entry symbol; name it.
std::string other_entry_symbol(const boost::dll::shared_library& lib) {
  for (int major = 0; major <= 32; ++major) {
    std::string symbol = "switchyard_plugin_entry_v" + std::to_string(major);
    if (symbol != SWITCHYARD_PLUGIN_ENTRY_NAME && lib.has(symbol)) return symbol;
  }
  return "";
}

std::string user_name(uid_t uid) {
  struct passwd* pw = getpwuid(uid);  // called while loading plugins only (not concurrently)
  return std::to_string(uid) + (pw && pw->pw_name ? std::string(" (") + pw->pw_name + ")" : "");
}

// Why `what` (the plugin file, or a directory on the way to it), whose status is st, may not be
// trusted, or "" when it may: it must be owned by root or by the user running switchyard, and
// writable by nobody else. Anyone who can write the file, or rename entries in a directory on
// its path, could make this process run their code. A sticky directory owned by root or this
// user (/tmp) is fine: others may add entries there but not rename or remove ours.
std::string untrusted(const std::string& what, const struct stat& st, const std::string& plugin) {
  const bool is_dir = S_ISDIR(st.st_mode);
  const char* kind = is_dir ? "the directory " : "the file ";
  const uid_t self = geteuid();
  if (st.st_uid != 0 && st.st_uid != self) {
    return "plugin " + plugin + ": refused: " + kind + what + " is owned by uid " +
           user_name(st.st_uid) + ", not by root or by the user running switchyard (uid " +
           user_name(self) + "); run: chown root:root " + what;
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(is_dir && (st.st_mode & S_ISVTX))) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "plugin " + plugin + ": refused: " + kind + what + " is writable by " +
           ((st.st_mode & S_IWOTH) ? "others" : "its group") + " (mode " + mode +
           "), so another user could replace the code switchyard runs; run: chmod go-w " + what;
  }
  return "";
}

// Reports a refusal (false), or with SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1 a warning (true).
bool refuse(const std::string& why, std::string* error) {
  const char* allow = std::getenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS");
  if (allow != nullptr && std::string(allow) == "1") {
    spdlog::warn("{} (loaded anyway: SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1)", why);
    return true;
  }
  *error = why + " (or, for development only, set SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1)";
  return false;
}

// Checks every directory from the root down to dir (absolute, without symlinks).
bool trusted_directories(const std::filesystem::path& dir, const std::string& plugin,
                         std::string* error) {
  std::filesystem::path walk;
  for (const auto& part : dir) {
    walk /= part;
    struct stat st;
    if (lstat(walk.c_str(), &st) != 0) continue;  // gone: the open below fails and says so
    std::string why = untrusted(walk.string(), st, plugin);
    if (!why.empty() && !refuse(why, error)) return false;
  }
  return true;
}

// Opens the plugin once, for the check and the load: the real file (symlinks resolved), with
// O_NOFOLLOW, checked on the open descriptor and on every directory above it and above the name
// it was given. Returns the descriptor, or -1 with *error set (a refusal, or why it cannot be
// opened, in the loader's words: "cannot load").
int open_trusted(const std::string& path, std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path named = fs::absolute(fs::path(path), ec).lexically_normal();
  const fs::path real = fs::canonical(named, ec);
  if (ec) {
    *error = "plugin " + path + ": cannot load: " + ec.message() +
             " (check that the file exists and is readable)";
    return -1;
  }
  fs::path named_dir = fs::canonical(named.parent_path(), ec);
  if (ec) named_dir = named.parent_path();
  if (named_dir != real.parent_path() && !trusted_directories(named_dir, path, error)) return -1;
  if (!trusted_directories(real.parent_path(), path, error)) return -1;
  int fd = open(real.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    *error = "plugin " + path + ": cannot load: cannot open " + real.string() + ": " +
             std::strerror(errno) + " (check that the file exists and is readable)";
    return -1;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    *error = "plugin " + path + ": cannot load: " + real.string() + " is not a regular file";
    return -1;
  }
  std::string why = untrusted(real.string(), st, path);
  if (!why.empty() && !refuse(why, error)) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path, std::string* error) {
  // Refuse before dlopen(): loading runs the plugin's constructors. The file checked is the
  // file loaded: dlopen gets the checked descriptor (/proc/self/fd/N), never the path again.
  auto impl = std::make_unique<Impl>();
  impl->fd = open_trusted(path, error);
  if (impl->fd < 0) return nullptr;
  try {
    // rtld_now: an undefined symbol fails here, not at the first call. rtld_local: plugins
    // never see each other's symbols.
    impl->library.load(boost::dll::fs::path(Impl::fd_path(impl->fd)),
                       boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::system_error& e) {
    *error = "plugin " + path + ": cannot load: " + e.what() +
             " (check that the file exists, is a plugin built for this platform, and that its "
             "dependencies are installed)";
    return nullptr;
  }
  if (!impl->library.has(SWITCHYARD_PLUGIN_ENTRY_NAME)) {
    std::string other = other_entry_symbol(impl->library);
    if (!other.empty()) {
      *error = "plugin " + path + ": built for another plugin ABI (exports " + other +
               ", this runtime speaks ABI " + std::to_string(SWITCHYARD_ABI_VERSION) +
               "); rebuild it against the installed Switchyard SDK";
    } else {
      *error = "plugin " + path +
               ": not a Switchyard plugin (no " SWITCHYARD_PLUGIN_ENTRY_NAME
               " symbol); build it with the SDK's SWITCHYARD_PLUGIN macro";
    }
    return nullptr;
  }
  auto entry = impl->library.get<const sy_plugin_descriptor*()>(SWITCHYARD_PLUGIN_ENTRY_NAME);
  const sy_plugin_descriptor* d = entry();
  if (d == nullptr) {
    *error = "plugin " + path + ": entry point returned no descriptor";
    return nullptr;
  }
  if (d->abi_version != SWITCHYARD_ABI_VERSION) {
    *error = "plugin " + path + ": built for plugin ABI version " + std::to_string(d->abi_version) +
             ", this runtime speaks ABI version " + std::to_string(SWITCHYARD_ABI_VERSION) +
             "; rebuild it against the installed Switchyard SDK";
    return nullptr;
  }
  // Any size from the ABI's minimum up is accepted: an older plugin lacks the fields added
  // since (SY_PLUGIN_HAS reads them as absent), a newer one has fields this host ignores.
  if (d->struct_size < SY_PLUGIN_DESCRIPTOR_MIN_SIZE) {
    *error = "plugin " + path + ": descriptor is " + std::to_string(d->struct_size) +
             " bytes, ABI version " + std::to_string(SWITCHYARD_ABI_VERSION) + " needs at least " +
             std::to_string(SY_PLUGIN_DESCRIPTOR_MIN_SIZE) +
             "; rebuild it against the installed Switchyard SDK";
    return nullptr;
  }
  if (d->name == nullptr || d->create == nullptr || d->handle_batch == nullptr ||
      d->destroy == nullptr) {
    *error = "plugin " + path + ": descriptor lacks a name, create, handle_batch or destroy";
    return nullptr;
  }
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(path, std::move(impl), d));
}

PluginLibrary::PluginLibrary(std::string path, std::unique_ptr<Impl> impl,
                             const sy_plugin_descriptor* d)
    : path_(std::move(path)), impl_(std::move(impl)), descriptor_(d) {}

PluginLibrary::~PluginLibrary() = default;

bool PluginLibrary::accepts_config_key(const std::string& key) const {
  if (!SY_PLUGIN_HAS(descriptor_, config_keys)) return true;
  for (const char* const* k = descriptor_->config_keys; *k != nullptr; ++k)
    if (key == *k) return true;
  return false;
}

std::vector<std::string> PluginLibrary::config_keys() const {
  std::vector<std::string> keys;
  if (!SY_PLUGIN_HAS(descriptor_, config_keys)) return keys;
  for (const char* const* k = descriptor_->config_keys; *k != nullptr; ++k) keys.emplace_back(*k);
  return keys;
}

}  // namespace switchyard
