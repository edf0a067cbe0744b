// plugin_library.cc: loads a plugin with Boost.DLL; refuses an untrusted file and one built for another ABI.
#include "plugin_host/plugin_library.h"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/dll/shared_library.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <system_error>
#include <vector>

namespace switchyard {

struct PluginLibrary::Impl {
  boost::dll::shared_library library;
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

// Why `what` (the plugin file, or a directory holding it) may not be trusted, or "" when it may:
// it must be owned by root or by the user running switchyard, and writable by nobody else.
// Anyone who can write the file, or rename entries in its directory, could make this process
// run their code.
std::string untrusted(const std::string& what, bool is_dir, const std::string& plugin) {
  struct stat st;
  if (stat(what.c_str(), &st) != 0) return "";  // a missing file is reported by the loader
  const char* kind = is_dir ? "the directory " : "the file ";
  const uid_t self = geteuid();
  if (st.st_uid != 0 && st.st_uid != self) {
    return "plugin " + plugin + ": refused: " + kind + what + " is owned by uid " +
           user_name(st.st_uid) + ", not by root or by the user running switchyard (uid " +
           user_name(self) + "); run: chown root:root " + what;
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return "plugin " + plugin + ": refused: " + kind + what + " is writable by " +
           ((st.st_mode & S_IWOTH) ? "others" : "its group") + " (mode " + mode +
           "), so another user could replace the code switchyard runs; run: chmod go-w " + what;
  }
  return "";
}

// Checks the plugin file and its directory (both as named and, through symlinks, where the file
// really is). SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1 turns a refusal into a warning (development).
bool trusted(const std::string& path, std::string* error) {
  namespace fs = std::filesystem;
  std::vector<std::pair<std::string, bool>> checks;  // path, is_dir
  std::error_code ec;
  const fs::path named = fs::absolute(fs::path(path), ec).lexically_normal();
  checks.emplace_back(named.parent_path().string(), true);
  const fs::path real = fs::canonical(named, ec);
  if (!ec && real != named) checks.emplace_back(real.parent_path().string(), true);
  checks.emplace_back(ec ? named.string() : real.string(), false);
  for (const auto& [what, is_dir] : checks) {
    std::string why = untrusted(what, is_dir, path);
    if (why.empty()) continue;
    const char* allow = std::getenv("SWITCHYARD_ALLOW_UNSAFE_PLUGINS");
    if (allow != nullptr && std::string(allow) == "1") {
      spdlog::warn("{} (loaded anyway: SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1)", why);
      continue;
    }
    *error = why + " (or, for development only, set SWITCHYARD_ALLOW_UNSAFE_PLUGINS=1)";
    return false;
  }
  return true;
}

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path, std::string* error) {
  // Refuse before dlopen(): loading runs the plugin's constructors.
  if (!trusted(path, error)) return nullptr;
  auto impl = std::make_unique<Impl>();
  try {
    // rtld_now: an undefined symbol fails here, not at the first call. rtld_local: plugins
    // never see each other's symbols.
    impl->library.load(boost::dll::fs::path(path),
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
      *error = "plugin " + path + ": not a Switchyard plugin (no " SWITCHYARD_PLUGIN_ENTRY_NAME
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
  if (d->struct_size < sizeof(sy_plugin_descriptor)) {
    *error = "plugin " + path + ": descriptor is " + std::to_string(d->struct_size) +
             " bytes, ABI version " + std::to_string(SWITCHYARD_ABI_VERSION) + " needs " +
             std::to_string(sizeof(sy_plugin_descriptor)) +
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
  if (descriptor_->config_keys == nullptr) return true;
  for (const char* const* k = descriptor_->config_keys; *k != nullptr; ++k)
    if (key == *k) return true;
  return false;
}

std::vector<std::string> PluginLibrary::config_keys() const {
  std::vector<std::string> keys;
  if (descriptor_->config_keys == nullptr) return keys;
  for (const char* const* k = descriptor_->config_keys; *k != nullptr; ++k) keys.emplace_back(*k);
  return keys;
}

}  // namespace switchyard
