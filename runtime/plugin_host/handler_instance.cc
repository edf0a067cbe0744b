// handler_instance.cc: creates, calls and destroys one plugin handler instance.
#include "plugin_host/handler_instance.h"

#include <spdlog/spdlog.h>

namespace switchyard {

std::unique_ptr<HandlerInstance> HandlerInstance::create(std::shared_ptr<PluginLibrary> library,
                                                         const std::string& handler_name,
                                                         const std::string& config_json,
                                                         const std::string& config_dir,
                                                         std::string* error, bool check_only) {
  std::unique_ptr<HandlerInstance> self(new HandlerInstance());
  self->library_ = std::move(library);
  self->name_ = handler_name;
  self->config_json_ = config_json;
  self->config_dir_ = config_dir;
  self->host_api_.abi_version = SWITCHYARD_ABI_VERSION;
  self->host_api_.struct_size = sizeof(sy_host_api);
  self->host_api_.context = self.get();
  self->host_api_.log = &HandlerInstance::log_from_plugin;
  self->host_api_.config_dir = self->config_dir_.c_str();
  self->host_api_.handler_name = self->name_.c_str();
  self->host_api_.check_only = check_only ? 1 : 0;

  char message[1024] = {0};
  void* instance = nullptr;
  int32_t rc = self->library_->descriptor().create(self->config_json_.c_str(), &self->host_api_,
                                                   &instance, message, sizeof(message));
  if (rc != 0 || instance == nullptr) {
    message[sizeof(message) - 1] = '\0';
    *error = "handler " + handler_name + " (plugin " + self->library_->path() +
             "): " + (message[0] ? message : "create failed without a message");
    return nullptr;
  }
  self->instance_ = instance;
  return self;
}

HandlerInstance::~HandlerInstance() {
  if (instance_ == nullptr) return;
  Status flushed = flush();
  if (!flushed) spdlog::error("{}", flushed.message());
  library_->descriptor().destroy(instance_);
}

void HandlerInstance::handle_batch(const sy_event* events, size_t count, sy_outcome* outcomes) {
  for (size_t i = 0; i < count; ++i) {
    outcomes[i].kind = SY_OUTCOME_OK;
    outcomes[i].reason[0] = '\0';
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    library_->descriptor().handle_batch(instance_, events, count, outcomes);
  }
  for (size_t i = 0; i < count; ++i) {
    outcomes[i].reason[SWITCHYARD_REASON_MAX - 1] = '\0';
    if (outcomes[i].kind != SY_OUTCOME_OK && outcomes[i].kind != SY_OUTCOME_RETRY &&
        outcomes[i].kind != SY_OUTCOME_REJECT) {
      std::string bad = std::to_string(outcomes[i].kind);
      outcomes[i].kind = SY_OUTCOME_REJECT;
      snprintf(outcomes[i].reason, SWITCHYARD_REASON_MAX,
               "plugin returned an invalid outcome kind %s", bad.c_str());
    }
  }
}

Status HandlerInstance::flush() {
  const sy_plugin_descriptor* descriptor = &library_->descriptor();
  if (!SY_PLUGIN_HAS(descriptor, flush)) return Status::ok();
  char message[1024] = {0};
  int32_t rc;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rc = descriptor->flush(instance_, message, sizeof(message));
  }
  if (rc == 0) return Status::ok();
  message[sizeof(message) - 1] = '\0';
  return Status::error("handler " + name_ + " (plugin " + library_->path() +
                       "): flush failed: " + message);
}

HandlerInstance::ProbeOutcome HandlerInstance::probe() {
  const sy_plugin_descriptor* descriptor = &library_->descriptor();
  if (!SY_PLUGIN_HAS(descriptor, probe)) return {ProbeOutcome::kUnsupported, {}};
  std::vector<char> report(8192, '\0');
  int32_t rc;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    rc = descriptor->probe(instance_, report.data(), report.size());
  }
  if (rc == SY_PROBE_OK) return {ProbeOutcome::kOk, {}};
  if (rc == SY_PROBE_UNSUPPORTED) return {ProbeOutcome::kUnsupported, {}};
  report.back() = '\0';
  ProbeOutcome out{ProbeOutcome::kProblems, {}};
  std::string text(report.data());
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    if (end > start) out.problems.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  if (rc != SY_PROBE_PROBLEMS)
    out.problems.push_back("the plugin's probe returned the unknown code " + std::to_string(rc) +
                           "; rebuild the plugin against this SDK");
  else if (out.problems.empty())
    out.problems.push_back("the plugin's probe reported a problem without saying what");
  return out;
}

void HandlerInstance::log_from_plugin(void* context, int32_t level, const char* message) {
  auto* self = static_cast<HandlerInstance*>(context);
  const char* text = message ? message : "";
  switch (level) {
    case SY_LOG_DEBUG:
      spdlog::debug("[{}] {}", self->name_, text);
      break;
    case SY_LOG_INFO:
      spdlog::info("[{}] {}", self->name_, text);
      break;
    case SY_LOG_WARN:
      spdlog::warn("[{}] {}", self->name_, text);
      break;
    default:
      spdlog::error("[{}] {}", self->name_, text);
      break;
  }
}

}  // namespace switchyard
