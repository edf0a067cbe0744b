// cluster_router.h: the Redis Cluster slot map and the parsing a cluster client needs: which
// argument of a command is its key, and what a -MOVED / -ASK redirect names.
// Thread safety: ClusterSlotMap is a value type, not thread-safe; the functions are pure.
#ifndef SWITCHYARD_REDIS_CLUSTER_ROUTER_H_
#define SWITCHYARD_REDIS_CLUSTER_ROUTER_H_

#include <hiredis/hiredis.h>

#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_url.h"

namespace switchyard {

// Which node serves each of the 16384 slots, as one node last described it (CLUSTER SLOTS).
class ClusterSlotMap {
 public:
  ClusterSlotMap();
  // Replaces the map with a CLUSTER SLOTS reply (masters only; an empty host in a reply means
  // the address the reply came from, from_node). Returns false and sets *error, leaving the map
  // unchanged, when the reply is not one.
  bool load(const redisReply* reply, const RedisNodeAddress& from_node, std::string* error);
  // The node serving slot, or nullptr when no node is known for it.
  const RedisNodeAddress* owner(int slot) const;
  // Records that node serves slot (a -MOVED redirect said so).
  void set_owner(int slot, const RedisNodeAddress& node);
  // Every node the map names, for a refresh when the current one is gone.
  const std::vector<RedisNodeAddress>& nodes() const { return nodes_; }

 private:
  std::vector<int> slot_node_;  // index into nodes_, -1 when unknown; empty until first filled
  std::vector<RedisNodeAddress> nodes_;
};

// A -MOVED or -ASK error reply: "MOVED 3999 127.0.0.1:6381".
struct ClusterRedirect {
  bool ask = false;  // ASK: this one command goes to node, after ASKING; the map is unchanged
  int slot = 0;
  RedisNodeAddress node;
};
// True (and *redirect set) when error is a MOVED or ASK redirect.
bool parse_cluster_redirect(std::string_view error, ClusterRedirect* redirect);

// The index in argv of the key that decides where the command runs, or -1 when it has none
// (PING, SCRIPT LOAD, SUBSCRIBE, CLIENT ..., EVALSHA with no keys). Covers the commands
// Switchyard sends: most take their key first; EVAL/EVALSHA, XINFO/XGROUP, OBJECT, MEMORY and
// XREADGROUP place it further on.
int command_key_index(const std::vector<std::string_view>& argv);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_CLUSTER_ROUTER_H_
