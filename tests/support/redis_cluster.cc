// redis_cluster.cc: starts a local Redis Cluster with redis-cli --cluster create (one master:
// CLUSTER ADDSLOTSRANGE) and reads its slot map for tests and the bench.
#include "support/redis_cluster.h"

#include <stdexcept>

#include "redis/crc16.h"
#include "support/child_process.h"
#include "support/wait_for.h"

namespace switchyard::test {
namespace {

// The value of field in an INFO-style "field:value\r\n" text, or "".
std::string info_field(const std::string& text, const std::string& field) {
  const size_t at = text.find(field + ":");
  if (at == std::string::npos) return "";
  const size_t start = at + field.size() + 1;
  return text.substr(start, text.find_first_of("\r\n", start) - start);
}

// CLUSTER SLOTS as slot -> master port (0 when unserved).
std::vector<int> slot_ports(RedisClient& client) {
  std::vector<int> ports(kClusterSlots, 0);
  Reply r = client.command({"CLUSTER", "SLOTS"});
  for (const Reply& range : r.elements) {
    if (range.elements.size() < 3 || range.elements[2].elements.size() < 2) continue;
    for (long long s = range.elements[0].integer; s <= range.elements[1].integer; ++s)
      ports[static_cast<size_t>(s)] = static_cast<int>(range.elements[2].elements[1].integer);
  }
  return ports;
}

}  // namespace

RedisCluster::RedisCluster(int masters, int replicas_per_master)
    : replicas_per_master_(replicas_per_master) {
  if (!(masters >= 3 || (masters == 1 && replicas_per_master == 0)))
    throw std::invalid_argument("RedisCluster: 1 master without replicas, or at least 3 masters");
  for (int i = 0; i < masters * (1 + replicas_per_master); ++i) {
    RedisServerOptions options;
    options.tcp = true;
    // The bus on a free port of its own: PORT + 10000 (the default) may be taken or too high.
    options.extra_args = {"--cluster-enabled",
                          "yes",
                          "--cluster-config-file",
                          "nodes.conf",
                          "--cluster-port",
                          std::to_string(pick_free_tcp_port()),
                          "--cluster-node-timeout",
                          "1000",
                          "--cluster-replica-validity-factor",
                          "0"};
    nodes_.push_back(std::make_unique<RedisServer>(options));
  }
}

void RedisCluster::start() {
  for (auto& n : nodes_) n->start();
  if (nodes_.size() == 1) {
    // One shard: redis-cli --cluster create wants 3 masters; the node takes every slot itself.
    nodes_[0]->client().command(
        {"CLUSTER", "ADDSLOTSRANGE", "0", std::to_string(kClusterSlots - 1)});
    wait_settled();
    return;
  }
  std::vector<std::string> argv = {"redis-cli", "--cluster", "create"};
  for (auto& n : nodes_) argv.push_back("127.0.0.1:" + std::to_string(n->port()));
  argv.insert(argv.end(),
              {"--cluster-replicas", std::to_string(replicas_per_master_), "--cluster-yes"});
  const std::string out = nodes_[0]->dir() + "/cluster-create.out";
  ChildProcess create;
  create.spawn(argv, {}, out);
  const auto status = create.wait_exit(std::chrono::seconds(60));
  if (status.value_or(-1) != 0)
    throw std::runtime_error("redis-cli --cluster create failed:\n" + read_file(out));
  wait_settled();
  // Every replica's link up, so a failover has something to promote.
  for (size_t i = 0; i < nodes_.size(); ++i) {
    wait_or_throw(
        [&] {
          const std::string info = nodes_[i]->client().command({"INFO", "replication"}).str;
          return info_field(info, "role") == "master" ||
                 info_field(info, "master_link_status") == "up";
        },
        std::chrono::seconds(30),
        "the replica on port " + std::to_string(nodes_[i]->port()) + " to sync with its master");
  }
}

std::vector<std::string> RedisCluster::seed_urls() const {
  std::vector<std::string> urls;
  for (const auto& n : nodes_) urls.push_back("redis://127.0.0.1:" + std::to_string(n->port()));
  return urls;
}

size_t RedisCluster::index_of_port(int port) const {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->port() == port) return i;
  throw std::runtime_error("no cluster node listens on port " + std::to_string(port));
}

size_t RedisCluster::any_running_node() {
  for (size_t i = 0; i < nodes_.size(); ++i)
    if (nodes_[i]->is_running()) return i;
  throw std::runtime_error("no cluster node is running");
}

size_t RedisCluster::master_of_slot(int slot) {
  RedisClient c = nodes_[any_running_node()]->client();
  const int port = slot_ports(c)[static_cast<size_t>(slot)];
  if (port == 0) throw std::runtime_error("no master serves slot " + std::to_string(slot));
  return index_of_port(port);
}

size_t RedisCluster::master_of_key(const std::string& key) {
  return master_of_slot(cluster_key_slot(key));
}

std::string RedisCluster::node_id(size_t i) {
  return nodes_[i]->client().command({"CLUSTER", "MYID"}).str;
}

size_t RedisCluster::replica_of(size_t master) {
  const std::string id = node_id(master);
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (i == master || !nodes_[i]->is_running()) continue;
    const std::string info = nodes_[i]->client().command({"INFO", "replication"}).str;
    if (info_field(info, "role") == "slave" &&
        info_field(info, "master_port") == std::to_string(nodes_[master]->port()))
      return i;
  }
  throw std::runtime_error("the master on port " + std::to_string(nodes_[master]->port()) + " (" +
                           id + ") has no replica");
}

RedisClient RedisCluster::client_for_key(const std::string& key) {
  return nodes_[master_of_key(key)]->client();
}

void RedisCluster::wait_settled() {
  wait_or_throw(
      [&] {
        std::vector<int> first;
        for (auto& n : nodes_) {
          if (!n->is_running()) continue;
          RedisClient c = n->client();
          if (info_field(c.command({"CLUSTER", "INFO"}).str, "cluster_state") != "ok") return false;
          std::vector<int> ports = slot_ports(c);
          for (int p : ports)
            if (p == 0 || !nodes_[index_of_port(p)]->is_running()) return false;
          if (first.empty()) first = ports;
          if (ports != first) return false;
        }
        return true;
      },
      std::chrono::seconds(30),
      "every running cluster node to report cluster_state:ok and the same slot map, served by "
      "running masters only");
}

}  // namespace switchyard::test
