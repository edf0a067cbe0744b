// envelope.cc: one-pass SAX validation of a message and extraction of its "event" and "payload".
#include "envelope/envelope.h"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stream.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "util/utf8.h"

namespace switchyard {
namespace {

// Serves the reader's scratch stack from a buffer the decoder keeps, so that a steady stream of
// messages parses without touching the heap. The stack only ever grows through Realloc() on the
// block this allocator returned, so growing the buffer in place keeps its contents.
class ScratchAllocator {
 public:
  // Part of RapidJSON's Allocator concept, read only by its DOM (which this allocator never
  // serves): the reader's stack does not look at it, hence maybe_unused (clang warns otherwise).
  [[maybe_unused]] static constexpr bool kNeedFree = false;
  ScratchAllocator() = default;  // required by rapidjson::internal::Stack, never used
  explicit ScratchAllocator(std::string* buffer) : buffer_(buffer) {}

  void* Malloc(size_t size) { return Realloc(nullptr, 0, size); }
  void* Realloc(void*, size_t, size_t new_size) {
    if (new_size > buffer_->size()) buffer_->resize(std::max(new_size, 2 * buffer_->size()));
    return buffer_->data();
  }
  static void Free(void*) {}

 private:
  std::string* buffer_ = nullptr;
};

using Reader = rapidjson::GenericReader<rapidjson::UTF8<>, rapidjson::UTF8<>, ScratchAllocator>;

// RapidJSON's recursive reader is faster than its iterative one (15-30% on a 200-byte envelope)
// but takes thread stack for each nesting level (about 64 bytes). The handler stops either at
// limits.max_depth, so the recursive reader runs when that bounds its stack use to 64 KiB; beyond,
// the iterative one (whose stack is on the heap) does. They differ only in when they call
// StartObject/EndObject, and the tests run every message through both.
constexpr int kMaxRecursiveDepth = 1024;
// In situ: the reader unescapes each string where it stands in the decoder's copy of the message
// instead of pushing it byte by byte onto its stack (about twice as fast on a 200-byte envelope).
// The whole message is checked as UTF-8 before parsing (is_valid_utf8, eight ASCII bytes at a
// time) instead of by the reader (kParseValidateEncodingFlag, a byte at a time through its
// transcoder, and it turns off the reader's fast scan of plain string runs): 40% less time per
// envelope.
constexpr unsigned kRecursiveFlags = rapidjson::kParseInsituFlag;
constexpr unsigned kIterativeFlags = kRecursiveFlags | rapidjson::kParseIterativeFlag;
constexpr size_t kInitialStack = 1024;
// NUL bytes after the copy: the reader stops at the first one, and with RAPIDJSON_SSE2 it scans
// strings and whitespace in aligned 16-byte loads, so the load that finds that NUL must still be
// inside the buffer.
constexpr size_t kInsituPadding = 16;

// The offset of the first byte 0x1A..0x1F in [p, p + n), or n. JSON allows no raw control
// character anywhere (outside strings only the whitespace 09 0A 0D), and RapidJSON 1.1 refuses
// them byte by byte, but its SSE2 scan of unescaped string runs tests "s <= 0x19" where it means
// "s < 0x20" (reader.h, ScanCopyUnescapedString and SkipUnescapedString), so 0x1A..0x1F inside a
// string would pass. The decoder refuses those bytes before parsing, eight bytes at a time.
size_t find_control_the_sse2_scan_misses(const char* p, size_t n) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHighs = 0x8080808080808080ULL;
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, sizeof word);
    if (((word - kOnes * 0x20) & ~word & kHighs) == 0) continue;  // no byte below 0x20
    for (size_t k = i; k < i + 8; ++k)
      if (static_cast<unsigned char>(p[k]) >= 0x1A && static_cast<unsigned char>(p[k]) <= 0x1F)
        return k;
  }
  for (; i < n; ++i)
    if (static_cast<unsigned char>(p[i]) >= 0x1A && static_cast<unsigned char>(p[i]) <= 0x1F)
      return i;
  return n;
}

enum class Member { kOther, kEvent, kPayload };

// The raw bytes are valid UTF-8 (checked first), and RapidJSON refuses a \u escape of a high
// surrogate that a low one does not follow, but it encodes an escaped low surrogate that follows
// no high one ("\udc00") as the three bytes ED B0 80: CESU-8, not UTF-8. The decoder refuses
// those. A valid pair decodes to a four-byte sequence and raw ED A0..BF fails validation, so in a
// decoded string ED followed by A0..BF can only come from such an escape.
//
// Whether the message may hold a \u escape of a low surrogate (\uDC00..\uDFFF, either case).
// One memchr pass over the message, usually finding no backslash at all; only when it answers
// yes are the decoded strings scanned. False positives (an escaped backslash before "udc") only
// cost that scan.
bool may_escape_low_surrogate(std::string_view message) {
  const char* p = message.data();
  const char* const end = p + message.size();
  while ((p = static_cast<const char*>(std::memchr(p, '\\', end - p))) != nullptr) {
    if (end - p >= 4 && p[1] == 'u' && (p[2] | 0x20) == 'd' && (p[3] | 0x20) >= 'c' &&
        (p[3] | 0x20) <= 'f')
      return true;
    ++p;
  }
  return false;
}

// Whether a decoded string holds an encoded UTF-16 surrogate (ED A0..BF).
bool holds_surrogate(const char* str, size_t length) {
  const char* const end = str + length;
  for (const char* p = str;
       (p = static_cast<const char*>(std::memchr(p, 0xED, end - p))) != nullptr; ++p) {
    if (end - p >= 2 && static_cast<unsigned char>(p[1]) >= 0xA0) return true;
  }
  return false;
}

// The offset of the first \u escape of a low surrogate that does not end a pair, in a message
// whose JSON is valid up to the end of the string holding it (the reader stopped there). In that
// prefix every backslash starts an escape inside a string, so walking escape by escape from the
// start stays in step; RapidJSON already refused a high surrogate without its low one.
size_t lone_surrogate_offset(std::string_view message) {
  for (size_t i = 0; i + 6 <= message.size(); ++i) {
    if (message[i] != '\\') continue;
    if (message[i + 1] != 'u') {  // a two-character escape
      ++i;
      continue;
    }
    unsigned code = 0;
    for (size_t k = i + 2; k < i + 6; ++k) {
      const char c = message[k];
      code = code * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    if (code >= 0xDC00 && code <= 0xDFFF) return i;
    i += (code >= 0xD800 && code <= 0xDBFF) ? 11 : 5;  // a pair, or one escape
  }
  return message.size();  // not reached for a message the handler refused
}

// Envelope problems found in well-formed JSON, in the order they can be met.
enum class Problem {
  kNone,
  kNotObject,  // found_ names the top-level type
  kDuplicateEvent,
  kDuplicatePayload,
  kEventType,    // found_ names the "event" value's type
  kPayloadType,  // found_ names the "payload" value's type
};

// The SAX handler. depth_ counts the open objects and arrays: the top-level object is depth 1,
// so a top-level member value is met at depth 1 and a key of the top-level object at depth 1.
// Envelope problems are noted and parsing goes on (the whole message is still validated); only
// the depth limit aborts the parse.
class Handler : public rapidjson::BaseReaderHandler<rapidjson::UTF8<>, Handler> {
 public:
  Handler(rapidjson::InsituStringStream* stream, bool iterative, int max_depth,
          bool check_surrogates, std::string* event_buffer)
      : stream_(stream),
        iterative_(iterative),
        max_depth_(max_depth),
        check_surrogates_(check_surrogates),
        event_buffer_(event_buffer) {}

  bool Null() { return Scalar("null"); }
  bool Bool(bool) { return Scalar("boolean"); }
  bool Int(int) { return Scalar("number"); }
  bool Uint(unsigned) { return Scalar("number"); }
  bool Int64(int64_t) { return Scalar("number"); }
  bool Uint64(uint64_t) { return Scalar("number"); }
  bool Double(double) { return Scalar("number"); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return Scalar("number"); }

  bool String(const char* str, rapidjson::SizeType length, bool) {
    if (LoneSurrogate(str, length)) return false;
    if (depth_ == 0) return NotObject("string");
    if (depth_ != 1) return true;
    if (member_ == Member::kEvent) {
      if (length == 0) return Note(Problem::kEventType, "empty string");
      // str points into the decoder's copy of the message, rewritten by the next decode: copy it.
      event_buffer_->assign(str, length);
      has_event_ = true;
    } else if (member_ == Member::kPayload) {
      return Note(Problem::kPayloadType, "string");
    }
    return true;
  }

  bool StartObject() {
    if (depth_ == 1 && member_ == Member::kEvent) Note(Problem::kEventType, "object");
    // The iterative reader calls StartObject before it takes the '{', the recursive one after.
    if (depth_ == 1 && member_ == Member::kPayload) {
      payload_start_ = iterative_ ? stream_->Tell() : stream_->Tell() - 1;
      payload_open_ = true;
    }
    return Open();
  }

  bool Key(const char* str, rapidjson::SizeType length, bool) {
    if (LoneSurrogate(str, length)) return false;
    if (depth_ != 1) return true;
    member_ = Member::kOther;
    if (length == 5 && std::memcmp(str, "event", 5) == 0) {
      if (seen_event_) return Note(Problem::kDuplicateEvent, nullptr);
      seen_event_ = true;
      member_ = Member::kEvent;
    } else if (length == 7 && std::memcmp(str, "payload", 7) == 0) {
      if (seen_payload_) return Note(Problem::kDuplicatePayload, nullptr);
      seen_payload_ = true;
      member_ = Member::kPayload;
    }
    return true;
  }

  bool EndObject(rapidjson::SizeType) {
    --depth_;
    // Likewise for the '}', which the slice includes.
    if (depth_ == 1 && payload_open_) {
      payload_end_ = iterative_ ? stream_->Tell() + 1 : stream_->Tell();
      payload_open_ = false;
      has_payload_ = true;
    }
    return true;
  }

  bool StartArray() {
    if (depth_ == 0) NotObject("array");
    if (depth_ == 1) {
      if (member_ == Member::kEvent) Note(Problem::kEventType, "array");
      if (member_ == Member::kPayload) Note(Problem::kPayloadType, "array");
    }
    return Open();
  }

  bool EndArray(rapidjson::SizeType) {
    --depth_;
    return true;
  }

  bool depth_exceeded() const { return depth_exceeded_; }
  bool lone_surrogate() const { return lone_surrogate_; }
  Problem problem() const { return problem_; }
  const char* found() const { return found_; }
  bool has_event() const { return has_event_; }
  bool has_payload() const { return has_payload_; }
  size_t payload_start() const { return payload_start_; }
  size_t payload_end() const { return payload_end_; }

 private:
  bool Open() {
    if (++depth_ > max_depth_) {
      depth_exceeded_ = true;
      return false;  // aborts the parse (kParseErrorTermination)
    }
    return true;
  }

  bool Scalar(const char* type) {
    if (depth_ == 0) return NotObject(type);
    if (depth_ == 1) {
      if (member_ == Member::kEvent) return Note(Problem::kEventType, type);
      if (member_ == Member::kPayload) return Note(Problem::kPayloadType, type);
    }
    return true;
  }

  bool NotObject(const char* type) { return Note(Problem::kNotObject, type); }

  // Whether a string (key or value, at any depth) holds an escaped lone low surrogate; if so the
  // caller aborts the parse (kParseErrorTermination), as RapidJSON does for a lone high one.
  bool LoneSurrogate(const char* str, size_t length) {
    if (!check_surrogates_ || !holds_surrogate(str, length)) return false;
    lone_surrogate_ = true;
    return true;
  }

  // Keeps the first problem; always lets the parse go on.
  bool Note(Problem problem, const char* found) {
    if (problem_ == Problem::kNone) {
      problem_ = problem;
      found_ = found;
    }
    return true;
  }

  rapidjson::InsituStringStream* stream_;  // Tell() is the offset in the message
  bool iterative_;
  int max_depth_;
  bool check_surrogates_;  // the message may hold an escaped low surrogate: scan the strings
  std::string* event_buffer_;
  int depth_ = 0;
  bool depth_exceeded_ = false;
  bool lone_surrogate_ = false;
  Member member_ = Member::kOther;
  bool seen_event_ = false;
  bool has_event_ = false;
  bool seen_payload_ = false;
  bool has_payload_ = false;
  bool payload_open_ = false;
  size_t payload_start_ = 0;
  size_t payload_end_ = 0;
  Problem problem_ = Problem::kNone;
  const char* found_ = nullptr;
};

void invalid_json(size_t offset, const char* what, std::string* reason) {
  reason->assign("invalid JSON at offset ");
  reason->append(std::to_string(offset));
  reason->append(": ");
  reason->append(what);
}

}  // namespace

bool EnvelopeDecoder::decode(std::string_view message, Envelope* envelope, std::string* reason) {
  if (message.size() > limits_.max_message_bytes) {
    *reason = "message is " + std::to_string(message.size()) + " bytes, over the limit of " +
              std::to_string(limits_.max_message_bytes) + " (limits.max_message_bytes)";
    return false;
  }
  if (message.empty()) {
    *reason = "message is empty";
    return false;
  }
  if (message.size() >= 3 && message.compare(0, 3, "\xEF\xBB\xBF") == 0) {
    *reason = "message starts with a UTF-8 byte order mark";
    return false;
  }
  size_t bad_byte = 0;
  if (!is_valid_utf8(message.data(), message.size(), &bad_byte)) {
    *reason = "invalid UTF-8 at offset " + std::to_string(bad_byte);
    return false;
  }
  bad_byte = find_control_the_sse2_scan_misses(message.data(), message.size());
  if (bad_byte < message.size()) {
    char what[64];
    std::snprintf(what, sizeof what, "unescaped control character 0x%02X.",
                  static_cast<unsigned>(static_cast<unsigned char>(message[bad_byte])));
    invalid_json(bad_byte, what, reason);
    return false;
  }

  if (reader_stack_.size() < kInitialStack) reader_stack_.resize(kInitialStack);
  ScratchAllocator allocator(&reader_stack_);
  Reader reader(&allocator, reader_stack_.size());
  // The copy the reader parses in situ (and writes unescaped strings into): the message, then
  // NULs. A NUL ends the input for the reader, as the end of the message does.
  insitu_.assign(message.data(), message.size());
  insitu_.append(kInsituPadding, '\0');
  rapidjson::InsituStringStream stream(insitu_.data());
  const bool iterative = limits_.max_depth > kMaxRecursiveDepth;
  Handler handler(&stream, iterative, limits_.max_depth, may_escape_low_surrogate(message),
                  &event_buffer_);
  const rapidjson::ParseResult result = iterative ? reader.Parse<kIterativeFlags>(stream, handler)
                                                  : reader.Parse<kRecursiveFlags>(stream, handler);

  // The reader takes a NUL byte for the end of its input. A NUL where the parse stopped (or
  // before) is what ended it: report it rather than the reader's guess, or a silent truncation.
  const size_t stop = result.IsError() ? result.Offset() : stream.Tell();
  if (result.IsError() || stop != message.size()) {
    const void* nul = std::memchr(message.data(), '\0', message.size());
    if (nul != nullptr) {
      const size_t at = static_cast<size_t>(static_cast<const char*>(nul) - message.data());
      if (at <= stop) {
        invalid_json(at, "unexpected NUL byte.", reason);
        return false;
      }
    }
  }
  if (result.IsError()) {
    if (result.Code() == rapidjson::kParseErrorTermination && handler.depth_exceeded()) {
      *reason =
          "nesting deeper than " + std::to_string(limits_.max_depth) + " levels (limits.max_depth)";
    } else if (result.Code() == rapidjson::kParseErrorTermination && handler.lone_surrogate()) {
      // The same reason, at the same place (the escape's backslash), as a lone high surrogate.
      invalid_json(lone_surrogate_offset(message),
                   rapidjson::GetParseError_En(rapidjson::kParseErrorStringUnicodeSurrogateInvalid),
                   reason);
    } else if (result.Code() == rapidjson::kParseErrorStringInvalidEncoding) {
      *reason = "invalid UTF-8 at offset " + std::to_string(result.Offset());
    } else if (result.Code() == rapidjson::kParseErrorStringEscapeInvalid &&
               result.Offset() < message.size() &&
               static_cast<unsigned char>(message[result.Offset()]) < 0x20) {
      // RapidJSON reports a raw control character as a bad escape: say what it is.
      char what[64];
      std::snprintf(what, sizeof what, "unescaped control character 0x%02X in string.",
                    static_cast<unsigned>(static_cast<unsigned char>(message[result.Offset()])));
      invalid_json(result.Offset(), what, reason);
    } else {
      invalid_json(result.Offset(), rapidjson::GetParseError_En(result.Code()), reason);
    }
    return false;
  }

  switch (handler.problem()) {
    case Problem::kNone:
      break;
    case Problem::kNotObject:
      *reason = std::string("message is not a JSON object (found ") + handler.found() + ")";
      return false;
    case Problem::kDuplicateEvent:
      *reason = "duplicate \"event\" key";
      return false;
    case Problem::kDuplicatePayload:
      *reason = "duplicate \"payload\" key";
      return false;
    case Problem::kEventType:
      *reason = std::string("\"event\" must be a non-empty string (found ") + handler.found() + ")";
      return false;
    case Problem::kPayloadType:
      *reason = std::string("\"payload\" must be a JSON object (found ") + handler.found() + ")";
      return false;
  }
  if (!handler.has_event()) {
    *reason = "missing \"event\" key";
    return false;
  }
  if (!handler.has_payload()) {
    *reason = "missing \"payload\" key";
    return false;
  }
  envelope->event = event_buffer_;
  envelope->payload =
      message.substr(handler.payload_start(), handler.payload_end() - handler.payload_start());
  return true;
}

}  // namespace switchyard
