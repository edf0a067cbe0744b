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
  EXPECT_EQ(tap_channel("app:events", "quote.*"), "app:events:tap:event:quote.*");
}

// The channels the daemon serves: the source's own (K:tap, K:tap:event:GLOB), sorted, without an
// empty or too long glob, at most kTapMaxChannels; the rest are counted.
TEST(TapRecordTest, OnlyTheSourcesOwnTapChannelsAreServedWithinTheLimits) {
  size_t ignored = 99;
  std::vector<std::string> got = Tap::listening(
      "k",
      {"k:tap:event:quote.*", "other:tap", "k:tap", "k:tapx",
       "k:tap:event:", "k:tap:event:" + std::string(kTapMaxGlobBytes + 1, 'a'), "k:tap"},
      &ignored);
  EXPECT_EQ(got, (std::vector<std::string>{"k:tap", "k:tap:event:quote.*"}));
  EXPECT_EQ(ignored, 1u);  // the long glob
  std::vector<std::string> many;
  for (size_t i = 0; i < kTapMaxChannels + 3; ++i)
    many.push_back("k:tap:event:e" + std::to_string(i + 10));
  got = Tap::listening("k", many, &ignored);
  EXPECT_EQ(got.size(), kTapMaxChannels);
  EXPECT_EQ(got.front(), "k:tap:event:e10");
  EXPECT_EQ(ignored, 3u);
}

}  // namespace
}  // namespace switchyard
