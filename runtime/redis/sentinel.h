// sentinel.h: finds the current master of a Redis Sentinel deployment by asking the sentinels.
// Thread safety: reentrant (each call opens and closes its own connections).
#ifndef SWITCHYARD_REDIS_SENTINEL_H_
#define SWITCHYARD_REDIS_SENTINEL_H_

#include <chrono>

#include "redis/redis_url.h"
#include "util/status.h"

namespace switchyard {

// Asks endpoint.discovery's sentinels in order, without AUTH, for
// SENTINEL get-master-addr-by-name endpoint.sentinel_master; the first answer wins. Each sentinel
// gets timeout to connect and answer. Errors name every sentinel tried and what it said (down,
// master unknown) and say what to check.
Status ask_sentinels_for_master(
    const RedisEndpoint& endpoint, RedisNodeAddress* master,
    std::chrono::milliseconds timeout = std::chrono::milliseconds(1000));

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_SENTINEL_H_
