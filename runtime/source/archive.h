// archive.h: the archive stream K:archive and the cursor of a backfill or replay (README
// "History: archive, backfill, replay"). An archive entry is one acknowledged message (field m,
// its bytes as taken); its id's time is when it was handled. A backfill copies archive entries,
// in id order and in chunks, into K:retry as deliveries to one handler; its cursor, the hash
// K:backfill:<handler>, moves in the same script as each chunk, so a chunk is enqueued once.
// Thread safety: free functions on the caller's connection; value types.
#ifndef SWITCHYARD_SOURCE_ARCHIVE_H_
#define SWITCHYARD_SOURCE_ARCHIVE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

// One backfill's cursor and totals: the hash K:backfill:<handler>.
struct BackfillCursor {
  std::string verb = "backfill";  // backfill | replay: the command that started it
  int64_t from_ms = 0;            // archive entries handled at or after this (unix ms)...
  int64_t until_ms = 0;           // ...and before this
  std::string event;              // fnmatch(3) glob on the event; empty: every event
  std::string last_id;            // the last archive id copied ("" before the first chunk)
  int64_t scanned = 0;            // archive entries read so far
  int64_t sent = 0;               // of them enqueued for the handler
  int64_t started_ms = 0;         // when it started (unix ms), and when a chunk last moved it
  int64_t updated_ms = 0;
  int64_t rate = 0;  // --rate, per second
  bool done = false;
  // Every run's totals since the cursor was created (--reset keeps them): how many runs started,
  // archive entries read and deliveries enqueued. The fields above are the latest run's.
  int64_t runs = 0;
  int64_t scanned_all = 0;
  int64_t sent_all = 0;

  // How far through its time range it is, 0..1, by the handled time of the last id copied.
  double fraction() const;
  // Estimated ms until done at the pace so far; nullopt when unknown (nothing copied yet) or done.
  std::optional<int64_t> eta_ms(int64_t now_ms) const;
};

// The unix ms an archive (stream) id stands for ("1700000000000-3" -> 1700000000000); 0 when
// id is not one.
int64_t archive_id_ms(std::string_view id);

// Reads K:backfill:<handler> into *cursor; *found is false (and *cursor default) when there is
// none. Errors: Redis errors, and a key of another type (named, with what to do).
Status read_backfill(RedisConnection* connection, const SourceKeys& keys,
                     const std::string& handler, BackfillCursor* cursor, bool* found);

// Starts a run: writes the run's fields (replacing the previous run's), counts one more run and
// keeps the totals of every run.
Status start_backfill(RedisConnection* connection, const SourceKeys& keys,
                      const std::string& handler, const BackfillCursor& cursor);

// Enqueues one chunk: ZADDs retries (score, member) to K:retry and moves the cursor from
// expected_last to new_last, adding scanned and sent, atomically, only if the cursor still stands
// at expected_last. *moved is false (nothing written) when it does not: another run moved it.
Status enqueue_backfill_chunk(RedisConnection* connection, const SourceKeys& keys,
                              const std::string& handler, const std::string& expected_last,
                              const std::string& new_last, int64_t scanned,
                              const std::vector<std::pair<std::string, std::string>>& retries,
                              int64_t now_ms, bool* moved);

// Marks the cursor done (it stays, for `stats` and so that the range is not sent again).
Status finish_backfill(RedisConnection* connection, const SourceKeys& keys,
                       const std::string& handler, int64_t now_ms);

// The cursors of `handlers` (those that have one) on `source`, by handler name: one HGETALL per
// handler, none when the source keeps no archive. Errors: as read_backfill.
Status read_backfills(RedisConnection* connection, const SourceConfig& source,
                      const std::vector<std::string>& handlers,
                      std::vector<std::pair<std::string, BackfillCursor>>* cursors);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_ARCHIVE_H_
