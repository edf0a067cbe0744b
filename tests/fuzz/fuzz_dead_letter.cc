// fuzz_dead_letter.cc: fuzz target for what `dlq` and `stats` do with K:dead elements and names
// from Redis: decode_dead_letter, the round trip, keep_prefix_only, and the terminal escaping of
// every field.
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz_json.h"
#include "fuzz_target.h"
#include "records/dead_letter.h"
#include "support/terminal_text.h"
#include "util/bounded_json.h"
#include "util/escape.h"
#include "util/utf8.h"

namespace {

// Whether s holds a byte a terminal acts on (support/terminal_text.h).
bool holds_terminal_control(std::string_view s, bool newline_ok) {
  return switchyard::test::terminal_control_at(s, newline_ok) != std::string_view::npos;
}

void check_printable(std::string_view s) {
  FUZZ_CHECK(!holds_terminal_control(switchyard::printable(s), false), "printable() is inert");
  for (auto style : {switchyard::EscapeStyle::kTextQuoted, switchyard::EscapeStyle::kJson}) {
    std::string out;
    switchyard::append_escaped(s, style, &out);
    FUZZ_CHECK(!holds_terminal_control(out, false), "every escape style is inert");
  }
}

using switchyard::fuzz::to_json;

}  // namespace

SWITCHYARD_FUZZ_TARGET(dead_letter) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);

  // The input as a K:dead element: whatever decodes prints inert and round-trips.
  switchyard::DeadLetter letter;
  std::string error;
  if (switchyard::decode_dead_letter(input, &letter, &error)) {
    for (std::string_view field :
         {std::string_view(letter.message), std::string_view(letter.reason),
          std::string_view(letter.source), std::string_view(letter.failed_at)})
      check_printable(field);
    const std::string again = switchyard::encode_dead_letter(letter);
    switchyard::DeadLetter back;
    FUZZ_CHECK(switchyard::decode_dead_letter(again, &back, &error), "an encoded letter decodes");
    // "message" keeps exact bytes (message_base64); the other texts are written as valid UTF-8
    // (U+FFFD for each invalid byte, e.g. a lone surrogate escape), so they round-trip once
    // written: a second encoding is the same as the first.
    FUZZ_CHECK(back.message == letter.message && back.message_bytes == letter.message_bytes &&
                   back.message_sha256 == letter.message_sha256 &&
                   back.handler.has_value() == letter.handler.has_value(),
               "a decoded letter round-trips");
    FUZZ_CHECK(switchyard::encode_dead_letter(back) == again, "a written letter is stable");
    // `dlq show`: the pretty JSON, escaped for the terminal, is still the same JSON.
    rapidjson::Document doc;
    FUZZ_CHECK(switchyard::parse_bounded_json(input, {}, &doc, &error), "it parsed once");
    std::string pretty;
    FUZZ_CHECK(switchyard::pretty_print_bounded_json(input, {}, &pretty, &error),
               "what parses pretty-prints");
    std::string shown;
    switchyard::append_escaped(pretty, switchyard::EscapeStyle::kJsonDocument, &shown);
    FUZZ_CHECK(!holds_terminal_control(shown, true), "dlq show prints nothing a terminal runs");
    // The same JSON, unless a string escape in the input decodes to bytes that are not UTF-8 (a
    // lone surrogate such as \udc00): those are shown as U+FFFD, still valid JSON.
    rapidjson::Document reparsed;
    FUZZ_CHECK(switchyard::parse_bounded_json(shown, {}, &reparsed, &error),
               "dlq show prints valid JSON");
    const std::string original = to_json(doc);
    if (switchyard::is_valid_utf8(original.data(), original.size()))
      FUZZ_CHECK(to_json(reparsed) == original, "dlq show prints the same JSON");
  } else {
    FUZZ_CHECK(!error.empty(), "a refusal says why");
  }
  check_printable(input);

  // The input as a dead-lettered message, whole and as an oversize one's prefix.
  letter = switchyard::DeadLetter{};
  letter.message.assign(input);
  letter.source = "events";
  letter.reason = "fuzz";
  for (size_t prefix : {size_t{0}, size_t{1}, size_t{7}, switchyard::kDeadLetterPrefixBytes}) {
    switchyard::DeadLetter d = letter;
    switchyard::keep_prefix_only(&d, prefix);
    FUZZ_CHECK(d.message.size() <= std::max(prefix, size) &&
                   d.message.size() + 3 >= std::min(prefix, size),
               "the prefix is at most the limit, and at most 3 bytes shorter");
    FUZZ_CHECK(input.compare(0, d.message.size(), d.message) == 0, "the prefix is the start");
    FUZZ_CHECK(d.truncated() == (size > prefix), "truncated exactly when longer");
    switchyard::DeadLetter back;
    FUZZ_CHECK(switchyard::decode_dead_letter(switchyard::encode_dead_letter(d), &back, &error),
               "a dead letter of any message decodes");
    FUZZ_CHECK(back.message == d.message && back.message_bytes == d.message_bytes &&
                   back.message_sha256 == d.message_sha256,
               "and round-trips");
  }
  return 0;
}
