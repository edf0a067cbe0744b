// rendezvous_sink.cc: test plugin whose calls succeed only when its partner handler's call of the
// same batch runs at the same time: call N of an instance creates the file DIR/NAME.N (config.dir,
// its handler name), then waits up to config.wait_ms (default 10000) for DIR/PARTNER.N
// (config.partner). Found: every event is ok. Not found: every event is rejected with a reason
// saying the calls ran one after the other.
#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

class RendezvousSink : public switchyard::sdk::Handler {
 public:
  RendezvousSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    dir_ = host.resolve_path(options.required_string("dir"));
    partner_ = options.required_string("partner");
    wait_ms_ = options.optional_int("wait_ms").value_or(10000);
    name_ = host.handler_name();
  }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    std::vector<switchyard::sdk::Event> events{event};
    std::vector<switchyard::sdk::Result> results(1, switchyard::sdk::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  void handle_batch(const std::vector<switchyard::sdk::Event>&,
                    std::vector<switchyard::sdk::Result>& results) override {
    const std::string call = std::to_string(++calls_);
    const std::string mine = dir_ + "/" + name_ + "." + call;
    int fd = ::open(mine.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) throw switchyard::sdk::RetryError("rendezvous_sink: cannot create " + mine);
    ::close(fd);
    const std::string theirs = dir_ + "/" + partner_ + "." + call;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms_);
    while (::access(theirs.c_str(), F_OK) != 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        for (auto& result : results)
          result = switchyard::sdk::Result::reject(
              "call " + call + " of " + partner_ + " did not start within " +
              std::to_string(wait_ms_) + " ms of call " + call + " of " + name_ +
              ": the calls ran one after the other");
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  std::string dir_;
  std::string partner_;
  std::string name_;
  int64_t wait_ms_ = 10000;
  uint64_t calls_ = 0;
};

}  // namespace

SWITCHYARD_PLUGIN(RendezvousSink, "rendezvous_sink", "1.0.0", "dir", "partner", "wait_ms")
