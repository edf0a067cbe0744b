// source_alerts.h: alerts about Redis state that Switchyard cannot heal without losing data, kept
// in the hash K:alerts (field: a short code such as "inflight_foreign"; value: one line
// "<ISO time> <what happened, naming the key>; <what to do>") for `switchyard stats` to show.
// Thread safety: raise_alert may be called from any thread with that thread's own connection.
#ifndef SWITCHYARD_SOURCE_SOURCE_ALERTS_H_
#define SWITCHYARD_SOURCE_SOURCE_ALERTS_H_

#include <string>
#include <string_view>

#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

// Records the alert `code` of the source with keys `keys`: HSET K:alerts code "<now> <text>"
// (replacing an older alert with the same code), and logs text at error level unless this
// process logged that same text already (see log_once; later raises only refresh the hash). text
// names the key and says what to do, separated by "; ". The connection is borrowed. Returns the
// HSET's error (the alert is logged even then); an operator clears an alert with HDEL K:alerts
// code once the cause is fixed.
Status raise_alert(RedisConnection* connection, const SourceKeys& keys, std::string_view code,
                   std::string_view text);

// True the first time this process passes `text` (until forget_logged(text)): callers that
// repeat a refusal every second log it once, and a refusal raised as an alert is not logged again
// by the worker that meets it. Thread-safe.
bool log_once(std::string_view text);
void forget_logged(std::string_view text);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_SOURCE_ALERTS_H_
