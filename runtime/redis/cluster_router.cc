// cluster_router.cc: the Redis Cluster slot map, redirect parsing and command key positions.
#include "redis/cluster_router.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "redis/crc16.h"

namespace switchyard {
namespace {

bool equal_nocase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) ==
                  std::toupper(static_cast<unsigned char>(y));
         });
}

bool parse_int(std::string_view text, int* out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

ClusterSlotMap::ClusterSlotMap() = default;

bool ClusterSlotMap::load(const redisReply* reply, const RedisNodeAddress& from_node,
                          std::string* error) {
  // Each element: [start, end, [host, port, id, ...] (the master), [replica]...]
  if (reply == nullptr || reply->type != REDIS_REPLY_ARRAY) {
    *error = "CLUSTER SLOTS did not answer an array (is cluster-enabled yes set on this node?)";
    return false;
  }
  std::vector<int> slots(kClusterSlots, -1);
  std::vector<RedisNodeAddress> nodes;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* range = reply->element[i];
    if (range->type != REDIS_REPLY_ARRAY || range->elements < 3 ||
        range->element[0]->type != REDIS_REPLY_INTEGER ||
        range->element[1]->type != REDIS_REPLY_INTEGER ||
        range->element[2]->type != REDIS_REPLY_ARRAY || range->element[2]->elements < 2 ||
        range->element[2]->element[0]->type != REDIS_REPLY_STRING ||
        range->element[2]->element[1]->type != REDIS_REPLY_INTEGER) {
      *error = "CLUSTER SLOTS answered an entry of an unexpected shape";
      return false;
    }
    const long long first = range->element[0]->integer, last = range->element[1]->integer;
    if (first < 0 || last >= kClusterSlots || first > last) {
      *error = "CLUSTER SLOTS answered a slot range out of 0..16383";
      return false;
    }
    const redisReply* master = range->element[2];
    RedisNodeAddress node{std::string(master->element[0]->str, master->element[0]->len),
                          static_cast<int>(master->element[1]->integer)};
    if (node.host.empty() || node.host == "?") node.host = from_node.host;
    auto it = std::find_if(nodes.begin(), nodes.end(), [&](const RedisNodeAddress& n) {
      return n.host == node.host && n.port == node.port;
    });
    const int index = static_cast<int>(it - nodes.begin());
    if (it == nodes.end()) nodes.push_back(node);
    for (long long s = first; s <= last; ++s) slots[static_cast<size_t>(s)] = index;
  }
  slot_node_ = std::move(slots);
  nodes_ = std::move(nodes);
  return true;
}

const RedisNodeAddress* ClusterSlotMap::owner(int slot) const {
  if (slot < 0 || slot >= kClusterSlots || slot_node_.empty()) return nullptr;
  const int index = slot_node_[static_cast<size_t>(slot)];
  return index < 0 ? nullptr : &nodes_[static_cast<size_t>(index)];
}

void ClusterSlotMap::set_owner(int slot, const RedisNodeAddress& node) {
  if (slot < 0 || slot >= kClusterSlots) return;
  if (slot_node_.empty()) slot_node_.assign(kClusterSlots, -1);
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const RedisNodeAddress& n) {
    return n.host == node.host && n.port == node.port;
  });
  const int index = static_cast<int>(it - nodes_.begin());
  if (it == nodes_.end()) nodes_.push_back(node);
  slot_node_[static_cast<size_t>(slot)] = index;
}

bool parse_cluster_redirect(std::string_view error, ClusterRedirect* redirect) {
  bool ask;
  if (error.rfind("MOVED ", 0) == 0) {
    ask = false;
    error.remove_prefix(6);
  } else if (error.rfind("ASK ", 0) == 0) {
    ask = true;
    error.remove_prefix(4);
  } else {
    return false;
  }
  const size_t space = error.find(' ');
  const size_t colon = error.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space)
    return false;
  int slot = 0, port = 0;
  if (!parse_int(error.substr(0, space), &slot) || slot < 0 || slot >= kClusterSlots ||
      !parse_int(error.substr(colon + 1), &port) || port <= 0 || port > 65535)
    return false;
  std::string_view host = error.substr(space + 1, colon - space - 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  redirect->ask = ask;
  redirect->slot = slot;
  redirect->node = RedisNodeAddress{std::string(host), port};
  return true;
}

int command_key_index(const std::vector<std::string_view>& argv) {
  if (argv.size() < 2) return -1;
  const std::string_view name = argv[0];
  for (const char* keyless :
       {"PING",      "AUTH",       "SELECT",      "CLIENT",       "SCRIPT",   "CONFIG",
        "INFO",      "TIME",       "ROLE",        "CLUSTER",      "ASKING",   "PUBLISH",
        "SUBSCRIBE", "PSUBSCRIBE", "UNSUBSCRIBE", "PUNSUBSCRIBE", "SENTINEL", "DBSIZE",
        "FLUSHALL",  "FLUSHDB",    "SCAN",        "KEYS",         "WAIT",     "MULTI",
        "EXEC",      "DISCARD",    "COMMAND",     "HELLO",        "ECHO",     "QUIT"})
    if (equal_nocase(name, keyless)) return -1;
  if (equal_nocase(name, "EVAL") || equal_nocase(name, "EVALSHA")) {
    int numkeys = 0;
    return argv.size() > 3 && parse_int(argv[2], &numkeys) && numkeys > 0 ? 3 : -1;
  }
  if (equal_nocase(name, "XINFO") || equal_nocase(name, "XGROUP") || equal_nocase(name, "OBJECT") ||
      equal_nocase(name, "MEMORY"))
    return argv.size() > 2 ? 2 : -1;
  if (equal_nocase(name, "XREADGROUP") || equal_nocase(name, "XREAD")) {
    for (size_t i = 1; i + 1 < argv.size(); ++i)
      if (equal_nocase(argv[i], "STREAMS")) return static_cast<int>(i + 1);
    return -1;
  }
  return 1;
}

}  // namespace switchyard
