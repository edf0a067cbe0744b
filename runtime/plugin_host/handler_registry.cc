// handler_registry.cc: loads plugins and creates the configured handler instances.
#include "plugin_host/handler_registry.h"

#include <unistd.h>

#include <filesystem>
#include <map>

namespace switchyard {

std::string default_plugins_dir() {
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "/usr/lib/switchyard/plugins";
  return (exe.parent_path().parent_path() / "lib" / "switchyard" / "plugins").lexically_normal();
}

namespace {

// The previous instance of handler h when its plugin path and config did not change.
std::shared_ptr<HandlerInstance> find_unchanged(const LoadedHandlers* previous,
                                                const HandlerConfig& h, const std::string& path) {
  if (!previous) return nullptr;
  for (const auto& inst : previous->instances) {
    if (inst->name() == h.name && inst->library().path() == path &&
        inst->config_json() == h.config_json)
      return inst;
  }
  return nullptr;
}

}  // namespace

Status load_handlers(const Config& config, const std::string& plugins_dir,
                     const LoadedHandlers* previous, LoadedHandlers* out, bool check_only) {
  // Libraries by path; those of the previous generation are shared, never loaded twice.
  std::map<std::string, std::shared_ptr<PluginLibrary>> libraries;
  if (previous) {
    for (const auto& inst : previous->instances)
      libraries[inst->library().path()] = inst->library_ptr();
  }
  LoadedHandlers result;
  for (const HandlerConfig& h : config.handlers) {
    std::string path = (std::filesystem::path(plugins_dir) / (h.plugin + ".so")).string();
    if (auto reused = find_unchanged(previous, h, path)) {
      result.instances.push_back(std::move(reused));
      continue;
    }

    std::shared_ptr<PluginLibrary> library;
    auto cached = libraries.find(path);
    if (cached != libraries.end()) {
      library = cached->second;
    } else {
      std::error_code ec;
      if (!std::filesystem::exists(path, ec)) {
        return Status::error(h.plugin_mark.str() + ": handler " + h.name + ": plugin \"" +
                             h.plugin + "\" not found: " + path +
                             " does not exist (install the plugin there, or point plugins_dir / "
                             "--plugins-dir at the directory that holds it)");
      }
      std::string error;
      library = PluginLibrary::load(path, &error);
      if (!library)
        return Status::error(h.plugin_mark.str() + ": handler " + h.name + ": " + error);
      libraries[path] = library;
    }
    if (library->name() != h.plugin) {
      return Status::error(h.plugin_mark.str() + ": handler " + h.name + ": " + path +
                           " declares itself as plugin \"" + library->name() +
                           "\"; rename the file to " + library->name() + ".so or fix `plugin:`");
    }
    for (const ConfigKey& key : h.config_keys) {
      if (!library->accepts_config_key(key.name)) {
        std::string accepted;
        for (const auto& k : library->config_keys()) accepted += (accepted.empty() ? "" : ", ") + k;
        return Status::error(key.mark.str() + ": handler " + h.name + ": plugin " + h.plugin +
                             " does not accept config key \"" + key.name +
                             "\" (accepted: " + accepted + ")");
      }
    }
    std::string error;
    std::unique_ptr<HandlerInstance> instance =
        HandlerInstance::create(library, h.name, h.config_json, config.dir, &error, check_only);
    if (!instance) return Status::error(h.mark.str() + ": " + error);
    result.instances.push_back(std::move(instance));
  }
  *out = std::move(result);
  return Status::ok();
}

}  // namespace switchyard
