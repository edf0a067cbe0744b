// escape.h: the one escaper for text that came from outside (messages, dead letters, Redis) on its
// way to a log or a terminal. Thread safety: pure functions; reentrant.
#ifndef SWITCHYARD_UTIL_ESCAPE_H_
#define SWITCHYARD_UTIL_ESCAPE_H_

#include <string>
#include <string_view>

namespace switchyard {

// What the escaped text goes into. Every style escapes the C0 controls (< 0x20), DEL (0x7f),
// the C1 controls (U+0080..U+009F; U+009B is a CSI to some terminals) and bytes that are not
// UTF-8, so that the text can neither start a forged line nor send a terminal escape sequence.
enum class EscapeStyle {
  // Plain text (a log line's message, a CLI column): \n \r \t, other controls as \x1b or \x7f,
  // C1 as \u0085, bad bytes as \xff. Quotes and backslashes are left alone.
  kText,
  // A double-quoted text value: as kText, plus \" and \\ (so the quotes delimit it).
  kTextQuoted,
  // The inside of a JSON string: " and \ escaped, controls as \n or \u001b, C1 as \u0085,
  // U+2028/U+2029 as \u2028/\u2029, bad bytes as \ufffd.
  kJson,
  // Whole JSON text already written by a JSON writer (structural newlines and indentation,
  // strings with " \ and C0 already escaped), to be shown on a terminal: newlines are kept,
  // " and \ are left alone, DEL and C1 become \u007f and \u0085 (valid escapes, since in valid
  // JSON they can only stand inside strings), other C0 \u00XX, bad bytes \ufffd. The result is
  // still the same JSON value.
  kJsonDocument,
};

// Appends s to *out, escaped for `style`.
void append_escaped(std::string_view s, EscapeStyle style, std::string* out);

// s escaped with EscapeStyle::kText: what the CLI prints for any text it did not write itself.
std::string printable(std::string_view s);

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_ESCAPE_H_
