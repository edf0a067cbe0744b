// terminal_text.h: whether text is inert on a terminal (test kit, header-only, no GTest: the
// fuzz targets use it too).
#ifndef SWITCHYARD_TESTS_SUPPORT_TERMINAL_TEXT_H_
#define SWITCHYARD_TESTS_SUPPORT_TERMINAL_TEXT_H_

#include <cstddef>
#include <string_view>

#include "util/utf8.h"

namespace switchyard::test {

// The offset of the first byte in `s` that a terminal may act on, or std::string_view::npos:
// a C0 control (but '\n' when newline_ok), DEL, a C1 control encoded as UTF-8 (U+0080..U+009F,
// C2 80..9F), or a raw C1 byte (80..9F) that is not part of a well-formed UTF-8 sequence.
// Thread safety: pure.
inline size_t terminal_control_at(std::string_view s, bool newline_ok) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t length = utf8_sequence_length(s.data() + i, s.size() - i);
    if (length == 0) {
      if (c >= 0x80 && c <= 0x9F) return i;
      ++i;
      continue;
    }
    if (length == 1 && ((c < 0x20 && !(newline_ok && c == '\n')) || c == 0x7F)) return i;
    if (length == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) return i;
    i += length;
  }
  return std::string_view::npos;
}

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_TERMINAL_TEXT_H_
