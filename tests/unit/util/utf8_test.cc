// utf8_test.cc: is_valid_utf8 accepts exactly well-formed UTF-8, checked against every boundary
// of Unicode's table 3-7 and against an independent decoder over random byte strings.
#include "util/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

namespace switchyard {
namespace {

bool valid(const std::string& s, size_t* offset = nullptr) {
  return is_valid_utf8(s.data(), s.size(), offset);
}

// A slow, obviously correct reference: decode each sequence and check the code point.
bool reference_valid(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int length = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 0;
    if (length == 0 || i + length > s.size()) return false;
    uint32_t cp = length == 1   ? c
                  : length == 2 ? (c & 0x1F)
                  : length == 3 ? (c & 0x0F)
                                : (c & 0x07);
    for (int k = 1; k < length; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (b & 0x3F);
    }
    const uint32_t min[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += length;
  }
  return true;
}

TEST(Utf8Test, AcceptsAsciiAndEveryWellFormedBoundary) {
  EXPECT_TRUE(valid(""));
  EXPECT_TRUE(valid(std::string("plain ascii with a NUL \0 inside, longer than eight", 51)));
  for (const char* s :
       {"\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF", "\xEE\x80\x80", "\xEF\xBF\xBF",
        "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "caf\xC3\xA9 \xF0\x9F\x98\x80 \xE2\x82\xAC"})
    EXPECT_TRUE(valid(s)) << s;
}

TEST(Utf8Test, RefusesOverlongsSurrogatesOutOfRangeAndTruncationWithTheOffset) {
  struct Case {
    std::string bytes;
    size_t offset;
  };
  for (const Case& c : std::initializer_list<Case>{
           {"abcdefgh\xC0\x80", 8},  // overlong NUL
           {"\xC1\xBF", 0},          // overlong
           {"\xE0\x9F\xBF", 0},      // overlong 3-byte
           {"xx\xED\xA0\x80", 2},    // high surrogate D800
           {"\xED\xBF\xBF", 0},      // low surrogate DFFF
           {"\xF0\x8F\xBF\xBF", 0},  // overlong 4-byte
           {"\xF4\x90\x80\x80", 0},  // U+110000
           {"\xF5\x80\x80\x80", 0},  // never a lead byte
           {"\xFF", 0},
           {"ok\x80", 2},               // lone continuation
           {"0123456789\xE2\x82", 10},  // truncated at the end
           {"\xE2\x28\xA1", 0},         // bad continuation
       }) {
    size_t offset = 999;
    EXPECT_FALSE(valid(c.bytes, &offset)) << testing::PrintToString(c.bytes);
    EXPECT_EQ(offset, c.offset) << testing::PrintToString(c.bytes);
  }
}

TEST(Utf8Test, CodePointDecodesEveryBoundaryOfEachLength) {
  struct Case {
    std::string bytes;
    char32_t code_point;
  };
  for (const Case& c : std::initializer_list<Case>{
           {std::string(1, '\0'), 0x0},
           {"A", 0x41},
           {"\x7F", 0x7F},
           {"\xC2\x80", 0x80},
           {"\xDF\xBF", 0x7FF},
           {"\xE0\xA0\x80", 0x800},
           {"\xED\x9F\xBF", 0xD7FF},
           {"\xEE\x80\x80", 0xE000},
           {"\xEF\xBF\xBF", 0xFFFF},
           {"\xE2\x82\xAC", 0x20AC},
           {"\xF0\x90\x80\x80", 0x10000},
           {"\xF0\x9F\x98\x80", 0x1F600},
           {"\xF4\x8F\xBF\xBF", 0x10FFFF},
       }) {
    const size_t length = utf8_sequence_length(c.bytes.data(), c.bytes.size());
    ASSERT_EQ(length, c.bytes.size()) << testing::PrintToString(c.bytes);
    EXPECT_EQ(utf8_code_point(c.bytes.data(), length), c.code_point)
        << testing::PrintToString(c.bytes);
  }
}

TEST(Utf8Test, AgreesWithAReferenceDecoderOnRandomBytes) {
  std::mt19937 rng(12345);
  // Bytes biased towards the interesting ranges, so that valid multibyte strings occur often.
  const unsigned char pool[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0,
                                0xC2, 0xDF, 0xE0, 0xE1, 0xED, 0xEF, 0xF0, 0xF3, 0xF4, 0xF5};
  std::uniform_int_distribution<int> pick(0, sizeof(pool) - 1), len(0, 24);
  int valid_seen = 0;
  for (int n = 0; n < 200000; ++n) {
    std::string s;
    for (int k = len(rng); k > 0; --k) s.push_back(static_cast<char>(pool[pick(rng)]));
    const bool expected = reference_valid(s);
    valid_seen += expected;
    ASSERT_EQ(valid(s), expected) << testing::PrintToString(s);
  }
  EXPECT_GT(valid_seen, 1000) << "the random strings should include valid ones";
}

}  // namespace
}  // namespace switchyard
