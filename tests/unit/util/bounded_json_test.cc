// bounded_json_test.cc: parse_bounded_json parses what RapidJSON parses and refuses, with a reason,
// what is too big, too deep or not JSON, without using the thread's stack for depth.
#include "util/bounded_json.h"

#include <gtest/gtest.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace switchyard {
namespace {

using namespace std::string_literals;

// The compact JSON text of a document, as a RapidJSON Writer prints it.
std::string to_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

TEST(BoundedJson, ParsesAnObject) {
  rapidjson::Document doc;
  std::string error;
  ASSERT_TRUE(parse_bounded_json(R"({"event":"a.b","payload":{"n":[1,2,{"x":null}]}})",
                                 JsonBounds{}, &doc, &error))
      << error;
  ASSERT_TRUE(doc.IsObject());
  EXPECT_STREQ(doc["event"].GetString(), "a.b");
  EXPECT_EQ(doc["payload"]["n"][1].GetInt(), 2);
}

// 300,000 '[' crashed the recursive DOM parser (one stack frame per level).
TEST(BoundedJson, RefusesDeepNestingWithoutRecursing) {
  rapidjson::Document doc;
  std::string error;
  EXPECT_FALSE(parse_bounded_json(std::string(300000, '['), JsonBounds{}, &doc, &error));
  EXPECT_EQ(error, "nests deeper than 64 levels");
  EXPECT_TRUE(doc.IsNull());
  EXPECT_FALSE(parse_bounded_json(std::string(300000, '[') + std::string(300000, ']'),
                                  JsonBounds{1u << 20, 100000}, &doc, &error));
  EXPECT_EQ(error, "nests deeper than 100000 levels");
}

TEST(BoundedJson, DepthLimitIsInclusive) {
  rapidjson::Document doc;
  std::string error;
  const JsonBounds bounds{1024, 3};
  EXPECT_TRUE(parse_bounded_json("[[[1]]]", bounds, &doc, &error)) << error;
  EXPECT_TRUE(parse_bounded_json(R"({"a":{"b":[]}})", bounds, &doc, &error)) << error;
  EXPECT_FALSE(parse_bounded_json("[[[[1]]]]", bounds, &doc, &error));
  EXPECT_EQ(error, "nests deeper than 3 levels");
}

TEST(BoundedJson, RefusesOversizeTextBeforeReadingIt) {
  rapidjson::Document doc;
  std::string error;
  EXPECT_FALSE(parse_bounded_json("[1,2,3]", JsonBounds{6, 64}, &doc, &error));
  EXPECT_EQ(error, "is 7 bytes, over the limit of 6");
  EXPECT_TRUE(parse_bounded_json("[1,2,3]", JsonBounds{7, 64}, &doc, &error)) << error;
}

TEST(BoundedJson, ReportsInvalidJsonWithItsOffset) {
  rapidjson::Document doc;
  std::string error;
  EXPECT_FALSE(parse_bounded_json(R"({"a":1,})", JsonBounds{}, &doc, &error));
  EXPECT_EQ(error.rfind("invalid JSON at offset 7: ", 0), 0u) << error;
  EXPECT_FALSE(parse_bounded_json("", JsonBounds{}, &doc, &error));
  EXPECT_EQ(error, "invalid JSON at offset 0: The document is empty.");
  EXPECT_FALSE(parse_bounded_json("\"\xff\"", JsonBounds{}, &doc, &error));
  EXPECT_NE(error.find("Invalid encoding"), std::string::npos) << error;
  EXPECT_TRUE(doc.IsNull());
}

TEST(BoundedJson, ANulByteIsAnErrorNotTheEnd) {
  rapidjson::Document doc;
  std::string error;
  EXPECT_FALSE(parse_bounded_json("{}\0{"s, JsonBounds{}, &doc, &error));
  EXPECT_EQ(error, "invalid JSON at offset 2: unexpected NUL byte.");
  EXPECT_FALSE(parse_bounded_json("[\"a\0b\"]"s, JsonBounds{}, &doc, &error));
  EXPECT_EQ(error, "invalid JSON at offset 3: unexpected NUL byte.");
}

// `dlq show` prints a dead letter with every number as written: read and printed again, a long
// mantissa came out one unit in the last place off (fuzz_dead_letter), and RapidJSON 1.1.0's
// full-precision reading has undefined behaviour on "0e282".
TEST(BoundedJson, PrettyPrintKeepsEveryNumberAsWritten) {
  const std::string digits = "1" + std::string(120, '4') + "0488888" + std::string(120, '4');
  const std::string text = "{\"a\":[" + digits + ",0e282,-0.0,1E+2,5e-324],\"b\":{\"c\":\"x\"}}";
  std::string pretty, error;
  ASSERT_TRUE(pretty_print_bounded_json(text, JsonBounds{}, &pretty, &error)) << error;
  for (const std::string& number : {digits, "0e282"s, "-0.0"s, "1E+2"s, "5e-324"s})
    EXPECT_NE(pretty.find("\n        " + number), std::string::npos) << number << " in\n" << pretty;
  rapidjson::Document from_text, from_pretty;
  ASSERT_TRUE(parse_bounded_json(text, JsonBounds{}, &from_text, &error)) << error;
  ASSERT_TRUE(parse_bounded_json(pretty, JsonBounds{}, &from_pretty, &error)) << error;
  EXPECT_EQ(to_text(from_pretty), to_text(from_text));
}

// The same refusals, with the same texts, as parse_bounded_json.
TEST(BoundedJson, PrettyPrintRefusesWhatParseRefuses) {
  for (const std::string& bad : {std::string(100, '['), "{\"a\":1"s, "[1]\0"s, "[1] x"s}) {
    rapidjson::Document doc;
    std::string parse_error, print_error, pretty = "left over";
    EXPECT_FALSE(parse_bounded_json(bad, JsonBounds{}, &doc, &parse_error));
    EXPECT_FALSE(pretty_print_bounded_json(bad, JsonBounds{}, &pretty, &print_error));
    EXPECT_EQ(print_error, parse_error);
    EXPECT_EQ(pretty, "");
  }
  std::string pretty, error;
  EXPECT_FALSE(pretty_print_bounded_json("[1,2]", JsonBounds{4, 64}, &pretty, &error));
  EXPECT_EQ(error, "is 5 bytes, over the limit of 4");
}

TEST(BoundedJson, ReusesADocument) {
  rapidjson::Document doc;
  std::string error;
  ASSERT_TRUE(parse_bounded_json("[1]", JsonBounds{}, &doc, &error));
  EXPECT_FALSE(parse_bounded_json("[1", JsonBounds{}, &doc, &error));
  EXPECT_TRUE(doc.IsNull());
  ASSERT_TRUE(parse_bounded_json(R"({"k":"v"})", JsonBounds{}, &doc, &error));
  EXPECT_STREQ(doc["k"].GetString(), "v");
}

}  // namespace
}  // namespace switchyard
