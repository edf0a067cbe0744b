// escape.cc: append_escaped, the escaping of control characters and bad bytes for logs and
// terminals.
#include "util/escape.h"

#include <cstdio>

#include "util/utf8.h"

namespace switchyard {

void append_escaped(std::string_view s, EscapeStyle style, std::string* out) {
  const bool json = style == EscapeStyle::kJson || style == EscapeStyle::kJsonDocument;
  const bool quote_escapes = style == EscapeStyle::kTextQuoted || style == EscapeStyle::kJson;
  const bool keep_newlines = style == EscapeStyle::kJsonDocument;
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = utf8_sequence_length(s.data() + i, s.size() - i);
    if (n == 0) {
      if (json) {
        *out += "\\ufffd";
      } else {
        snprintf(buf, sizeof(buf), "\\x%02x", c);
        *out += buf;
      }
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '\n':
          *out += keep_newlines ? "\n" : "\\n";
          break;
        case '\r':
          *out += "\\r";
          break;
        case '\t':
          *out += "\\t";
          break;
        case '"':
        case '\\':
          if (quote_escapes) out->push_back('\\');
          out->push_back(static_cast<char>(c));
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            snprintf(buf, sizeof(buf), json ? "\\u%04x" : "\\x%02x", c);
            *out += buf;
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(s[i + 1]));
      *out += buf;
    } else if (json && n == 3 && s.compare(i, 2, "\xe2\x80") == 0 &&
               (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      // U+2028/U+2029: valid JSON, but line breaks to JavaScript and to some log viewers.
      *out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
    } else {
      out->append(s.data() + i, n);
    }
    i += n;
  }
}

std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  append_escaped(s, EscapeStyle::kText, &out);
  return out;
}

}  // namespace switchyard
