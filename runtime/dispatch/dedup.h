// dedup.h: per-handler dedup (README "Pace and dedup"): the key an event is known by (a JSON
// pointer into its envelope), and the Redis keys that remember which keys a handler handled
// within the window (SET NX PX, written only after the handler succeeded).
#ifndef SWITCHYARD_DISPATCH_DEDUP_H_
#define SWITCHYARD_DISPATCH_DEDUP_H_

#include <rapidjson/document.h>
#include <rapidjson/pointer.h>

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// Finds the dedup key of one event. Thread safety: one per worker thread (it caches parsed
// pointers and reuses a document).
class DedupKeyReader {
 public:
  // The value at `pointer` (RFC 6901, into the envelope {"event":..., "payload":...}) of one
  // event, into *value: a string as is, a number as its JSON text. `message` is the raw message
  // (the envelope itself when raw_envelope, else a Laravel job whose event and payload are
  // given). False when the value is missing or neither a string nor a number.
  bool read(const std::string& pointer, std::string_view message, bool raw_envelope,
            std::string_view event, std::string_view payload, std::string* value);

 private:
  const rapidjson::Pointer& compiled(const std::string& pointer);
  std::map<std::string, rapidjson::Pointer> pointers_;
  rapidjson::Document document_;
};

// The Redis key remembering that `handler` handled the dedup key `value` of the source with key
// K: K:dedup:HANDLER:=VALUE for a short printable value, else K:dedup:HANDLER:#<SHA-256 hex>. Pure.
std::string dedup_redis_key(const std::string& source_key, const std::string& handler,
                            std::string_view value);

// Asks and writes the dedup keys over one worker's connection.
// Thread safety: one per worker thread (it uses that thread's connection).
class DedupStore {
 public:
  // connection: outlives the store.
  explicit DedupStore(RedisConnection* connection) : connection_(connection) {}
  // (*seen)[i] is true when keys[i] exists (was handled within its window), in one round trip.
  // Errors: Redis gone or an error reply; *seen is then all false (the deliveries are handled:
  // at-least-once).
  Status seen(const std::vector<std::string>& keys, std::vector<bool>* seen);
  // Remembers keys for window (SET key 1 NX PX window each, pipelined). Errors: Redis gone.
  Status mark(const std::vector<std::string>& keys, std::chrono::milliseconds window);

 private:
  RedisConnection* connection_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_DEDUP_H_
