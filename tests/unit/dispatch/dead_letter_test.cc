// dead_letter_test.cc: the K:dead record format (SPEC section 4) round-trips exactly, including
// messages that are not valid UTF-8, and the script tail matches the full encoding.
#include "dispatch/dead_letter.h"

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

TEST(DeadLetter, TailMatchesTheFullEncoding) {
  DeadLetter d = sample("");
  std::string whole = encode_dead_letter(d);
  EXPECT_EQ("{\"message\":\"\"" + encode_dead_letter_tail(d), whole);
}

}  // namespace
}  // namespace switchyard
