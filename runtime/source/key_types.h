// key_types.h: heals a list source's Redis keys that someone replaced with a value of another
// type (WRONGTYPE): bookkeeping and dead-letter keys are moved aside, K itself is alerted.
// Thread safety: a free function; use the calling thread's connection.
#ifndef SWITCHYARD_SOURCE_KEY_TYPES_H_
#define SWITCHYARD_SOURCE_KEY_TYPES_H_

#include <string>

#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

// Checks the type of every key of a list source (K and its K:... keys, with this consumer's
// heartbeat and worker's in-flight list; notify_key too when not empty). A key of another type
// than Switchyard writes is RENAMEd to K:quarantine:<rest of its name>:<ISO time>, nothing lost,
// and the alert wrongtype_<rest> names both and says what to do. K itself is never moved (it is
// the producers' key): *pending_unusable is then set and the alert wrongtype_pending raised.
// Returns the first Redis error. Call it after a command of the source failed with WRONGTYPE.
Status heal_key_types(RedisConnection* connection, const SourceKeys& keys,
                      const std::string& consumer, int worker, const std::string& notify_key,
                      bool* pending_unusable);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_KEY_TYPES_H_
