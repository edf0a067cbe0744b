// pace.h: rate limits and concurrency limits (README "Pace and dedup"), shared by every instance
// through Redis: a max_rate is a token bucket (dispatch/lua/token_bucket.lua) asked for a batch
// of tokens at a time; max_in_flight is a set of leased call slots (dispatch/lua/call_slot.lua).
#ifndef SWITCHYARD_DISPATCH_PACE_H_
#define SWITCHYARD_DISPATCH_PACE_H_

#include <cstdint>
#include <string>

#include "config/config.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// The bucket of a source's max_rate: K:pace. Of a handler's max_rate for deliveries from the
// source with key K: K:pace:handler:NAME. Both carry K's hash tag, if it has one. Pure.
std::string source_bucket_key(const std::string& source_key);
std::string handler_bucket_key(const std::string& source_key, const std::string& handler);
// The call slots of a handler's max_in_flight for deliveries from the source with key K:
// K:slots:handler:NAME (a sorted set: holder -> lease end). Pure.
std::string handler_slots_key(const std::string& source_key, const std::string& handler);

// "2000/s", "30/m", "5/h": a limited rate as routes.yaml writes it. Pure.
std::string rate_text(const Rate& rate);

// How many tokens a bucket of `rate` holds at most: a tenth of a second's worth, at least 1 (so
// a burst after a quiet spell stays within a tenth of a second of the rate). Pure.
int64_t bucket_capacity(const Rate& rate);

// What a bucket answered: `granted` tokens taken (<= wanted); when fewer than wanted, wait_ms is
// how long until the next token, else 0. now_ms is Redis's clock (unix ms).
struct Grant {
  int64_t granted = 0;
  int64_t wait_ms = 0;
  int64_t now_ms = 0;
};

// Takes tokens from buckets in Redis over one worker's connection.
// Thread safety: one Pacer per worker thread (it uses that thread's connection).
class Pacer {
 public:
  // connection: outlives the Pacer.
  explicit Pacer(RedisConnection* connection) : connection_(connection) {}
  // Takes up to wanted tokens of `rate` (limited) from the bucket `key`. Errors: Redis gone (the
  // connection is dropped) or an error reply (the key holds another type), with a message naming
  // the key; *grant is then zero tokens and a one-second wait.
  Status take(const std::string& key, const Rate& rate, int64_t wanted, Grant* grant);
  // Takes one of `limit` call slots at `key` for `holder` (unique per call), leased for lease_ms
  // so that a crashed holder's slot frees itself. *taken false: every slot is held, *wait_ms
  // until the first lease ends. Errors as take(), with *taken false and *wait_ms 1000.
  Status take_slot(const std::string& key, int limit, int64_t lease_ms, const std::string& holder,
                   bool* taken, int64_t* wait_ms);
  // Gives the slot back (ZREM). Errors: Redis gone; the slot then frees itself at its lease end.
  Status give_slot(const std::string& key, const std::string& holder);

 private:
  RedisConnection* connection_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_PACE_H_
