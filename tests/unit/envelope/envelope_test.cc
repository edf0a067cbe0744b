// envelope_test.cc: EnvelopeDecoder on good and bad messages (README "How a message flows"), exact
// reasons.
#include "envelope/envelope.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>
#include <string_view>

#include "support/allocation_counter.h"

using namespace std::string_literals;

namespace switchyard {
namespace {

struct Decoded {
  bool ok = false;
  std::string event;
  std::string payload;
  std::string reason;
};

Decoded decode_once(std::string_view message, EnvelopeLimits limits) {
  EnvelopeDecoder decoder(limits);
  Envelope envelope;
  Decoded d;
  d.ok = decoder.decode(message, &envelope, &d.reason);
  if (d.ok) {
    d.event = std::string(envelope.event);
    d.payload = std::string(envelope.payload);
    // The payload is a slice of the message itself, never a copy.
    EXPECT_GE(envelope.payload.data(), message.data());
    EXPECT_LE(envelope.payload.data() + envelope.payload.size(), message.data() + message.size());
  }
  return d;
}

// Decodes with the given limits, and again with a depth limit on the other side of 1024, where
// the decoder switches between RapidJSON's recursive and iterative readers: unless a depth limit
// decides, both readers must give the same answer.
Decoded decode(std::string_view message, EnvelopeLimits limits = {}) {
  Decoded d = decode_once(message, limits);
  EnvelopeLimits other_limits = limits;
  other_limits.max_depth = limits.max_depth > 1024 ? 1024 : 100000;
  Decoded other = decode_once(message, other_limits);
  if (d.reason.starts_with("nesting deeper than") ||
      other.reason.starts_with("nesting deeper than"))
    return d;
  EXPECT_EQ(other.ok, d.ok);
  EXPECT_EQ(other.reason, d.reason);
  EXPECT_EQ(other.event, d.event);
  EXPECT_EQ(other.payload, d.payload);
  return d;
}

// The reason a message is refused ("" when it is accepted).
std::string reason(std::string_view message, EnvelopeLimits limits = {}) {
  Decoded d = decode(message, limits);
  EXPECT_EQ(d.ok, d.reason.empty()) << d.reason;
  return d.ok ? "" : d.reason;
}

std::string nested_arrays(int depth) { return std::string(depth, '[') + std::string(depth, ']'); }

// ---- accepted messages ----

TEST(EnvelopeTest, MinimalEnvelope) {
  Decoded d = decode(R"({"event":"quote.created","payload":{}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "quote.created");
  EXPECT_EQ(d.payload, "{}");
}

TEST(EnvelopeTest, SpecExampleWithExtraTopLevelFields) {
  const std::string payload = R"({"quote_id":1,"user_id":2,"product_id":3,"qty":4,)"
                              R"("created_at":"2026-05-07T10:00:00+00:00"})";
  Decoded d = decode(R"({"event":"quote.created","payload":)" + payload +
                     R"(,"id":"optional","version":1})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "quote.created");
  EXPECT_EQ(d.payload, payload);
}

TEST(EnvelopeTest, ExtraFieldsOfEveryTypeAreIgnored) {
  Decoded d = decode(
      R"({"a":null,"b":true,"c":1.5,"d":"x","e":[1,{"event":1}],"meta":{"event":2,"payload":3},)"
      R"("event":"e","payload":{"event":"inner","payload":"inner"},"z":[]})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "e");
  EXPECT_EQ(d.payload, R"({"event":"inner","payload":"inner"})");
}

TEST(EnvelopeTest, PayloadBeforeEvent) {
  Decoded d = decode(R"({"payload":{"x":1},"event":"user.registered"})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "user.registered");
  EXPECT_EQ(d.payload, R"({"x":1})");
}

TEST(EnvelopeTest, PayloadSliceIsExactWithWhitespace) {
  const std::string message =
      " \t\r\n{ \"event\" : \"a.b\" ,\n  \"payload\" :\t{ \"x\" : [ 1 , 2 ] }\n } \n";
  Decoded d = decode(message);
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "a.b");
  EXPECT_EQ(d.payload, "{ \"x\" : [ 1 , 2 ] }");
}

TEST(EnvelopeTest, PayloadSliceIsExactWithBracesInStringsAndNesting) {
  const std::string payload =
      R"({"s":"}{\"}\\","o":{"a":{"b":[{},{"c":"}"}]}},"t":"{","u":"\u007d","e":{}})";
  Decoded d = decode(R"({"event":"x","payload":)" + payload + R"(,"after":{"k":"}"}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.payload, payload);
}

TEST(EnvelopeTest, PayloadSliceIsExactAsLastMember) {
  Decoded d = decode(R"({"event":"x","payload":{"a":{"b":{}}}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.payload, R"({"a":{"b":{}}})");
}

TEST(EnvelopeTest, EscapedEventNameIsUnescaped) {
  Decoded d = decode(R"({"event":"quote\u002ecreated","payload":{}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "quote.created");
}

TEST(EnvelopeTest, EscapedKeysAreRecognised) {
  Decoded d = decode(R"({"\u0065vent":"a\/b","p\u0061yload":{"k":1}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "a/b");
  EXPECT_EQ(d.payload, R"({"k":1})");
}

TEST(EnvelopeTest, UnicodeEventNames) {
  Decoded d = decode("{\"event\":\"caf\xC3\xA9.\\ud83d\\ude00\",\"payload\":{}}");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "caf\xC3\xA9.\xF0\x9F\x98\x80");
}

TEST(EnvelopeTest, HugeNumbersAreOnlyValidated) {
  const std::string payload =
      R"({"a":123456789012345678901234567890123456789,"b":18446744073709551616,)"
      R"("c":-9223372036854775809,"d":1e308,"e":-1.7976931348623157e308,"f":1e-400,)"
      R"("g":0.000000000000000000000000000001,"h":3.14159265358979323846264338327950288})";
  Decoded d = decode(R"({"event":"n","payload":)" + payload + "}");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.payload, payload);
}

TEST(EnvelopeTest, NumberBeyondDoubleRangeIsRefused) {
  // Grammatically valid, but no RapidJSON-based handler could read it either: refused up front.
  EXPECT_EQ(reason(R"({"event":"n","payload":{"x":1e400}})"),
            "invalid JSON at offset 28: Number too big to be stored in double.");
}

TEST(EnvelopeTest, DepthAtTheLimitIsAccepted) {
  // The envelope is level 1, the payload level 2: 62 more arrays make 64 levels.
  EXPECT_EQ(reason(R"({"event":"d","payload":{"a":)" + nested_arrays(62) + "}}"), "");
  EXPECT_EQ(reason(R"({"event":"d","payload":{"a":)" + nested_arrays(63) + "}}"),
            "nesting deeper than 64 levels (limits.max_depth)");
}

TEST(EnvelopeTest, DecoderIsReusable) {
  EnvelopeDecoder decoder;
  Envelope envelope;
  std::string why;
  const std::string first = R"({"event":"first.event","payload":{"n":1}})";
  const std::string bad = R"({"event":"x"})";
  const std::string second = R"({"event":"s","payload":{"n":2}})";
  ASSERT_TRUE(decoder.decode(first, &envelope, &why)) << why;
  EXPECT_EQ(envelope.event, "first.event");
  EXPECT_FALSE(decoder.decode(bad, &envelope, &why));
  EXPECT_EQ(why, "missing \"payload\" key");
  EXPECT_EQ(envelope.payload, R"({"n":1})");  // unchanged on failure
  ASSERT_TRUE(decoder.decode(second, &envelope, &why)) << why;
  EXPECT_EQ(envelope.event, "s");
  EXPECT_EQ(envelope.payload, R"({"n":2})");
}

TEST(EnvelopeTest, MessageNeedNotBeNulTerminated) {
  const std::string buffer = R"({"event":"a","payload":{}}garbage)";
  Decoded d = decode(std::string_view(buffer).substr(0, 26));
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.payload, "{}");
}

TEST(EnvelopeTest, SteadyStateDecodeDoesNotAllocate) {
  const std::string message =
      R"({"event":"quote\u002ecreated","payload":{"quote_id":1,"note":"a \"quoted\" text",)"
      R"("tags":["x","y"],"nested":{"deep":[[[{"k":"v"}]]]}},"id":"abc","version":1})";
  for (int max_depth : {64, 5000}) {  // the recursive and the iterative reader
    EnvelopeDecoder decoder({.max_depth = max_depth});
    Envelope envelope;
    std::string why;
    ASSERT_TRUE(decoder.decode(message, &envelope, &why)) << why;  // warm-up
    test::AllocationCounter allocations;
    bool ok = true;
    for (int i = 0; i < 1000; ++i) ok = decoder.decode(message, &envelope, &why) && ok;
    const long allocated = allocations.stop();
    EXPECT_TRUE(ok);
    EXPECT_EQ(allocated, 0) << "max_depth " << max_depth;
    EXPECT_EQ(envelope.event, "quote.created");
  }
}

// ---- refused before parsing ----

TEST(EnvelopeTest, EmptyMessage) { EXPECT_EQ(reason(""), "message is empty"); }

TEST(EnvelopeTest, WhitespaceOnly) {
  EXPECT_EQ(reason(" \n "), "invalid JSON at offset 3: The document is empty.");
}

TEST(EnvelopeTest, OversizeIsRefusedBeforeParsing) {
  const std::string blob(10 * 1024 * 1024, 'x');  // not even JSON: never looked at
  EXPECT_EQ(reason(blob),
            "message is 10485760 bytes, over the limit of 1048576 "
            "(limits.max_message_bytes)");
}

TEST(EnvelopeTest, SizeLimitIsInclusive) {
  const std::string message = R"({"event":"a","payload":{}})";  // 26 bytes
  EXPECT_EQ(reason(message, {.max_message_bytes = 26}), "");
  EXPECT_EQ(reason(message, {.max_message_bytes = 25}),
            "message is 26 bytes, over the limit of 25 (limits.max_message_bytes)");
}

TEST(EnvelopeTest, ByteOrderMark) {
  EXPECT_EQ(reason("\xEF\xBB\xBF{\"event\":\"a\",\"payload\":{}}"),
            "message starts with a UTF-8 byte order mark");
}

// ---- not JSON ----

TEST(EnvelopeTest, TruncatedJson) {
  EXPECT_EQ(reason(R"({"event":"a","payload":{)"),
            "invalid JSON at offset 24: Missing a name for object member.");
  EXPECT_EQ(reason(R"({"event":"quote.cr)"),
            "invalid JSON at offset 18: Missing a closing quotation mark in string.");
  EXPECT_EQ(reason(R"({"event":"a","payload":{}})"s.substr(0, 25)),
            "invalid JSON at offset 25: Missing a comma or '}' after an object member.");
}

TEST(EnvelopeTest, MissingComma) {
  EXPECT_EQ(reason(R"({"event":"a" "payload":{}})"),
            "invalid JSON at offset 13: Missing a comma or '}' after an object member.");
}

TEST(EnvelopeTest, TrailingGarbage) {
  EXPECT_EQ(reason(R"({"event":"a","payload":{}} x)"),
            "invalid JSON at offset 27: The document root must not be followed by other values.");
  EXPECT_EQ(reason(R"({"event":"a","payload":{}}{})"),
            "invalid JSON at offset 26: The document root must not be followed by other values.");
}

TEST(EnvelopeTest, NotJsonSyntax) {
  EXPECT_EQ(reason(R"({"event":"a","payload":{},})"),
            "invalid JSON at offset 26: Missing a name for object member.");
  EXPECT_EQ(reason(R"({'event':'a'})"),
            "invalid JSON at offset 1: Missing a name for object member.");
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{}} // c"),
            "invalid JSON at offset 27: The document root must not be followed by other values.");
  EXPECT_EQ(reason(R"({"event":"a","payload":{"x":NaN}})"),
            "invalid JSON at offset 28: Invalid value.");
}

TEST(EnvelopeTest, InvalidEscapeAndControlCharacters) {
  EXPECT_EQ(reason(R"({"event":"a\x","payload":{}})"),
            "invalid JSON at offset 11: Invalid escape character in string.");
  EXPECT_EQ(reason("{\"event\":\"a\tb\",\"payload\":{}}"),
            "invalid JSON at offset 11: unescaped control character 0x09 in string.");
  EXPECT_EQ(reason(R"({"event":"\ud800","payload":{}})"),
            "invalid JSON at offset 10: The surrogate pair in string is invalid.");
}

// Every raw control character is refused wherever it stands, including 0x1A..0x1F in long string
// runs, which RapidJSON 1.1's SSE2 scan (on in the shipped build) would let through; the fuzzer
// found it (tests/fuzz/regressions/envelope/control-1a-in-long-key.json).
TEST(EnvelopeTest, EveryRawControlCharacterIsRefusedInShortAndLongStrings) {
  const std::string run(40, 'x');  // long enough for the 16-byte scans
  for (int c = 0x01; c < 0x20; ++c) {
    if (c == '\t' || c == '\n' || c == '\r') continue;  // whitespace outside strings; tested above
    const std::string ch(1, static_cast<char>(c));
    for (const std::string& m : {"{\"event\":\"a" + ch + "\",\"payload\":{}}",
                                 "{\"event\":\"" + run + ch + run + "\",\"payload\":{}}",
                                 "{\"" + run + ch + "\":1,\"event\":\"a\",\"payload\":{}}",
                                 "{\"event\":\"a\",\"payload\":{\"s\":\"" + run + run + ch + "\"}}",
                                 "{\"event\":\"a\"," + ch + "\"payload\":{}}"}) {
      const std::string why = reason(m);
      EXPECT_TRUE(why.starts_with("invalid JSON at offset ")) << c << ": " << why;
    }
  }
  char expected[80];
  std::snprintf(expected, sizeof expected,
                "invalid JSON at offset %zu: unescaped control "
                "character 0x1F.",
                static_cast<size_t>(10 + 40));
  EXPECT_EQ(reason("{\"event\":\"" + run + "\x1f\",\"payload\":{}}"), expected);
  // Whitespace between tokens is still fine.
  EXPECT_EQ(reason("{\n\t\"event\" :\r\n \"a\",\n\"payload\":{}\n}\n"), "");
}

TEST(EnvelopeTest, InvalidUtf8) {
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{\"s\":\"ab\xFF\"}}"),
            "invalid UTF-8 at offset 31");
  // An overlong '/', a UTF-16 surrogate, a code point above U+10FFFF, a truncated sequence.
  EXPECT_EQ(reason("{\"event\":\"\xC0\xAF\",\"payload\":{}}"), "invalid UTF-8 at offset 10");
  EXPECT_EQ(reason("{\"event\":\"\xED\xA0\x80\",\"payload\":{}}"), "invalid UTF-8 at offset 10");
  EXPECT_EQ(reason("{\"event\":\"\xF4\x90\x80\x80\",\"payload\":{}}"),
            "invalid UTF-8 at offset 10");
  EXPECT_EQ(reason("{\"event\":\"a\xE2\x82\",\"payload\":{}}"), "invalid UTF-8 at offset 11");
  EXPECT_EQ(reason("{\"e\xFF\":1,\"event\":\"a\",\"payload\":{}}"), "invalid UTF-8 at offset 3");
}

// RapidJSON itself refuses a high surrogate escape without its low one, but would decode a lone
// low one to CESU-8 bytes (ED B0 80), which are not UTF-8. Both are refused with one reason, at
// the escape's backslash, in keys and values, inside the payload or out, by both readers.
TEST(EnvelopeTest, LoneSurrogateEscapesAreRefused) {
  const std::string bad = "The surrogate pair in string is invalid.";
  // Lone low surrogate: in the event, as the event's key, in a payload value and key, deep in
  // the payload, in an unrelated member, upper case, last of its range.
  EXPECT_EQ(reason(R"({"event":"\udc00","payload":{}})"), "invalid JSON at offset 10: " + bad);
  EXPECT_EQ(reason(R"({"ev\udc00":"a","payload":{}})"), "invalid JSON at offset 4: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{"s":"x\udc00y"}})"),
            "invalid JSON at offset 30: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{"\udc00":1}})"), "invalid JSON at offset 25: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{"l":[{"m":["\uDFFF"]}]}})"),
            "invalid JSON at offset 36: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{},"id":"\udfff"})"),
            "invalid JSON at offset 32: " + bad);
  EXPECT_EQ(reason(R"("\udc00")"), "invalid JSON at offset 1: " + bad);
  // After a valid pair, or a second low one after a pair's low half: the lone one is named.
  EXPECT_EQ(reason(R"({"event":"\ud83d\ude00\udc00","payload":{}})"),
            "invalid JSON at offset 22: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{"s":"\ud83d\ude00\ude00"}})"),
            "invalid JSON at offset 41: " + bad);
  // After other escapes, among them an escaped backslash followed by a real escape.
  EXPECT_EQ(reason(R"({"event":"a\"\\\/\n","payload":{"s":"\\\udc00"}})"),
            "invalid JSON at offset 39: " + bad);
  // It wins over envelope problems that follow and over invalid JSON after it (the reader
  // stops there, as it does for a lone high surrogate).
  EXPECT_EQ(reason(R"({"event":"\udc00","payload":5})"), "invalid JSON at offset 10: " + bad);
  EXPECT_EQ(reason(R"({"event":"\udc00","payload":{)"), "invalid JSON at offset 10: " + bad);
  // But an envelope problem before it does not hide it: encoding is checked first.
  EXPECT_EQ(reason(R"({"event":5,"payload":{"s":"\udc00"}})"), "invalid JSON at offset 27: " + bad);

  // Lone high surrogate (RapidJSON's own check): at the end of a string, before a character,
  // before another high one, before an escape that is not a low surrogate, in the payload.
  EXPECT_EQ(reason(R"({"event":"a\ud800","payload":{}})"), "invalid JSON at offset 11: " + bad);
  EXPECT_EQ(reason(R"({"event":"\ud800x","payload":{}})"), "invalid JSON at offset 10: " + bad);
  EXPECT_EQ(reason(R"({"event":"\udbff\udbff","payload":{}})"),
            "invalid JSON at offset 10: " + bad);
  EXPECT_EQ(reason(R"({"event":"\ud800\u0041","payload":{}})"),
            "invalid JSON at offset 10: " + bad);
  EXPECT_EQ(reason(R"({"event":"a","payload":{"s":"\uD800"}})"),
            "invalid JSON at offset 29: " + bad);
}

TEST(EnvelopeTest, SurrogatePairsAndNeighboursAreAccepted) {
  // A pair, either case, in the event and the payload (kept verbatim in the slice).
  Decoded d = decode(R"({"event":"\ud83d\ude00","payload":{"s":"\uD83D\uDE00","\udbff\udfff":1}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "\xF0\x9F\x98\x80");
  EXPECT_EQ(d.payload, R"({"s":"\uD83D\uDE00","\udbff\udfff":1})");
  // The code points around the surrogates, escaped and raw (U+D7FF is ED 9F BF), next to a pair
  // so that the strings are scanned.
  d = decode("{\"event\":\"\\ud7ff\\ue000\xED\x9F\xBF\",\"payload\":{\"s\":\"\\ud800\\udc00\"}}");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "\xED\x9F\xBF\xEE\x80\x80\xED\x9F\xBF");
  // An escaped backslash followed by the text "udc00" is no escape.
  d = decode(R"({"event":"\\udc00","payload":{}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.event, "\\udc00");
}

TEST(EnvelopeTest, RawSurrogateBytesAreInvalidUtf8) {
  // CESU-8 written directly (not escaped): RapidJSON's UTF-8 validation refuses it.
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{\"s\":\"\xED\xA0\x80\"}}"),
            "invalid UTF-8 at offset 29");
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{\"\xED\xBF\xBF\":1}}"),
            "invalid UTF-8 at offset 25");
  EXPECT_EQ(reason("{\"event\":\"\xED\xB0\x80\",\"payload\":{}}"), "invalid UTF-8 at offset 10");
}

TEST(EnvelopeTest, NulByteIsAnErrorNotATruncation) {
  // After a complete envelope: the reader would stop there and call it a success.
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{}}\0{\"x\""s),
            "invalid JSON at offset 26: unexpected NUL byte.");
  // Inside a string, between tokens, inside the payload.
  EXPECT_EQ(reason("{\"event\":\"a\0b\",\"payload\":{}}"s),
            "invalid JSON at offset 11: unexpected NUL byte.");
  EXPECT_EQ(reason("{\"event\":\"a\",\0\"payload\":{}}"s),
            "invalid JSON at offset 13: unexpected NUL byte.");
  EXPECT_EQ(reason("{\"event\":\"a\",\"payload\":{\"k\":\0}}"s),
            "invalid JSON at offset 28: unexpected NUL byte.");
  // A NUL after an earlier error does not hide that error.
  EXPECT_EQ(reason("{\"event\":x\0}"s), "invalid JSON at offset 9: Invalid value.");
}

TEST(EnvelopeTest, EscapedNulInAStringIsFine) {
  Decoded d = decode(R"({"event":"a","payload":{"s":"x\u0000y"}})");
  ASSERT_TRUE(d.ok) << d.reason;
  EXPECT_EQ(d.payload, R"({"s":"x\u0000y"})");
}

TEST(EnvelopeTest, DeepNestingIsRefusedNotACrash) {
  const std::string deep = nested_arrays(10000);
  EXPECT_EQ(reason(R"({"event":"d","payload":{"a":)" + deep + "}}"),
            "nesting deeper than 64 levels (limits.max_depth)");
  // At top level, and unterminated: the limit is met before anything else is wrong.
  EXPECT_EQ(reason(deep), "nesting deeper than 64 levels (limits.max_depth)");
  EXPECT_EQ(reason(std::string(100000, '[')), "nesting deeper than 64 levels (limits.max_depth)");
  std::string objects;
  for (int i = 0; i < 10000; ++i) objects += R"({"a":)";
  EXPECT_EQ(reason(objects), "nesting deeper than 64 levels (limits.max_depth)");
}

TEST(EnvelopeTest, DeepLimitsUseTheIterativeReader) {
  // Over 1024 levels the recursive reader could use too much stack: the iterative one takes over.
  const std::string head = R"({"event":"d","payload":{"a":)";
  EXPECT_EQ(reason(head + nested_arrays(1022) + "}}", {.max_depth = 1024}), "");
  EXPECT_EQ(reason(head + nested_arrays(1023) + "}}", {.max_depth = 1024}),
            "nesting deeper than 1024 levels (limits.max_depth)");
  EXPECT_EQ(reason(head + nested_arrays(9998) + "}}", {.max_depth = 10000}), "");
  EXPECT_EQ(reason(head + nested_arrays(9999) + "}}", {.max_depth = 10000}),
            "nesting deeper than 10000 levels (limits.max_depth)");
  EXPECT_EQ(reason(std::string(200000, '['), {.max_depth = 100000}),
            "nesting deeper than 100000 levels (limits.max_depth)");
}

TEST(EnvelopeTest, DepthLimitIsConfigurable) {
  const std::string message = R"({"event":"d","payload":{"a":[1]}})";  // 3 levels
  EXPECT_EQ(reason(message, {.max_depth = 3}), "");
  EXPECT_EQ(reason(message, {.max_depth = 2}), "nesting deeper than 2 levels (limits.max_depth)");
}

// ---- JSON, but not an envelope ----

TEST(EnvelopeTest, TopLevelNotAnObject) {
  EXPECT_EQ(reason("[1,2]"), "message is not a JSON object (found array)");
  EXPECT_EQ(reason(R"("quote.created")"), "message is not a JSON object (found string)");
  EXPECT_EQ(reason("42"), "message is not a JSON object (found number)");
  EXPECT_EQ(reason("null"), "message is not a JSON object (found null)");
  EXPECT_EQ(reason("true"), "message is not a JSON object (found boolean)");
}

TEST(EnvelopeTest, MissingKeys) {
  EXPECT_EQ(reason("{}"), "missing \"event\" key");
  EXPECT_EQ(reason(R"({"payload":{}})"), "missing \"event\" key");
  EXPECT_EQ(reason(R"({"event":"a"})"), "missing \"payload\" key");
  EXPECT_EQ(reason(R"({"Event":"a","payload":{}})"), "missing \"event\" key");
  EXPECT_EQ(reason(R"({"event":"a","data":{"payload":{}}})"), "missing \"payload\" key");
}

TEST(EnvelopeTest, EventOfTheWrongType) {
  EXPECT_EQ(reason(R"({"event":5,"payload":{}})"),
            "\"event\" must be a non-empty string (found number)");
  EXPECT_EQ(reason(R"({"event":null,"payload":{}})"),
            "\"event\" must be a non-empty string (found null)");
  EXPECT_EQ(reason(R"({"event":{"name":"a"},"payload":{}})"),
            "\"event\" must be a non-empty string (found object)");
  EXPECT_EQ(reason(R"({"event":["a"],"payload":{}})"),
            "\"event\" must be a non-empty string (found array)");
  EXPECT_EQ(reason(R"({"event":false,"payload":{}})"),
            "\"event\" must be a non-empty string (found boolean)");
  EXPECT_EQ(reason(R"({"event":"","payload":{}})"),
            "\"event\" must be a non-empty string (found empty string)");
}

TEST(EnvelopeTest, PayloadOfTheWrongType) {
  EXPECT_EQ(reason(R"({"event":"a","payload":"{}"})"),
            "\"payload\" must be a JSON object (found string)");
  EXPECT_EQ(reason(R"({"event":"a","payload":[{}]})"),
            "\"payload\" must be a JSON object (found array)");
  EXPECT_EQ(reason(R"({"event":"a","payload":null})"),
            "\"payload\" must be a JSON object (found null)");
  EXPECT_EQ(reason(R"({"event":"a","payload":1})"),
            "\"payload\" must be a JSON object (found number)");
}

TEST(EnvelopeTest, DuplicateKeys) {
  EXPECT_EQ(reason(R"({"event":"a","event":"b","payload":{}})"), "duplicate \"event\" key");
  EXPECT_EQ(reason(R"({"event":"a","payload":{},"payload":{}})"), "duplicate \"payload\" key");
  EXPECT_EQ(reason(R"({"event":"a","ev\u0065nt":"a","payload":{}})"), "duplicate \"event\" key");
}

TEST(EnvelopeTest, InvalidJsonWinsOverEnvelopeProblems) {
  // The whole message is validated first: a broken message is reported as broken.
  EXPECT_EQ(reason(R"({"event":5,"payload":{})"),
            "invalid JSON at offset 23: Missing a comma or '}' after an object member.");
  EXPECT_EQ(reason("[1,2"),
            "invalid JSON at offset 4: Missing a comma or ']' after an array element.");
}

TEST(EnvelopeTest, FirstEnvelopeProblemIsReported) {
  EXPECT_EQ(reason(R"({"payload":"x","event":5})"),
            "\"payload\" must be a JSON object (found string)");
  EXPECT_EQ(reason(R"({"event":5,"payload":"x"})"),
            "\"event\" must be a non-empty string (found number)");
}

}  // namespace
}  // namespace switchyard
