// handler.hpp: the C++ layer over plugin.h, so that a handler plugin is one class and one macro.
//
//   class MySink : public switchyard::sdk::Handler {
//    public:
//     MySink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host);
//     switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override;
//   };
//   SWITCHYARD_PLUGIN(MySink, "my_sink", "1.0.0", "database", "table")
//
// A handler that only ever writes whole batches derives from sdk::BatchHandler instead and
// overrides handle_batch() alone.
//
// A handler whose config names an external resource (a database, a directory) overrides probe()
// so that `switchyard check --connect` can verify it.
//
// Every exception thrown by a constructor, handle(), handle_batch(), flush() or probe() is
// caught at the ABI boundary: from the constructor it becomes a creation error, from handling it
// becomes a REJECT carrying the exception's text, from probe() a reported problem. Nothing ever
// propagates into the host.
//
// Threads and lifecycle are those of plugin.h: one object per handler instance, constructed by
// create() and destroyed by destroy(); its methods are never called from two threads at once,
// but successive calls may come from different threads (a batch's handlers run at once, each
// on its own thread); across a reload an old and a new object of one handler may exist, and
// run, at the same time.
//
// The 0.1 names (switchyard::Handler, switchyard::Config, ...) remain as aliases of the
// switchyard::sdk types so that existing plugins build unchanged; define
// SWITCHYARD_SDK_NO_LEGACY_NAMES to leave them out.
#ifndef SWITCHYARD_HANDLER_HPP_
#define SWITCHYARD_HANDLER_HPP_

#include <cstdio>
#include <cstring>
#include <exception>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "switchyard/plugin.h"

namespace switchyard::sdk {

// One message as a handler sees it. A borrowed view: valid only during the handle call.
class Event {
 public:
  explicit Event(const sy_event& raw) : raw_(raw) {}
  // The envelope's bytes exactly as the producer pushed them.
  std::string_view message() const { return {raw_.message.data, raw_.message.size}; }
  // The routing key (the envelope's "event" value).
  std::string_view name() const { return {raw_.name.data, raw_.name.size}; }
  // The JSON text of the envelope's "payload" object (parse it with payload.hpp or RapidJSON).
  std::string_view payload_json() const { return {raw_.payload.data, raw_.payload.size}; }
  // 1 on the first delivery to this handler, then 2, 3, ... on retries.
  unsigned attempt() const { return raw_.attempt; }

 private:
  const sy_event& raw_;
};

// What handle() answers for one event.
class Result {
 public:
  // Handled: never run again for this message.
  static Result ok() { return Result(SY_OUTCOME_OK, {}); }
  // Transient failure (a database is down): retried with backoff, then dead-lettered.
  static Result retry(std::string reason) { return Result(SY_OUTCOME_RETRY, std::move(reason)); }
  // Permanent failure (the payload is wrong): dead-lettered at once with the reason.
  static Result reject(std::string reason) { return Result(SY_OUTCOME_REJECT, std::move(reason)); }

  sy_outcome_kind kind() const { return kind_; }
  const std::string& reason() const { return reason_; }

 private:
  Result(sy_outcome_kind kind, std::string reason) : kind_(kind), reason_(std::move(reason)) {}
  sy_outcome_kind kind_;
  std::string reason_;
};

// Throw from handle() to reject (permanent) or retry (transient) with a reason; any other
// exception is a reject carrying what().
struct RejectError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
struct RetryError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The handler's `config:` map from routes.yaml, as JSON object text. Keys were already checked
// against the plugin's declared list by the host; values are the plugin's to validate.
class PluginConfig {
 public:
  explicit PluginConfig(std::string json) : json_(std::move(json)) {}
  // The whole config object as JSON text, e.g. {"database":"analytics.db"}.
  const std::string& json() const { return json_; }

 private:
  std::string json_;
};

// Services of the host to one handler instance. Thread-safe. Every sy_host_api field is read
// through SY_HOST_HAS, so a host older than this SDK (a smaller sy_host_api) works: what it
// lacks is absent (no logging, no config dir, empty handler name, not check-only).
class Host {
 public:
  // api: the host's, valid until the instance is destroyed (plugin.h); null means no host.
  explicit Host(const sy_host_api* api) : api_(api) {}
  void debug(const std::string& message) const { log(SY_LOG_DEBUG, message); }
  void info(const std::string& message) const { log(SY_LOG_INFO, message); }
  void warn(const std::string& message) const { log(SY_LOG_WARN, message); }
  void error(const std::string& message) const { log(SY_LOG_ERROR, message); }
  // True when created only to validate the config (`switchyard check`): open nothing.
  bool check_only() const { return SY_HOST_HAS(api_, check_only); }
  // The handler's name in routes.yaml ("" when the host does not say).
  std::string handler_name() const {
    return SY_HOST_HAS(api_, handler_name) ? api_->handler_name : "";
  }
  // Resolves a path from the config the way the user reads it: relative to routes.yaml's dir.
  std::string resolve_path(const std::string& path) const {
    if (path.empty() || path[0] == '/' || !SY_HOST_HAS(api_, config_dir) || !*api_->config_dir)
      return path;
    return std::string(api_->config_dir) + "/" + path;
  }

 private:
  void log(sy_log_level level, const std::string& message) const {
    if (SY_HOST_HAS(api_, log)) api_->log(api_->context, level, message.c_str());
  }
  const sy_host_api* api_;
};

// What probe() found (`switchyard check --connect`).
class ProbeResult {
 public:
  // The handler has nothing to verify: reported as "no connection check".
  static ProbeResult unsupported() { return ProbeResult(false, {}); }
  // The handler checked its resources; problems lists what is wrong (empty: all usable), one
  // line each, naming the resource (table, column, file) and saying what to do.
  static ProbeResult checked(std::vector<std::string> problems = {}) {
    return ProbeResult(true, std::move(problems));
  }
  bool supported() const { return supported_; }
  const std::vector<std::string>& problems() const { return problems_; }

 private:
  ProbeResult(bool supported, std::vector<std::string> problems)
      : supported_(supported), problems_(std::move(problems)) {}
  bool supported_;
  std::vector<std::string> problems_;
};

// Base class of a handler that writes whole batches (one transaction, one request). The object
// is never called from two threads at once.
class BatchHandler {
 public:
  virtual ~BatchHandler() = default;
  // Handles a batch: results has one slot per event, preset to ok(). An exception applies to
  // every event of the batch: RetryError makes them all RETRY, anything else REJECT.
  virtual void handle_batch(const std::vector<Event>& events, std::vector<Result>& results) = 0;
  // Makes everything handled so far durable; throw to report a failure (the batch's successes
  // are then retried). Called after every batch and before destruction.
  virtual void flush() {}
  // Verifies the external resources the config names (`switchyard check --connect`): connect,
  // check the table and columns... Called only on a check-only object (Host::check_only()),
  // which may connect here and only here; close what you open before returning. An exception
  // is reported as one problem carrying its text. The default has nothing to verify.
  virtual ProbeResult probe() { return ProbeResult::unsupported(); }
};

// Base class of a handler that handles one event at a time. The object is never called from
// two threads at once.
class Handler : public BatchHandler {
 public:
  // Handles one event. Exceptions become REJECT (RetryError becomes RETRY).
  virtual Result handle(const Event& event) = 0;
  // Handles a batch; the default calls handle() for each event. Override to write a whole
  // batch in one transaction. results has one slot per event, preset to ok().
  void handle_batch(const std::vector<Event>& events, std::vector<Result>& results) override {
    for (size_t i = 0; i < events.size(); ++i) results[i] = handle_one(events[i]);
  }

 protected:
  // Calls handle() and turns its exceptions into results (for handle_batch overrides).
  Result handle_one(const Event& event) {
    try {
      return handle(event);
    } catch (const RetryError& e) {
      return Result::retry(e.what());
    } catch (const std::exception& e) {
      return Result::reject(e.what());
    } catch (...) {
      return Result::reject("unknown exception");
    }
  }
};

namespace detail {

inline void copy_text(char* out, size_t out_size, std::string_view text) {
  if (!out || out_size == 0) return;
  size_t n = text.size() < out_size - 1 ? text.size() : out_size - 1;
  std::memcpy(out, text.data(), n);
  out[n] = '\0';
}

inline void set_outcome(sy_outcome& out, sy_outcome_kind kind, std::string_view reason) {
  out.kind = kind;
  copy_text(out.reason, sizeof(out.reason), reason);
}

// The C functions of the descriptor for handler class T, each a try/catch around T.
// The host api is not copied: a copy of sizeof(sy_host_api) bytes would read past the end of an
// older host's smaller struct. plugin.h keeps it valid until destroy() returns.
template <typename T>
struct Adapter {
  static_assert(std::is_base_of_v<BatchHandler, T>,
                "SWITCHYARD_PLUGIN: the class must derive from switchyard::sdk::Handler or "
                "switchyard::sdk::BatchHandler");
  struct Instance {
    Host host;
    T handler;
    Instance(const PluginConfig& config, const sy_host_api* api)
        : host(api), handler(config, host) {}
  };

  static int32_t create(const char* config_json, const sy_host_api* host, void** instance,
                        char* error, size_t error_size) {
    try {
      PluginConfig config(config_json ? config_json : "{}");
      *instance = new Instance(config, host);
      return 0;
    } catch (const std::exception& e) {
      copy_text(error, error_size, e.what());
    } catch (...) {
      copy_text(error, error_size, "unknown exception while creating the handler");
    }
    return 1;
  }

  static void handle_batch(void* instance, const sy_event* events, size_t count,
                           sy_outcome* outcomes) {
    auto* self = static_cast<Instance*>(instance);
    try {
      std::vector<Event> views;
      views.reserve(count);
      for (size_t i = 0; i < count; ++i) views.emplace_back(events[i]);
      std::vector<Result> results(count, Result::ok());
      self->handler.handle_batch(views, results);
      for (size_t i = 0; i < count; ++i)
        set_outcome(outcomes[i], results[i].kind(), results[i].reason());
    } catch (const RetryError& e) {
      for (size_t i = 0; i < count; ++i) set_outcome(outcomes[i], SY_OUTCOME_RETRY, e.what());
    } catch (const std::exception& e) {
      for (size_t i = 0; i < count; ++i) set_outcome(outcomes[i], SY_OUTCOME_REJECT, e.what());
    } catch (...) {
      for (size_t i = 0; i < count; ++i)
        set_outcome(outcomes[i], SY_OUTCOME_REJECT, "unknown exception");
    }
  }

  static int32_t flush(void* instance, char* error, size_t error_size) {
    try {
      static_cast<Instance*>(instance)->handler.flush();
      return 0;
    } catch (const std::exception& e) {
      copy_text(error, error_size, e.what());
    } catch (...) {
      copy_text(error, error_size, "unknown exception in flush");
    }
    return 1;
  }

  static int32_t probe(void* instance, char* report, size_t report_size) {
    try {
      const ProbeResult result = static_cast<Instance*>(instance)->handler.probe();
      if (!result.supported()) return SY_PROBE_UNSUPPORTED;
      if (result.problems().empty()) return SY_PROBE_OK;
      std::string text;
      for (const std::string& problem : result.problems()) text += problem + "\n";
      copy_text(report, report_size, text);
    } catch (const std::exception& e) {
      copy_text(report, report_size, e.what());
    } catch (...) {
      copy_text(report, report_size, "unknown exception in probe");
    }
    return SY_PROBE_PROBLEMS;
  }

  static void destroy(void* instance) {
    try {
      delete static_cast<Instance*>(instance);
    } catch (...) {
    }
  }
};

}  // namespace detail
}  // namespace switchyard::sdk

#ifndef SWITCHYARD_SDK_NO_LEGACY_NAMES
namespace switchyard {
// The 0.1 names, kept so that existing plugins build unchanged. New code uses switchyard::sdk.
using Config = sdk::PluginConfig;
using sdk::BatchHandler;
using sdk::Event;
using sdk::Handler;
using sdk::Host;
using sdk::RejectError;
using sdk::Result;
using sdk::RetryError;
}  // namespace switchyard
#endif

// Declares the plugin: CLASS is the handler, NAME its name in routes.yaml (a string literal),
// VERSION its version string, and the remaining arguments the accepted config keys (string
// literals; none means any key is accepted). Use once per plugin, at namespace scope.
#define SWITCHYARD_PLUGIN(CLASS, NAME, VERSION, ...)                            \
  extern "C" __attribute__((visibility("default"))) const sy_plugin_descriptor* \
  SWITCHYARD_PLUGIN_ENTRY(void) {                                               \
    static const char* const keys[] = {__VA_ARGS__ __VA_OPT__(, ) nullptr};     \
    static const sy_plugin_descriptor descriptor = {                            \
        SWITCHYARD_ABI_VERSION,                                                 \
        sizeof(sy_plugin_descriptor),                                           \
        NAME,                                                                   \
        VERSION,                                                                \
        (sizeof(keys) / sizeof(keys[0]) > 1) ? keys : nullptr,                  \
        &::switchyard::sdk::detail::Adapter<CLASS>::create,                     \
        &::switchyard::sdk::detail::Adapter<CLASS>::handle_batch,               \
        &::switchyard::sdk::detail::Adapter<CLASS>::flush,                      \
        &::switchyard::sdk::detail::Adapter<CLASS>::destroy,                    \
        &::switchyard::sdk::detail::Adapter<CLASS>::probe};                     \
    return &descriptor;                                                         \
  }

#endif  // SWITCHYARD_HANDLER_HPP_
