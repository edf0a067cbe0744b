// utf8.cc: strict UTF-8 validation (eight-bytes-at-a-time ASCII fast path) and decoding.
#include "util/utf8.h"

#include <cstdint>
#include <cstring>

namespace switchyard {

size_t utf8_sequence_length(const char* data, size_t available) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  const unsigned char c = p[0];
  if (c < 0x80) return 1;
  // Lead byte: the sequence length and the allowed range of the second byte (Unicode table 3-7),
  // which rules out overlong forms, surrogates and code points above U+10FFFF.
  size_t length;
  unsigned char low = 0x80, high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c == 0xE0) {
    length = 3;
    low = 0xA0;
  } else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) {
    length = 3;
  } else if (c == 0xED) {
    length = 3;
    high = 0x9F;  // ED A0..BF would encode a surrogate
  } else if (c == 0xF0) {
    length = 4;
    low = 0x90;
  } else if (c >= 0xF1 && c <= 0xF3) {
    length = 4;
  } else if (c == 0xF4) {
    length = 4;
    high = 0x8F;
  } else {
    return 0;  // a continuation byte, C0/C1 (overlong) or F5..FF
  }
  if (length > available || p[1] < low || p[1] > high) return 0;
  for (size_t k = 2; k < length; ++k)
    if ((p[k] & 0xC0) != 0x80) return 0;
  return length;
}

char32_t utf8_code_point(const char* data, size_t length) {
  const auto* p = reinterpret_cast<const unsigned char*>(data);
  static constexpr unsigned char kLeadBits[] = {0, 0x7F, 0x1F, 0x0F, 0x07};
  char32_t cp = p[0] & kLeadBits[length];
  for (size_t k = 1; k < length; ++k) cp = (cp << 6) | (p[k] & 0x3F);
  return cp;
}

bool is_valid_utf8(const char* data, size_t size, size_t* error_offset) {
  size_t i = 0;
  while (i < size) {
    // ASCII fast path: most envelopes are ASCII from end to end.
    while (i + 8 <= size) {
      uint64_t word;
      std::memcpy(&word, data + i, sizeof word);
      if (word & 0x8080808080808080ULL) break;
      i += 8;
    }
    if (i >= size) break;
    const size_t length = utf8_sequence_length(data + i, size - i);
    if (length == 0) {
      if (error_offset) *error_offset = i;
      return false;
    }
    i += length;
  }
  return true;
}

}  // namespace switchyard
