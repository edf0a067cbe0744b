// host_network_test.cc: the separate-hosts network (tests/support/netns.h): hosts reach Redis's
// address, a cut makes it unreachable, everything is deleted afterwards, and the leftovers of a
// killed test are removed while live tests' namespaces are kept. Needs root; skips otherwise.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "support/child_process.h"
#include "support/netns.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

bool namespace_exists(const std::string& name) {
  return std::filesystem::exists("/run/netns/" + name);
}

// What a TCP connect from namespace `ns` to the Redis address, port 9 (nothing listens there),
// says: "refused" (reachable), "unreachable" (no route: fails at once) or "no answer" (nothing
// within 2 s, or "no route to host" once address resolution gave up).
std::string connect_from(const std::string& ns) {
  std::vector<std::string> argv = HostNetwork::exec_prefix(ns);
  argv.insert(argv.end(), {"timeout", "2", "bash", "-c",
                           "exec 3<>/dev/tcp/" + HostNetwork::redis_address() + "/9"});
  const CommandResult r = run_command(argv, 10s);
  if (r.err.find("refused") != std::string::npos) return "refused";
  if (r.err.find("Network is unreachable") != std::string::npos) return "unreachable";
  if (r.exit_code == 124 || r.err.find("No route to host") != std::string::npos) return "no answer";
  return "exit " + std::to_string(r.exit_code) + ": " + r.err;
}

class HostNetworkTest : public testing::Test {
 protected:
  void SetUp() override {
    const std::string why = HostNetwork::unavailable_reason();
    if (!why.empty()) GTEST_SKIP() << "network namespaces unavailable: " << why;
  }
};

TEST_F(HostNetworkTest, HostsReachRedisUntilCutAndEverythingIsDeletedAfterwards) {
  std::vector<std::string> names;
  {
    HostNetwork net(2);
    names = {net.redis_ns(), net.host_ns(0), net.host_ns(1)};
    for (const auto& n : names) EXPECT_TRUE(namespace_exists(n)) << n;
    EXPECT_EQ(connect_from(net.host_ns(0)), "refused");
    EXPECT_EQ(connect_from(net.host_ns(1)), "refused");

    net.cut(0);  // its own link down: no route
    EXPECT_EQ(connect_from(net.host_ns(0)), "unreachable");
    EXPECT_EQ(connect_from(net.host_ns(1)), "refused");
    net.restore(0);
    // Back up, the link needs a moment (neighbour discovery after a failed attempt): wait for it.
    EXPECT_TRUE(wait_until([&] { return connect_from(net.host_ns(0)) == "refused"; }, 20s,
                           "host 0 to reach Redis again after its link came back"));

    net.cut_at_redis(1);  // the far end down: packets vanish unanswered
    EXPECT_EQ(connect_from(net.host_ns(1)), "no answer");
    net.restore(1);
    EXPECT_TRUE(wait_until([&] { return connect_from(net.host_ns(1)) == "refused"; }, 20s,
                           "host 1 to reach Redis again after the far end came back"));
  }
  for (const auto& n : names) EXPECT_FALSE(namespace_exists(n)) << n << " left behind";
}

TEST_F(HostNetworkTest, LeftoversOfDeadTestsAreRemovedAndLiveOnesKept) {
  // A pid that no longer exists: a child that exited and was reaped.
  const pid_t dead = fork();
  ASSERT_GE(dead, 0);
  if (dead == 0) _exit(0);
  ASSERT_EQ(waitpid(dead, nullptr, 0), dead);
  const std::string left = "swyhosts-" + std::to_string(dead) + "-0-redis";
  const std::string live = "swyhosts-" + std::to_string(getpid()) + "-999-redis";
  for (const auto& n : {left, live})
    ASSERT_EQ(run_command({"ip", "netns", "add", n}, 10s).exit_code, 0) << n;

  HostNetwork::remove_leftovers();
  EXPECT_FALSE(namespace_exists(left)) << "a killed test's namespace was kept";
  EXPECT_TRUE(namespace_exists(live)) << "a running test's namespace was deleted";
  run_command({"ip", "netns", "delete", live}, 10s);
  run_command({"ip", "netns", "delete", left}, 10s);
}

}  // namespace
}  // namespace switchyard::test
