// envelope.h: decodes and validates one message (README "How a message flows") without copying it.
// Thread safety: EnvelopeDecoder is not thread-safe (it reuses buffers); use one per thread.
#ifndef SWITCHYARD_ENVELOPE_ENVELOPE_H_
#define SWITCHYARD_ENVELOPE_ENVELOPE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace switchyard {

// A decoded envelope. `payload` is a slice of the message bytes passed to decode(); `event` views
// the decoder's own buffer (the name unescaped, so it never points into the message). Valid until
// the next decode() call on the same decoder or until the message bytes are freed.
struct Envelope {
  std::string_view event;    // the "event" value, unescaped, non-empty
  std::string_view payload;  // the JSON text of the "payload" object: a slice of the message
};

struct EnvelopeLimits {
  size_t max_message_bytes = 1048576;
  int max_depth = 64;
};

class EnvelopeDecoder {
 public:
  explicit EnvelopeDecoder(EnvelopeLimits limits = {}) : limits_(limits) {}

  // Replaces the limits for the following decode() calls (keeps the buffers). The worker calls
  // it per batch with its pipeline's `limits:`, so a reload takes effect at the next batch.
  void set_limits(EnvelopeLimits limits) { limits_ = limits; }
  const EnvelopeLimits& limits() const { return limits_; }

  // Validates message as a whole (well-formed JSON, valid UTF-8, within the limits) and extracts
  // the envelope. Returns true on success. On failure returns false and sets *reason to a
  // specific, human-readable reason suitable for a dead letter, for example:
  //   "message is 10485760 bytes, over the limit of 1048576 (limits.max_message_bytes)"
  //   "invalid JSON at offset 17: Missing a comma or '}' after an object member."
  //   "message is not a JSON object (found array)"
  //   "missing \"event\" key"            "\"event\" must be a non-empty string (found number)"
  //   "missing \"payload\" key"          "\"payload\" must be a JSON object (found string)"
  //   "nesting deeper than 64 levels (limits.max_depth)"
  //   "duplicate \"event\" key"          "invalid UTF-8 at offset 12"
  // An oversize message is refused before any parsing. A message that is not valid JSON (or is
  // nested deeper than the limit) is reported as such first; only a well-formed message gets an
  // envelope reason (not an object, missing/duplicate/mistyped "event" or "payload"). A NUL byte
  // anywhere is invalid JSON, never a silent end of message. Numbers are validated, not kept;
  // one too big for a double (1e400) is invalid JSON, as every RapidJSON-based handler would say.
  // On failure *envelope is left unchanged. Never throws; after warm-up it does not allocate on
  // success (a failure formats *reason). Its buffers grow to fit the largest message seen.
  bool decode(std::string_view message, Envelope* envelope, std::string* reason);

 private:
  EnvelopeLimits limits_;
  std::string event_buffer_;  // the unescaped event name of the last decoded message
  std::string reader_stack_;  // the JSON reader's scratch stack, kept from call to call
  std::string insitu_;        // a copy of the message the reader parses (and unescapes) in situ
};

}  // namespace switchyard

#endif  // SWITCHYARD_ENVELOPE_ENVELOPE_H_
