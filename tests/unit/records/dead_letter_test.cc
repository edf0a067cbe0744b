// dead_letter_test.cc: the K:dead record format (README "Redis keys") round-trips exactly,
// including messages that are not valid UTF-8, and the script tail matches the full encoding.
#include "records/dead_letter.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace switchyard {
namespace {

DeadLetter sample(std::string message) {
  DeadLetter d;
  d.message = std::move(message);
  d.source = "analytics";
  d.handler = "quotes_db";
  d.reason = "payload.qty: expected integer";
  d.attempts = 3;
  d.failed_at = "2026-11-27T05:50:46.843Z";
  d.instance = "host:42";
  return d;
}

TEST(DeadLetter, EncodesEveryFieldAndRoundTrips) {
  DeadLetter d = sample(R"({"event":"quote.created","payload":{"qty":"x"}})");
  std::string json = encode_dead_letter(d);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  ASSERT_TRUE(doc.IsObject()) << json;
  EXPECT_EQ(std::string(doc["message"].GetString()), d.message);
  EXPECT_STREQ(doc["source"].GetString(), "analytics");
  EXPECT_STREQ(doc["handler"].GetString(), "quotes_db");
  EXPECT_EQ(doc["attempts"].GetInt(), 3);
  EXPECT_FALSE(doc.HasMember("message_base64"));
  DeadLetter back;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(json, &back, &error)) << error;
  EXPECT_EQ(back.message, d.message);
  EXPECT_EQ(back.handler, d.handler);
}

TEST(DeadLetter, NullHandlerBeforeRouting) {
  DeadLetter d = sample("not json");
  d.handler.reset();
  std::string json = encode_dead_letter(d);
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  EXPECT_TRUE(doc["handler"].IsNull()) << json;
}

TEST(DeadLetter, InvalidUtf8KeepsValidJsonAndExactBytes) {
  std::string bytes = std::string("{\"event\":\"a\xff\xfe\",\"payload\":{}}") + '\0' + "\xc0\xaf";
  std::string json = encode_dead_letter(sample(bytes));
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
  ASSERT_FALSE(doc.HasParseError()) << "dead letter must be valid UTF-8 JSON: " << json;
  ASSERT_TRUE(doc.HasMember("message_base64"));
  DeadLetter back;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(json, &back, &error)) << error;
  EXPECT_EQ(back.message, bytes);
}

// F5..FF never start a UTF-8 sequence; the encoder once took F5 80 80 for a three-byte one and
// wrote it raw, making the dead letter itself invalid JSON text.
TEST(DeadLetter, EveryInvalidLeadByteGoesToBase64) {
  for (const char* bytes : {"\xf5\x80\x80\x80", "\xf8\x80\x80\x80\x80", "\xfe\x80\x80", "\xc1\xbf",
                            "\xed\xa0\x80", "\xf4\x90\x80\x80"}) {
    const std::string message = std::string("{\"n\":\"") + bytes + "\"}";
    const std::string json = encode_dead_letter(sample(message));
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(json.data(), json.size());
    ASSERT_FALSE(doc.HasParseError()) << "dead letter must be valid UTF-8 JSON: " << json;
    EXPECT_TRUE(doc.HasMember("message_base64")) << json;
    DeadLetter back;
    std::string error;
    ASSERT_TRUE(decode_dead_letter(json, &back, &error)) << error;
    EXPECT_EQ(back.message, message);
  }
}

// A handler's reason (a plugin's text), a source, handler or instance name may hold any bytes:
// the letter stays valid JSON that decodes, with U+FFFD for each invalid byte (only "message"
// keeps exact bytes, in message_base64). A lone surrogate escape decoded from a letter is such
// a byte sequence too.
TEST(DeadLetter, InvalidUtf8InTheOtherFieldsStillDecodes) {
  DeadLetter letter;
  letter.message = "{}";
  letter.source = "ev\xff";
  letter.handler = std::string("h\xc3");
  letter.reason = std::string("bad \xed\xb0\x80 bytes \xfe");
  letter.failed_at = "2026-11-27T05:34:10.123Z";
  letter.instance = "host:\x80";
  const std::string encoded = encode_dead_letter(letter);
  DeadLetter back;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(encoded, &back, &error)) << error << "\n" << encoded;
  EXPECT_EQ(back.source, "ev\xef\xbf\xbd");
  EXPECT_EQ(*back.handler, "h\xef\xbf\xbd");
  EXPECT_EQ(back.reason.find("\xed"), std::string::npos) << back.reason;
  EXPECT_EQ(back.instance, "host:\xef\xbf\xbd");
  // And the tail a Redis script appends is the same valid JSON.
  EXPECT_NE(encode_dead_letter_tail(letter).find("\xef\xbf\xbd"), std::string::npos);
}

// A letter read back from Redis may hold a lone surrogate escape in any text field, the oversize
// message's digest included: its three bytes (ED B0 80) read as three U+FFFD, and writing it again
// gives the same letter (fuzz_dead_letter found the digest written raw, which made the rewritten
// letter unreadable).
TEST(DeadLetter, LoneSurrogateInAnyTextFieldReadsBackAsReplacementAndRoundTrips) {
  const std::string stored =
      R"({"message":"{}","message_bytes":9000,"message_sha256":"ab\udc00cd",)"
      R"("source":"s\udc00","handler":"h\udc00","reason":"r\udc00","attempts":1,)"
      R"("failed_at":"t\udc00","instance":"i\udc00"})";
  const std::string r = "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd";
  DeadLetter letter;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(stored, &letter, &error)) << error;
  EXPECT_EQ(letter.message_sha256, "ab" + r + "cd");
  EXPECT_EQ(letter.source, "s" + r);
  EXPECT_EQ(*letter.handler, "h" + r);
  EXPECT_EQ(letter.reason, "r" + r);
  EXPECT_EQ(letter.failed_at, "t" + r);
  EXPECT_EQ(letter.instance, "i" + r);
  const std::string again = encode_dead_letter(letter);
  DeadLetter back;
  ASSERT_TRUE(decode_dead_letter(again, &back, &error)) << error << "\n" << again;
  EXPECT_EQ(back.message_sha256, letter.message_sha256);
  EXPECT_EQ(back.message_bytes, 9000u);
  EXPECT_EQ(encode_dead_letter(back), again);
}

// An oversize message's letter always names its digest. One stored with an empty
// "message_sha256" would read back as a whole message (and be replayed as one) although its
// "message" is only a prefix: it is refused, and `dlq` shows it as unreadable.
TEST(DeadLetter, EmptyDigestBesideAByteCountIsRefused) {
  DeadLetter letter;
  std::string error;
  EXPECT_FALSE(decode_dead_letter(R"({"message":"{}","message_bytes":9000,"message_sha256":""})",
                                  &letter, &error));
  EXPECT_EQ(error, "\"message_sha256\" is empty");
}

TEST(DeadLetter, TailMatchesTheFullEncoding) {
  DeadLetter d = sample("");
  std::string whole = encode_dead_letter(d);
  EXPECT_EQ("{\"message\":\"\"" + encode_dead_letter_tail(d), whole);
}

// A dead letter is whatever K:dead holds: anyone who can write the key can put anything there.
// 300,000 '[' crashed the recursive DOM parse (of `dlq list`, `dlq show`, replay).
TEST(DeadLetter, DecodingDeeplyNestedJunkFailsCleanly) {
  DeadLetter back;
  std::string error;
  EXPECT_FALSE(decode_dead_letter(std::string(300000, '['), &back, &error));
  EXPECT_EQ(error, "nests deeper than 64 levels");
  EXPECT_FALSE(decode_dead_letter("{\"message\":" + std::string(300000, '['), &back, &error));
  EXPECT_FALSE(decode_dead_letter("garbage", &back, &error));
  EXPECT_EQ(error.rfind("invalid JSON at offset 0", 0), 0u) << error;
  EXPECT_FALSE(decode_dead_letter("[]", &back, &error));
  EXPECT_EQ(error, "not a JSON object");
}

// An oversize message's dead letter keeps its first 4 KiB, its length and its SHA-256.
TEST(DeadLetter, KeepPrefixOnlyRecordsLengthAndSha256) {
  // 3,000 two-byte characters: the 4,096-byte cut falls on a sequence boundary.
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "\xc3\xa9";
  DeadLetter d = sample(big);
  keep_prefix_only(&d);
  EXPECT_EQ(d.message, big.substr(0, 4096));
  EXPECT_EQ(d.message_bytes, 6000u);
  EXPECT_EQ(d.message_sha256, "557bf944b8c2f7b5ac98cd9894438f6b645f006e4f726e74fd307871d8d3c87a");
  EXPECT_TRUE(d.truncated());

  const std::string json = encode_dead_letter(d);
  EXPECT_LT(json.size(), 4096u + 400u) << json;
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  ASSERT_TRUE(doc.IsObject()) << json;
  EXPECT_EQ(doc["message_bytes"].GetUint64(), 6000u);
  EXPECT_STREQ(doc["message_sha256"].GetString(), d.message_sha256.c_str());
  EXPECT_FALSE(doc.HasMember("message_base64"));
  DeadLetter back;
  std::string error;
  ASSERT_TRUE(decode_dead_letter(json, &back, &error)) << error;
  EXPECT_EQ(back.message, d.message);
  EXPECT_EQ(back.message_bytes, 6000u);
  EXPECT_EQ(back.message_sha256, d.message_sha256);
}

TEST(DeadLetter, KeepPrefixOnlyCutsAtASequenceStart) {
  std::string big = "a";  // the 4,096-byte cut now splits a two-byte character
  for (int i = 0; i < 3000; ++i) big += "\xc3\xa9";
  DeadLetter d = sample(big);
  keep_prefix_only(&d);
  EXPECT_EQ(d.message.size(), 4095u);
  EXPECT_EQ(d.message_bytes, 6001u);
  EXPECT_FALSE(encode_dead_letter(d).find("message_base64") != std::string::npos);
}

TEST(DeadLetter, KeepPrefixOnlyLeavesShortMessagesWhole) {
  DeadLetter d = sample(std::string(4096, 'x'));
  keep_prefix_only(&d);
  EXPECT_EQ(d.message.size(), 4096u);
  EXPECT_FALSE(d.truncated());
  EXPECT_EQ(encode_dead_letter(d).find("message_sha256"), std::string::npos);
}

}  // namespace
TEST(DeadLetter, IdIsTheSha256PrefixOfTheExactBytes) {
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  EXPECT_EQ(dead_letter_id("abc"), "ba7816bf8f01cfea");
  EXPECT_EQ(dead_letter_id("abc").size(), kDeadLetterIdDigits);
  EXPECT_NE(dead_letter_id("abc "), dead_letter_id("abc"));
  EXPECT_EQ(dead_letter_id(std::string("a\0b", 3)).size(), kDeadLetterIdDigits);
}

TEST(DeadLetter, Iso8601RoundTripsAndParsesWhatOperatorsType) {
  int64_t ms = 0;
  ASSERT_TRUE(parse_iso8601("2026-12-04T10:00:00.123Z", &ms));
  EXPECT_EQ(ms, 1796378400123);
  EXPECT_EQ(iso8601(ms), "2026-12-04T10:00:00.123Z");
  ASSERT_TRUE(parse_iso8601("2026-12-04", &ms));
  EXPECT_EQ(ms, 1796342400000);
  ASSERT_TRUE(parse_iso8601("2026-12-04T10:00", &ms));
  EXPECT_EQ(ms, 1796378400000);
  ASSERT_TRUE(parse_iso8601("2026-12-04 11:00:00+01:00", &ms));
  EXPECT_EQ(ms, 1796378400000);
  ASSERT_TRUE(parse_iso8601("2026-12-04T09:30:00-00:30", &ms));
  EXPECT_EQ(ms, 1796378400000);
  ASSERT_TRUE(parse_iso8601(now_iso8601(), &ms));
  for (const char* bad : {"", "2026", "2026-12-4", "2026-13-01", "2026-12-04T", "2026-12-04T10",
                          "2026-12-04T10:00:00.Z", "2026-12-04T10:00:00+1", "yesterday",
                          "2026-12-04T10:00:00Zjunk", "2h"})
    EXPECT_FALSE(parse_iso8601(bad, &ms)) << bad;
}

}  // namespace switchyard
