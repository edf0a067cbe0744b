// bounded_json.h: the one way to build a JSON DOM from untrusted bytes (iterative, size- and
// depth-capped). Thread safety: pure functions; reentrant.
#ifndef SWITCHYARD_UTIL_BOUNDED_JSON_H_
#define SWITCHYARD_UTIL_BOUNDED_JSON_H_

#include <rapidjson/document.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace switchyard {

// What parse_bounded_json accepts. The defaults suit text that is not a message under a
// source's limits: (a dead letter, a schema): 64 MiB, 64 levels.
struct JsonBounds {
  size_t max_bytes = 64u << 20;
  int max_depth = 64;  // the top-level object or array is level 1
};

// Parses `text` into *doc with RapidJSON's iterative reader (its stack lives on the heap, so
// no input can overflow the thread's stack), validating UTF-8, refusing text longer than
// bounds.max_bytes before reading it and stopping at the first object or array nested deeper
// than bounds.max_depth (so the DOM, and every recursive walk of it such as a writer's, is
// bounded too). Returns true on success. On failure returns false, leaves *doc holding null and
// sets *error to one of:
//   "is 70000000 bytes, over the limit of 67108864"
//   "nests deeper than 64 levels"
//   "invalid JSON at offset 17: Missing a comma or '}' after an object member."
// (no subject: the caller prefixes what it parsed, e.g. "dead letter #3 in events:dead: ").
// A NUL byte ends nothing early: it is reported as invalid JSON at its offset.
// Never throws (RapidJSON is built without exceptions; allocation failure aborts as anywhere).
bool parse_bounded_json(std::string_view text, const JsonBounds& bounds, rapidjson::Document* doc,
                        std::string* error);

// Pretty-prints `text` (RapidJSON's PrettyWriter: 4-space indent, strings re-escaped) with every
// number exactly as written, not read and printed again: what `dlq show` prints of a dead letter.
// The same bounds, refusals and error texts as parse_bounded_json; on failure *out is empty.
// The output escapes C0 controls only (pass it through util/escape.h for a terminal).
bool pretty_print_bounded_json(std::string_view text, const JsonBounds& bounds, std::string* out,
                               std::string* error);

}  // namespace switchyard

#endif  // SWITCHYARD_UTIL_BOUNDED_JSON_H_
