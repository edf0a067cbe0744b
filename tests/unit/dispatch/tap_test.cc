// tap_test.cc: the records the daemon publishes for `switchyard tap` are JSON whatever the event
// names and reasons hold, and a Tap names one channel per source.
#include "dispatch/tap.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

namespace switchyard {
namespace {

TEST(TapRecordTest, ARecordIsJsonWithHostileTextEscaped) {
  const std::string event = "quote.\x1b[31m\"red\\\n\xff";
  const std::string reason = "quotes_db: bad \x07 bell";
  const std::string record =
      encode_tap_record("events", event, {"quotes_db", "audit"}, "dead_letter", reason);
  for (char c : record) EXPECT_GE(static_cast<unsigned char>(c), 0x20) << record;
  rapidjson::Document doc;
  doc.Parse(record.data(), record.size());
  ASSERT_FALSE(doc.HasParseError()) << record;
  EXPECT_EQ(std::string(doc["source"].GetString()), "events");
  EXPECT_EQ(std::string(doc["event"].GetString()), "quote.\x1b[31m\"red\\\n\xef\xbf\xbd");
  ASSERT_EQ(doc["handlers"].Size(), 2u);
  EXPECT_EQ(std::string(doc["handlers"][1].GetString()), "audit");
  EXPECT_EQ(std::string(doc["outcome"].GetString()), "dead_letter");
  EXPECT_EQ(std::string(doc["reason"].GetString()), reason);
  EXPECT_TRUE(doc["time"].IsString());

  // No reason: no member.
  doc.Parse(encode_tap_record("events", "a", {}, "ok", "").c_str());
  EXPECT_FALSE(doc.HasMember("reason"));
  EXPECT_EQ(doc["handlers"].Size(), 0u);
}

TEST(TapRecordTest, EachSourceHasItsChannelNamedAfterItsKey) {
  std::vector<SourceConfig> sources(2);
  sources[0].name = "events";
  sources[0].key = "app:events";
  sources[1].name = "jobs";
  sources[1].key = "queues:default";
  Tap tap(sources);
  ASSERT_NE(tap.channel("jobs"), nullptr);
  EXPECT_EQ(tap.channel("jobs")->channel, "queues:default:tap");
  EXPECT_EQ(tap.channel("events")->channel, "app:events:tap");
  EXPECT_FALSE(tap.channel("events")->tapped.load());
  EXPECT_EQ(tap.channel("nope"), nullptr);
}

}  // namespace
}  // namespace switchyard
