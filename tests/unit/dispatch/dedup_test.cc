// dedup_test.cc: the dedup key of an event (a JSON pointer into its envelope: strings as is,
// numbers as their JSON text, anything else none) and the Redis key that remembers it.
#include "dispatch/dedup.h"

#include <gtest/gtest.h>

#include <string>

namespace switchyard {
namespace {

TEST(DedupKeyReaderTest, ReadsStringsAndNumbersAndNothingElse) {
  DedupKeyReader reader;
  const std::string message =
      R"({"event":"quote.created","id":"top","payload":{"event_id":"e-1","n":42,"f":1.5,)"
      R"("o":{"a/b":"slash"},"x":null,"t":true,"l":[1]}})";
  const std::string payload = message.substr(message.find("{\"event_id\""));
  const std::string payload_only = payload.substr(0, payload.size() - 1);
  std::string v;
  auto read = [&](const std::string& pointer, bool raw = true) {
    v.clear();
    return reader.read(pointer, message, raw, "quote.created", payload_only, &v);
  };
  EXPECT_TRUE(read("/payload/event_id"));
  EXPECT_EQ(v, "e-1");
  EXPECT_TRUE(read("/payload/n"));
  EXPECT_EQ(v, "42");
  EXPECT_TRUE(read("/payload/f"));
  EXPECT_EQ(v, "1.5");
  EXPECT_TRUE(read("/payload/o/a~1b"));
  EXPECT_EQ(v, "slash");
  EXPECT_TRUE(read("/event"));
  EXPECT_EQ(v, "quote.created");
  EXPECT_TRUE(read("/id"));  // a raw source's envelope member
  EXPECT_EQ(v, "top");
  EXPECT_FALSE(read("/id", false));  // a Laravel job has no such envelope member
  EXPECT_TRUE(read("/payload/event_id", false));
  for (const char* none : {"/payload/x", "/payload/t", "/payload/l", "/payload/o", "/payload",
                           "/payload/missing", "/payload/l/5"})
    EXPECT_FALSE(read(none)) << none;
  EXPECT_FALSE(reader.read("/payload/a", "{}", true, "e", "not json", &v));
}

TEST(DedupKeyReaderTest, RedisKeyKeepsShortPrintableValuesAndHashesTheRest) {
  EXPECT_EQ(dedup_redis_key("{q}", "audit", "e-1"), "{q}:dedup:audit:=e-1");
  const std::string hashed = dedup_redis_key("{q}", "audit", std::string(200, 'x'));
  EXPECT_EQ(hashed.rfind("{q}:dedup:audit:#", 0), 0u);
  EXPECT_EQ(hashed.size(), std::string("{q}:dedup:audit:#").size() + 64);
  EXPECT_NE(dedup_redis_key("{q}", "audit", "a b"), "{q}:dedup:audit:=a b");
  EXPECT_NE(dedup_redis_key("{q}", "audit", "a b"), dedup_redis_key("{q}", "audit", "a c"));
  EXPECT_NE(dedup_redis_key("{q}", "audit", "1"), dedup_redis_key("{q}", "other", "1"));
}

}  // namespace
}  // namespace switchyard
