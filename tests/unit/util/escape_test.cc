// escape_test.cc: append_escaped/printable leave no byte a terminal acts on (C0, DEL, C1, bad
// UTF-8) in any style, and kJsonDocument keeps JSON valid.
#include "util/escape.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <string>

#include "support/terminal_text.h"

namespace switchyard {
namespace {

using namespace std::string_literals;

std::string escaped(std::string_view s, EscapeStyle style) {
  std::string out;
  append_escaped(s, style, &out);
  return out;
}

// Whether s holds a byte a terminal may act on (support/terminal_text.h).
bool holds_terminal_control(const std::string& s, bool newline_ok) {
  return test::terminal_control_at(s, newline_ok) != std::string::npos;
}

const std::string kHostile =
    "\x1b]0;pwned\x07\x1b[2J a\nb\rc\td \x7f \xc2\x9b"
    "31m \xc2\x85 \xff\xfe "
    "caf\xc3\xa9 \"q\" \\"s;

TEST(Escape, PrintableEscapesEveryTerminalControl) {
  const std::string out = printable(kHostile);
  EXPECT_FALSE(holds_terminal_control(out, false)) << out;
  EXPECT_EQ(out,
            "\\x1b]0;pwned\\x07\\x1b[2J a\\nb\\rc\\td \\x7f \\u009b31m \\u0085 \\xff\\xfe "
            "caf\xc3\xa9 \"q\" \\");
}

TEST(Escape, QuotedAndJsonStylesEscapeQuotesToo) {
  EXPECT_EQ(escaped("a\"b\\c\x1b", EscapeStyle::kTextQuoted), "a\\\"b\\\\c\\x1b");
  EXPECT_EQ(escaped("a\"b\\c\x1b\xff\xe2\x80\xa8", EscapeStyle::kJson),
            "a\\\"b\\\\c\\u001b\\ufffd\\u2028");
  for (EscapeStyle style : {EscapeStyle::kText, EscapeStyle::kTextQuoted, EscapeStyle::kJson})
    EXPECT_FALSE(holds_terminal_control(escaped(kHostile, style), false));
}

TEST(Escape, JsonDocumentKeepsNewlinesAndStaysTheSameJson) {
  // As a JSON writer leaves it: C0 escaped inside strings, DEL and C1 raw.
  const std::string written =
      "{\n    \"event\": \"a\\u001b\x7f\xc2\x9b"
      "b\\n\\\"\"\n}";
  const std::string out = escaped(written, EscapeStyle::kJsonDocument);
  EXPECT_FALSE(holds_terminal_control(out, true)) << out;
  EXPECT_EQ(out, "{\n    \"event\": \"a\\u001b\\u007f\\u009bb\\n\\\"\"\n}");
  rapidjson::Document before, after;
  before.Parse(written.data(), written.size());
  after.Parse(out.data(), out.size());
  ASSERT_FALSE(after.HasParseError()) << out;
  EXPECT_TRUE(before == after);
}

}  // namespace
}  // namespace switchyard
