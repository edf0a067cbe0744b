// utf8.h: strict UTF-8 checks and decoding: a whole message (ASCII runs eight bytes at a time) or
// one sequence. Thread safety: pure functions; reentrant.
#ifndef SWITCHYARD_UTIL_UTF8_H_
#define SWITCHYARD_UTIL_UTF8_H_

#include <cstddef>

namespace switchyard {

// The length (1..4) of the well-formed UTF-8 sequence (RFC 3629) starting at data[0], of the
// `available` bytes there; 0 when none starts there: a stray continuation byte, an overlong
// form, an encoded UTF-16 surrogate (U+D800..DFFF), beyond U+10FFFF, or cut off by `available`.
// Requires available >= 1.
size_t utf8_sequence_length(const char* data, size_t available);

// The code point of the well-formed sequence of `length` bytes at data[0], where length is what
// utf8_sequence_length() returned for it (1..4; anything else is undefined).
char32_t utf8_code_point(const char* data, size_t length);

// Whether bytes [data, data + size) are well-formed UTF-8 (every sequence as above). NUL bytes
// are valid UTF-8 (JSON parsing refuses them where they matter). When invalid and error_offset
// is not null, *error_offset is the offset of the first byte of the bad sequence.
bool is_valid_utf8(const char* data, size_t size, size_t* error_offset = nullptr);

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_UTF8_H_
