// utf8.h: a fast strict UTF-8 check for whole messages (ASCII runs eight bytes at a time).
// Thread safety: pure function; reentrant.
#ifndef SWITCHYARD_ENVELOPE_UTF8_H_
#define SWITCHYARD_ENVELOPE_UTF8_H_

#include <cstddef>

namespace switchyard {

// Whether bytes [data, data + size) are well-formed UTF-8 (RFC 3629): no overlong forms, no
// encoded UTF-16 surrogates (U+D800..DFFF), nothing above U+10FFFF, no truncated sequence.
// NUL bytes are valid UTF-8 (JSON parsing refuses them where they matter). When invalid and
// error_offset is not null, *error_offset is the offset of the first byte of the bad sequence.
bool is_valid_utf8(const char* data, size_t size, size_t* error_offset = nullptr);

}  // namespace switchyard

#endif  // SWITCHYARD_ENVELOPE_UTF8_H_
