// redis_cluster.h: a real local Redis Cluster (masters + replicas, redis-server
// --cluster-enabled yes on loopback TCP ports) private to one test.
#ifndef SWITCHYARD_TESTS_SUPPORT_REDIS_CLUSTER_H_
#define SWITCHYARD_TESTS_SUPPORT_REDIS_CLUSTER_H_

#include <memory>
#include <string>
#include <vector>

#include "support/redis_client.h"
#include "support/redis_server.h"

namespace switchyard::test {

// masters * (1 + replicas) redis-server processes, each a RedisServer with
// --cluster-enabled yes --cluster-port FREE --cluster-node-timeout 1000, joined by
// `redis-cli --cluster create ... --cluster-replicas N --cluster-yes`. masters must be 1 (then
// replicas_per_master 0: the one node takes all slots with CLUSTER ADDSLOTSRANGE) or at least 3.
// Ownership: owns the servers (the destructor kills them and removes their directories).
// Thread safety: not thread-safe; drive it from the test's main thread.
// Errors: start() and the queries throw std::runtime_error naming the node and the state seen.
class RedisCluster {
 public:
  explicit RedisCluster(int masters = 3, int replicas_per_master = 1);
  RedisCluster(const RedisCluster&) = delete;
  RedisCluster& operator=(const RedisCluster&) = delete;

  // Starts the servers, creates the cluster, and waits (bounded: 60 s) until every node reports
  // cluster_state:ok, agrees on all 16384 slots, and every replica's link to its master is up.
  void start();

  size_t size() const { return nodes_.size(); }
  RedisServer& node(size_t i) { return *nodes_[i]; }
  // "redis://127.0.0.1:PORT" of every node, for redis.cluster.
  std::vector<std::string> seed_urls() const;
  // The index of the node whose TCP port is port; throws if none.
  size_t index_of_port(int port) const;
  // The master currently serving slot, as a running node sees it (CLUSTER SLOTS).
  size_t master_of_slot(int slot);
  // The master currently serving key's slot.
  size_t master_of_key(const std::string& key);
  // A replica of the master at index master (CLUSTER REPLICAS); throws if it has none.
  size_t replica_of(size_t master);
  // The node id (CLUSTER MYID) of node i.
  std::string node_id(size_t i);
  // A client connected to the node serving key (a RedisClient does not follow redirects).
  RedisClient client_for_key(const std::string& key);
  // Waits (bounded: 30 s) until every running node answers cluster_state:ok and names the same
  // running master for every slot, i.e. a failover or a slot move has settled.
  void wait_settled();

 private:
  size_t any_running_node();
  int replicas_per_master_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_REDIS_CLUSTER_H_
