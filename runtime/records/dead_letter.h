// dead_letter.h: the dead-letter record (README "Redis keys") (one JSON object per K:dead element).
// Thread safety: value types and pure functions.
#ifndef SWITCHYARD_RECORDS_DEAD_LETTER_H_
#define SWITCHYARD_RECORDS_DEAD_LETTER_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

struct DeadLetter {
  std::string message;                 // the original bytes, verbatim (or their first bytes, below)
  std::string source;                  // the source's name in routes.yaml
  std::optional<std::string> handler;  // null when it failed before routing
  std::string reason;
  int attempts = 1;
  std::string failed_at;  // ISO 8601 UTC
  std::string instance;   // host:pid
  // Set by keep_prefix_only(): `message` holds only the first bytes of a message of
  // message_bytes bytes whose SHA-256 (lowercase hex) is message_sha256. Stored as the fields
  // "message_bytes" and "message_sha256"; such a letter cannot be replayed.
  size_t message_bytes = 0;
  std::string message_sha256;
  bool truncated() const { return !message_sha256.empty(); }
};

// How much of an oversize message its dead letter keeps.
inline constexpr size_t kDeadLetterPrefixBytes = 4096;

// Cuts letter->message to its first prefix_bytes bytes (fewer when that would split a UTF-8
// sequence of a valid message), recording its full length and SHA-256 first. The worker does
// this for every message over limits.max_message_bytes, so that a hostile producer cannot make
// K:dead hold (and grow, escaped) what the limit refused. Does nothing to a shorter message.
void keep_prefix_only(DeadLetter* letter, size_t prefix_bytes = kDeadLetterPrefixBytes);

// Encodes a dead letter as the JSON object stored in K:dead. A message that is not valid UTF-8
// cannot be a JSON string verbatim: then "message" holds it with each invalid byte replaced by
// U+FFFD and "message_base64" holds the exact bytes (decode_dead_letter prefers it).
std::string encode_dead_letter(const DeadLetter& letter);

// Encodes everything of a dead letter but the message: the text that follows
// `{"message":<json string>` up to and including the closing brace. Lets a Redis script build a
// dead letter around a message it holds without the format living in two places.
std::string encode_dead_letter_tail(const DeadLetter& letter);

// Decodes an element of K:dead (with parse_bounded_json: any bytes are safe to pass). Returns
// false (with *error, e.g. "invalid JSON at offset 0: ...", "no \"message\" string") for
// anything not in that format.
bool decode_dead_letter(std::string_view json, DeadLetter* letter, std::string* error);

// A dead letter's id: the first 16 hex digits of the SHA-256 of the element's exact bytes in
// K:dead (any bytes, a dead letter or not). Elements never change in place, so the id stays the
// same while the element is there, whatever is added, trimmed or removed around it; identical
// elements share an id and are interchangeable.
std::string dead_letter_id(std::string_view element);
inline constexpr size_t kDeadLetterIdDigits = 16;

// The current time as ISO 8601 UTC with milliseconds, e.g. 2026-11-27T05:34:10.123Z.
std::string now_iso8601();

// ms since the Unix epoch as ISO 8601 UTC with milliseconds, the format of failed_at. Strings
// of this format compare in time order.
std::string iso8601(int64_t epoch_ms);

// Parses ISO 8601 time, e.g. "2026-12-04", "2026-12-04T10:00", "2026-12-04T10:00:00.123Z",
// "2026-12-04 10:00:00+01:00" (no offset: UTC), into ms since the Unix epoch. Returns false for
// anything else.
bool parse_iso8601(std::string_view text, int64_t* epoch_ms);

// "<hostname>:<pid>", the instance field of dead letters.
std::string instance_name();

}  // namespace switchyard

#endif  // SWITCHYARD_RECORDS_DEAD_LETTER_H_
