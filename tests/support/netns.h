// netns.h: a private network of Linux network namespaces on this machine, one "host" each (a
// Redis host and N consumer hosts joined by veth pairs to a bridge), to test instances on
// separate hosts; part of the test kit (no GTest). Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
#ifndef SWITCHYARD_TESTS_SUPPORT_NETNS_H_
#define SWITCHYARD_TESTS_SUPPORT_NETNS_H_

#include <string>
#include <vector>

namespace switchyard::test {

// The namespaces and links of one test:
//   <prefix>-redis   bridge br0 (10.77.0.1/24); veth v<i> per host, enslaved to br0
//   <prefix>-h<i>    eth0 (10.77.0.<11+i>/24), the other end of v<i>
// <prefix> is "swyhosts-<pid>-<n>": unique per test process and per network, so tests running in
// parallel never share a name. Every address lives inside the namespaces (none in the caller's),
// so networks of parallel tests never clash either. Only lo and these links exist in each
// namespace: nothing is routed beyond 10.77.0.0/24.
// Ownership: the destructor deletes every namespace it made (their links go with them); a test
// killed before that leaves them behind, and the next HostNetwork removes them (see
// remove_leftovers()). Processes started in a namespace keep it alive until they exit.
// Thread safety: not thread-safe; drive it from the test's main thread.
// Errors: the constructor, cut() and restore() throw std::runtime_error naming the `ip` command
// and its output; the constructor first deletes what it had made.
class HostNetwork {
 public:
  // Why namespaces cannot be made on this machine ("" when they can): tries `ip netns add` of a
  // throw-away name. Tests skip with this message (not root, no CAP_NET_ADMIN, no iproute2).
  static std::string unavailable_reason();
  // Deletes namespaces named swyhosts-<pid>-* whose process <pid> no longer exists (left by a
  // test that was killed); nothing else is touched.
  static void remove_leftovers();

  // Removes leftovers, then creates the Redis namespace and `hosts` host namespaces, all links
  // up, and checks that each host reaches the Redis address (ping).
  explicit HostNetwork(int hosts);
  ~HostNetwork();
  HostNetwork(const HostNetwork&) = delete;
  HostNetwork& operator=(const HostNetwork&) = delete;

  int hosts() const { return hosts_; }
  // Namespace names.
  std::string redis_ns() const { return prefix_ + "-redis"; }
  std::string host_ns(int i) const { return prefix_ + "-h" + std::to_string(i); }
  // Addresses: 10.77.0.1 (Redis), 10.77.0.<11+i> (host i).
  static std::string redis_address() { return "10.77.0.1"; }
  static std::string host_address(int i) { return "10.77.0." + std::to_string(11 + i); }
  // {"ip", "netns", "exec", ns}: put in front of a command line to run it in namespace `ns`
  // (ip execs the command, so the pid is the command's own).
  static std::vector<std::string> exec_prefix(const std::string& ns);

  // Host i's eth0 down (in its namespace): the host is cut off; its TCP connections stay open,
  // its packets are dropped and new connections fail at once (no route).
  void cut(int i);
  // Host i's link down at the Redis end (v<i>): the host still sees its link up, so its packets
  // vanish unanswered (a partition elsewhere in the network); a new connection fails only when
  // address resolution gives up, after seconds.
  void cut_at_redis(int i);
  // Both ends of host i's link up again (its route comes back).
  void restore(int i);

 private:
  void destroy() noexcept;

  int hosts_;
  std::string prefix_;
  std::vector<std::string> made_;  // namespaces created, deleted by destroy()
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_NETNS_H_
