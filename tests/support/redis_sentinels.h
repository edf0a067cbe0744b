// redis_sentinels.h: a real local Redis Sentinel deployment (master, replica, three
// redis-sentinel processes on loopback TCP ports) private to one test.
#ifndef SWITCHYARD_TESTS_SUPPORT_REDIS_SENTINELS_H_
#define SWITCHYARD_TESTS_SUPPORT_REDIS_SENTINELS_H_

#include <memory>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/temp_dir.h"

namespace switchyard::test {

// A master, a replica, and three redis-sentinel processes monitoring the master as "mymaster"
// (quorum 2, down-after-milliseconds 1000, failover-timeout 5000), all on loopback TCP ports.
// With a sentinel_password the sentinels run with requirepass (and sentinel-pass, to talk to each
// other), and this class authenticates when it asks them.
// Ownership: owns every process and directory (the destructor kills them).
// Thread safety: not thread-safe; drive it from the test's main thread.
// Errors: start() and the queries throw std::runtime_error naming what was not reached.
class RedisSentinels {
 public:
  explicit RedisSentinels(std::string sentinel_password = "");
  ~RedisSentinels();
  RedisSentinels(const RedisSentinels&) = delete;
  RedisSentinels& operator=(const RedisSentinels&) = delete;

  // Starts master and replica, waits for the replication link, starts the sentinels and waits
  // (bounded: 30 s) until each knows the replica and the two other sentinels.
  void start();
  const std::string& master_name() const { return name_; }
  // "redis://127.0.0.1:PORT" of each sentinel, for redis.sentinel.nodes.
  std::vector<std::string> sentinel_urls() const;
  // The data nodes: 0 the first master, 1 its replica.
  RedisServer& node(size_t i) { return *nodes_[i]; }
  // The port of the master the sentinels name now.
  int master_port();
  // The index (0 or 1) of the node the sentinels name master now.
  size_t master_index();
  // SENTINEL FAILOVER on the first sentinel: a failover without killing anything (the old master
  // is demoted later, keeping its clients until then). Throws on an error reply.
  void failover();

 private:
  // A client of the sentinel on port, authenticated when password_ is set.
  RedisClient sentinel_client(int port) const;
  std::string name_ = "mymaster";
  std::string password_;
  std::vector<std::unique_ptr<RedisServer>> nodes_;
  TempDir dir_;
  std::vector<int> ports_;
  std::vector<ChildProcess> sentinels_;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_REDIS_SENTINELS_H_
