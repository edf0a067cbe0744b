// hello_sink.cc: example plugin: appends "<event name> <payload.user_id>" to a file per event.
// Thread safety: the host never calls one instance from two threads at once; nothing is shared.
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <string>
#include <switchyard/handler.hpp>
#include <switchyard/payload.hpp>

namespace {

class HelloSink : public switchyard::sdk::Handler {
 public:
  // config: {"path": "hello.log"}; a relative path is resolved against routes.yaml's folder.
  // Throwing here makes `switchyard check` and `run` fail with this message and the plugin path.
  HelloSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host)
      : host_(host) {
    switchyard::sdk::JsonObject object(config.json(), "config");
    path_ = host.resolve_path(object.required_string("path"));
    // `switchyard check` only validates: it must not create the file (run as root, it would
    // leave a file the service cannot write).
    if (host.check_only()) return;
    out_.open(path_, std::ios::app);
    if (!out_)
      throw std::runtime_error("config.path: cannot open " + path_ + ": " + std::strerror(errno));
    host_.info("appending to " + path_);
  }

  // One line per event. A payload without an integer user_id is rejected (dead-lettered) with
  // a reason naming the field; a failed write is transient, so the host retries it.
  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    switchyard::sdk::JsonObject payload(event.payload_json(), "payload");
    const long long user_id = payload.required_int("user_id");
    out_.clear();  // a write that failed before may succeed now
    out_ << event.name() << ' ' << user_id << '\n';
    if (!out_) return switchyard::sdk::Result::retry("cannot write " + path_);
    return switchyard::sdk::Result::ok();
  }

  // Called before the host acknowledges the batch: make the lines reach the file.
  void flush() override {
    out_.flush();
    if (!out_) throw std::runtime_error("cannot flush " + path_);
  }

 private:
  switchyard::sdk::Host& host_;
  std::string path_;
  std::ofstream out_;
};

}  // namespace

// The name is what routes.yaml's `plugin:` says; "path" is the one accepted config key.
SWITCHYARD_PLUGIN(HelloSink, "hello_sink", "1.0.0", "path")
