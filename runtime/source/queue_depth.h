// queue_depth.h: how many messages of one source wait, are being handled, retry or are dead.
// Thread safety: uses the caller's connection; call from the thread that owns it.
#ifndef SWITCHYARD_SOURCE_QUEUE_DEPTH_H_
#define SWITCHYARD_SOURCE_QUEUE_DEPTH_H_

#include "config/config.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

struct QueueDepth {
  long long pending = 0;   // not yet taken (streams: the group's lag, 0 when Redis cannot tell)
  long long inflight = 0;  // taken, not yet acknowledged (in-flight lists, the lease window, or
                           // the group's pending entries)
  long long retry = 0;     // scheduled retries (K:retry)
  long long dead = 0;      // dead letters (K:dead)
};

// Reads the depth of `source` with a few commands (one per in-flight list). Errors: a failed
// command (connection lost, ACL refusal) as an error status naming it.
Status read_queue_depth(RedisConnection& connection, const SourceConfig& source, QueueDepth* depth);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_QUEUE_DEPTH_H_
