// netns.cc: creates and deletes the namespaces, bridge and veth pairs of a HostNetwork with `ip`.
#include "support/netns.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <filesystem>
#include <stdexcept>

#include "support/child_process.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrefix = "swyhosts-";

// Runs `ip args...`; returns its result (never throws on a non-zero exit).
CommandResult ip(std::vector<std::string> args) {
  args.insert(args.begin(), "ip");
  return run_command(args, 10s);
}

// Runs `ip args...` and throws std::runtime_error with the command and its output on failure.
void ip_or_throw(std::vector<std::string> args) {
  CommandResult r = ip(args);
  if (r.exit_code != 0) {
    args.insert(args.begin(), "ip");
    throw std::runtime_error("`" + join_argv(args) + "` failed (exit " +
                             std::to_string(r.exit_code) + "): " + r.err + r.out);
  }
}

// The namespaces that exist (`ip netns list` reads /run/netns; an absent directory: none).
std::vector<std::string> namespaces() {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/run/netns", ec))
    names.push_back(entry.path().filename().string());
  return names;
}

}  // namespace

std::string HostNetwork::unavailable_reason() {
  const std::string probe = std::string(kPrefix) + std::to_string(getpid()) + "-probe";
  CommandResult r;
  try {
    r = ip({"netns", "add", probe});
  } catch (const std::exception& e) {
    return std::string("cannot run `ip` (install iproute2): ") + e.what();
  }
  if (r.exit_code != 0) {
    return "`ip netns add` is not permitted here (run as root, with CAP_NET_ADMIN and "
           "CAP_SYS_ADMIN): " +
           r.err;
  }
  ip({"netns", "delete", probe});
  return "";
}

void HostNetwork::remove_leftovers() {
  for (const auto& name : namespaces()) {
    if (name.rfind(kPrefix, 0) != 0) continue;
    const std::string rest = name.substr(std::char_traits<char>::length(kPrefix));
    const size_t dash = rest.find('-');
    if (dash == 0 || dash == std::string::npos) continue;
    pid_t pid = 0;
    try {
      pid = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    } catch (const std::exception&) {
      continue;
    }
    if (pid <= 0 || (kill(pid, 0) != 0 && errno == ESRCH)) ip({"netns", "delete", name});
  }
}

std::vector<std::string> HostNetwork::exec_prefix(const std::string& ns) {
  return {"ip", "netns", "exec", ns};
}

HostNetwork::HostNetwork(int hosts) : hosts_(hosts) {
  static std::atomic<int> networks{0};
  prefix_ = std::string(kPrefix) + std::to_string(getpid()) + "-" + std::to_string(networks++);
  remove_leftovers();
  try {
    const std::string r = redis_ns();
    ip_or_throw({"netns", "add", r});
    made_.push_back(r);
    ip_or_throw({"-n", r, "link", "set", "lo", "up"});
    ip_or_throw({"-n", r, "link", "add", "br0", "type", "bridge"});
    ip_or_throw({"-n", r, "addr", "add", redis_address() + "/24", "dev", "br0"});
    ip_or_throw({"-n", r, "link", "set", "br0", "up"});
    for (int i = 0; i < hosts; ++i) {
      const std::string h = host_ns(i), v = "v" + std::to_string(i);
      ip_or_throw({"netns", "add", h});
      made_.push_back(h);
      ip_or_throw({"-n", h, "link", "set", "lo", "up"});
      ip_or_throw({"-n", r, "link", "add", v, "type", "veth", "peer", "name", "eth0", "netns", h});
      ip_or_throw({"-n", r, "link", "set", v, "master", "br0", "up"});
      ip_or_throw({"-n", h, "addr", "add", host_address(i) + "/24", "dev", "eth0"});
      ip_or_throw({"-n", h, "link", "set", "eth0", "up"});
    }
  } catch (...) {
    destroy();
    throw;
  }
}

HostNetwork::~HostNetwork() { destroy(); }

void HostNetwork::destroy() noexcept {
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) {
    try {
      ip({"netns", "delete", *it});
    } catch (...) {
      // Best effort: remove_leftovers() deletes it the next time.
    }
  }
  made_.clear();
}

void HostNetwork::cut(int i) { ip_or_throw({"-n", host_ns(i), "link", "set", "eth0", "down"}); }

void HostNetwork::cut_at_redis(int i) {
  ip_or_throw({"-n", redis_ns(), "link", "set", "v" + std::to_string(i), "down"});
}

void HostNetwork::restore(int i) {
  ip_or_throw({"-n", redis_ns(), "link", "set", "v" + std::to_string(i), "up"});
  ip_or_throw({"-n", host_ns(i), "link", "set", "eth0", "up"});
}

}  // namespace switchyard::test
