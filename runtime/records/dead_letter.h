// dead_letter.h: the dead-letter record (README "Redis keys") (one JSON object per K:dead element).
// Thread safety: value types and pure functions.
#ifndef SWITCHYARD_RECORDS_DEAD_LETTER_H_
#define SWITCHYARD_RECORDS_DEAD_LETTER_H_

#include <optional>
#include <string>
#include <string_view>

namespace switchyard {

struct DeadLetter {
  std::string message;                // the original bytes, verbatim (or their first bytes, below)
  std::string source;                 // the source's name in routes.yaml
  std::optional<std::string> handler; // null when it failed before routing
  std::string reason;
  int attempts = 1;
  std::string failed_at;              // ISO 8601 UTC
  std::string instance;               // host:pid
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

// Lua source (to prepend to a Redis script) of the function dead_letter_head(m): the text
// `{"message":<m as a JSON string>` that encode_dead_letter writes before the tail, with, when m
// is not valid UTF-8, "message" holding m with U+FFFD for each invalid byte followed by
// `,"message_base64":"<the exact bytes>"`. A script writes a dead letter as
// dead_letter_head(m) .. tail, where tail is encode_dead_letter_tail's text.
inline constexpr char kLuaDeadLetterHead[] = R"lua(
local function dead_letter_utf8_len(m, i)
  local c = string.byte(m, i)
  if c < 0x80 then return 1 end
  local n = 0
  if c >= 0xC2 and c <= 0xDF then n = 2 elseif c >= 0xE0 and c <= 0xEF then n = 3
  elseif c >= 0xF0 and c <= 0xF4 then n = 4 else return 0 end
  if i + n - 1 > #m then return 0 end
  for k = 1, n - 1 do
    local b = string.byte(m, i + k)
    if b < 0x80 or b > 0xBF then return 0 end
  end
  local c1 = string.byte(m, i + 1)
  if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F) or (c == 0xF0 and c1 < 0x90) or
     (c == 0xF4 and c1 > 0x8F) then return 0 end
  return n
end
local function dead_letter_head(m)
  if not string.find(m, '[\128-\255]') then return '{"message":' .. cjson.encode(m) end
  local readable, i, valid = {}, 1, true
  while i <= #m do
    local n = dead_letter_utf8_len(m, i)
    if n == 0 then
      readable[#readable + 1] = '\239\191\189'
      valid = false
      i = i + 1
    else
      readable[#readable + 1] = string.sub(m, i, i + n - 1)
      i = i + n
    end
  end
  if valid then return '{"message":' .. cjson.encode(m) end
  local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  local b64 = {}
  for k = 1, #m, 3 do
    local a, b, c = string.byte(m, k, k + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = math.floor(v / 262144) % 64, math.floor(v / 4096) % 64
    local d3, d4 = math.floor(v / 64) % 64, v % 64
    b64[#b64 + 1] = string.sub(alphabet, d1 + 1, d1 + 1) .. string.sub(alphabet, d2 + 1, d2 + 1) ..
                    (b and string.sub(alphabet, d3 + 1, d3 + 1) or '=') ..
                    (c and string.sub(alphabet, d4 + 1, d4 + 1) or '=')
  end
  return '{"message":' .. cjson.encode(table.concat(readable)) .. ',"message_base64":"' ..
         table.concat(b64) .. '"'
end
)lua";

// Decodes an element of K:dead (with parse_bounded_json: any bytes are safe to pass). Returns
// false (with *error, e.g. "invalid JSON at offset 0: ...", "no \"message\" string") for
// anything not in that format.
bool decode_dead_letter(std::string_view json, DeadLetter* letter, std::string* error);

// The current time as ISO 8601 UTC with milliseconds, e.g. 2026-11-27T05:34:10.123Z.
std::string now_iso8601();

// "<hostname>:<pid>", the instance field of dead letters.
std::string instance_name();

}  // namespace switchyard

#endif  // SWITCHYARD_RECORDS_DEAD_LETTER_H_
