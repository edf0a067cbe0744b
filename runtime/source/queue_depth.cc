// queue_depth.cc: reads a source's depth per state for the metrics endpoint.
#include "source/queue_depth.h"

#include <algorithm>
#include <cstdlib>
#include <string>

#include "source/source.h"

namespace switchyard {
namespace {

std::string_view view(const redisReply* r) { return {r->str ? r->str : "", r->len}; }

// A field of an XINFO GROUPS entry (a flat name/value array), or nullptr.
const redisReply* field(const redisReply* entry, std::string_view name) {
  if (entry->type != REDIS_REPLY_ARRAY) return nullptr;
  for (size_t i = 0; i + 1 < entry->elements; i += 2)
    if (view(entry->element[i]) == name) return entry->element[i + 1];
  return nullptr;
}

}  // namespace

Status read_queue_depth(RedisConnection& connection, const SourceConfig& source,
                        QueueDepth* depth) {
  *depth = QueueDepth{};
  SourceKeys keys(source.key);
  Status status;
  auto integer = [&](std::vector<std::string_view> argv) -> long long {
    Reply reply;
    Status s = connection.command_ok(argv, &reply);
    if (!s) status = s;
    return s && reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  };
  depth->dead = integer({"LLEN", keys.dead()});
  depth->retry = integer({"ZCARD", keys.retry()});
  if (!status) return status;
  if (source.type == SourceType::kStream) {
    Reply groups;
    Status s = connection.command({"XINFO", "GROUPS", source.key}, &groups);
    if (!s) return s;
    if (groups->type != REDIS_REPLY_ARRAY) return Status::ok();  // no stream yet
    for (size_t g = 0; g < groups->elements; ++g) {
      const redisReply* name = field(groups->element[g], "name");
      if (name == nullptr || view(name) != source.group) continue;
      const redisReply* pending = field(groups->element[g], "pending");
      const redisReply* lag = field(groups->element[g], "lag");
      if (pending && pending->type == REDIS_REPLY_INTEGER) depth->inflight = pending->integer;
      if (lag && lag->type == REDIS_REPLY_INTEGER) depth->pending = lag->integer;
    }
    return Status::ok();
  }
  depth->pending = integer({"LLEN", keys.pending});
  Reply owners;
  Status s = connection.command_ok({"HKEYS", keys.owners()}, &owners);
  if (!s) return s;
  for (size_t i = 0; i < owners->elements; ++i)
    depth->inflight += integer({"LLEN", view(owners->element[i])});
  if (source.delivery == Delivery::kLease) {
    // The lease window is still at the head of K: count it as in flight, not pending.
    Reply window;
    s = connection.command_ok({"HGET", keys.window(), "n"}, &window);
    if (!s) return s;
    long long n = window->type == REDIS_REPLY_STRING ? std::atoll(window->str) : 0;
    n = std::clamp(n, 0LL, depth->pending);
    depth->pending -= n;
    depth->inflight += n;
  }
  return status;
}

}  // namespace switchyard
