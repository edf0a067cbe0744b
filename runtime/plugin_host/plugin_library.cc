// plugin_library.cc: loads a plugin with Boost.DLL and refuses one built for another ABI.
#include "plugin_host/plugin_library.h"

#include <boost/dll/shared_library.hpp>
#include <system_error>

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

}  // namespace

std::shared_ptr<PluginLibrary> PluginLibrary::load(const std::string& path, std::string* error) {
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
