// dead_letters.h: reading, filtering, paging and replaying the dead letters of K:dead, shared by
// `switchyard dlq` and the web console (README "Dead letters", "Web console").
// Thread safety: value types and functions that use the caller's connection from its own thread.
#ifndef SWITCHYARD_CONSOLE_DEAD_LETTERS_H_
#define SWITCHYARD_CONSOLE_DEAD_LETTERS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// The fewest hex digits of an id that name a letter (`dlq show 1a2b3c`).
inline constexpr size_t kMinDeadLetterIdDigits = 6;

// One element of K:dead, decoded.
struct Letter {
  long index = 0;  // its position in K:dead when read (0: the head, the oldest)
  std::string id;
  std::string raw;
  DeadLetter letter;
  std::string unreadable;  // why the element is not a dead letter; empty when it is one
  std::optional<std::string> event;
  std::optional<int64_t> failed_ms;
};

// Decodes one element read at `index` (any bytes: an unreadable one says why in .unreadable).
Letter read_letter(std::string raw, long index);

// The event name of a dead-lettered message, as it is (the caller escapes it); nullopt when the
// message has none.
std::optional<std::string> event_of(const std::string& message);

// A --since/--before value: an ISO 8601 time, or a duration ago ("2h", "7d"), as ms since the
// epoch. False for anything else.
bool parse_time_option(const std::string& text, int64_t now_ms, int64_t* out);

// The filters of `dlq` and of the console's dead-letter page.
struct LetterFilters {
  std::vector<std::string> ids;  // lowercase id prefixes
  std::string event_glob;        // fnmatch(3) on the event
  std::string handler;           // "-" or "null": failed before routing
  std::string reason;            // substring of the reason
  std::optional<int64_t> since, before;

  bool any_but_ids() const {
    return !event_glob.empty() || !handler.empty() || !reason.empty() || since || before;
  }
  bool any() const { return !ids.empty() || any_but_ids(); }
  bool match_id(const std::string& id) const;
  bool match(const Letter& l) const;
};

// Normalises an id prefix (lowercase) and checks it is kMinDeadLetterIdDigits..16 hex digits.
// False (with *error naming it and what to give) otherwise.
bool parse_letter_id(std::string text, std::string* id, std::string* error);

// The one-line summary of a letter as a JSON object (id, failed_at, source, handler, event,
// attempts, reason, instance, replayable; every string escaped as JSON).
std::string letter_json(const Letter& l);

// s as a JSON string literal, escaped for a terminal too.
std::string letter_json_quote(std::string_view s);

// One page of K:dead, newest first: the letters at positions offset..offset+limit-1 counted from
// the tail among those `filters` match. Reads LRANGE windows from the tail, never the whole list:
// without filters exactly the page; with filters windows until the page is full or scan_limit
// elements were read (then *complete is false and *matched counts what was seen).
struct LetterPage {
  long total = 0;        // LLEN K:dead
  long matched = 0;      // matching letters seen (all of them when complete)
  bool complete = true;  // false: the filtered scan stopped at scan_limit
  bool more = false;     // letters past this page exist
  std::vector<Letter> letters;
};
Status read_letter_page(RedisConnection& connection, const std::string& dead_key,
                        const LetterFilters& filters, long offset, long limit, LetterPage* page,
                        long scan_limit = 200000);

// Every letter of K:dead that `filters` match, oldest first, from one LRANGE (one moment's
// indexes). *total is the length of K:dead then. Errors: a failed command.
Status read_matching_letters(RedisConnection& connection, const std::string& dead_key,
                             const LetterFilters& filters, std::vector<Letter>* out, long* total);

// What replay_letter did.
enum class ReplayResult { kReplayed, kRefused, kGone };

// Replays one letter of `source`: a letter with a handler back to that handler only (through
// K:retry, due now_ms), one that failed before routing to the source's key (all its routes); the
// letter leaves K:dead in the same step. A truncated or unreadable letter is refused (*why says
// so, it stays); kGone when it left K:dead meanwhile. Errors: a failed command.
Status replay_letter(RedisConnection& connection, const SourceConfig& source, const Letter& l,
                     int64_t now_ms, ReplayResult* result, std::string* why);

// Removes exactly these elements (LREM 1 each); *removed gets the ones that were still there.
Status purge_letters(RedisConnection& connection, const std::string& dead_key,
                     const std::vector<const Letter*>& letters,
                     std::vector<const Letter*>* removed);

// Removes the `count` letters at the head of K:dead when its first and last are still `first` and
// `last` (dlq_purge_listed.lua); *purged -1 when the head changed (nothing removed).
Status purge_head(RedisConnection& connection, const std::string& dead_key, size_t count,
                  const std::string& first, const std::string& last, long* purged);

}  // namespace switchyard

#endif  // SWITCHYARD_CONSOLE_DEAD_LETTERS_H_
