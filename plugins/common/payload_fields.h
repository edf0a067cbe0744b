// payload_fields.h: the top-level members of an event's payload, read by RapidJSON's SAX reader
// into buffers kept from one event to the next: no DOM and, once warm, no allocation per event.
// Thread safety: an instance is used by one thread at a time (one per sink instance).
#ifndef SWITCHYARD_PLUGINS_COMMON_PAYLOAD_FIELDS_H_
#define SWITCHYARD_PLUGINS_COMMON_PAYLOAD_FIELDS_H_

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "switchyard/handler.hpp"

namespace switchyard::sinks {

// parse() reads one payload; the getters answer for its top-level members as sdk::JsonObject's
// do, with the same errors (RejectError naming "payload.<key>"): the first member of a name
// counts, integers are JSON numbers without fraction that fit in int64, null counts as absent
// for the optional getters. Nested objects and arrays are skipped (only their kind is kept).
// Each payload is copied into one buffer and parsed in place there (strings unescaped where
// they stand). The string views returned stay valid until clear(), across parses, as long as
// the payloads parsed since then fit in the room clear() made (the buffer then never moves).
class PayloadFields {
 public:
  // Forgets earlier parses and makes room for `count` payloads of `bytes` bytes in all.
  void clear(size_t bytes, size_t count) {
    text_.clear();
    text_.reserve(bytes + count);  // each payload is followed by a NUL
  }

  // Reads text, which must be a JSON object. Throws RejectError ("payload: invalid JSON at
  // offset N: ..." or "payload: expected an object").
  void parse(std::string_view text) {
    members_.clear();
    depth_ = 0;
    root_ = Kind::kNone;
    const size_t start = text_.size();
    text_.append(text);
    text_.push_back('\0');  // the in-place reader stops at the NUL, as at the end of text
    rapidjson::InsituStringStream stream(text_.data() + start);
    rapidjson::ParseResult ok = reader_.Parse<rapidjson::kParseInsituFlag>(stream, *this);
    if (!ok) {
      throw sdk::RejectError("payload: invalid JSON at offset " + std::to_string(ok.Offset()) +
                             ": " + rapidjson::GetParseError_En(ok.Code()));
    }
    if (root_ != Kind::kObject) throw sdk::RejectError("payload: expected an object");
  }

  // A required integer.
  int64_t required_int(const char* key) const {
    const Member* m = find(key);
    if (!m) throw sdk::RejectError(field(key) + ": required integer is missing");
    if (m->kind != Kind::kInt) throw sdk::RejectError(field(key) + ": expected integer");
    return m->integer;
  }
  // An optional string: nullopt when absent or null; wrong types throw.
  std::optional<std::string_view> optional_string(const char* key) const {
    const Member* m = find(key);
    if (!m || m->kind == Kind::kNull) return std::nullopt;
    if (m->kind != Kind::kString) throw sdk::RejectError(field(key) + ": expected string");
    return std::string_view(text_.data() + m->value_at, m->value_size);
  }

  // The RapidJSON SAX handler (public for the reader; not for callers).
  bool Null() { return value(Kind::kNull); }
  bool Bool(bool) { return value(Kind::kOther); }
  bool Int(int i) { return integer(i); }
  bool Uint(unsigned u) { return integer(u); }
  bool Int64(int64_t i) { return integer(i); }
  bool Uint64(uint64_t u) {
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return value(Kind::kOther);
    return integer(static_cast<int64_t>(u));
  }
  bool Double(double) { return value(Kind::kOther); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) { return value(Kind::kOther); }
  bool String(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1 && !members_.empty()) {
      members_.back().value_at = static_cast<size_t>(s - text_.data());
      members_.back().value_size = n;
    }
    return value(Kind::kString);
  }
  bool Key(const char* s, rapidjson::SizeType n, bool) {
    if (depth_ == 1) {
      Member m;
      m.key_at = static_cast<size_t>(s - text_.data());
      m.key_size = n;
      members_.push_back(m);
    }
    return true;
  }
  bool StartObject() { return start(Kind::kObject); }
  bool EndObject(rapidjson::SizeType) { return end(); }
  bool StartArray() { return start(Kind::kOther); }
  bool EndArray(rapidjson::SizeType) { return end(); }

 private:
  enum class Kind { kNone, kNull, kInt, kString, kObject, kOther };
  struct Member {
    size_t key_at = 0, key_size = 0;
    Kind kind = Kind::kNone;
    int64_t integer = 0;
    size_t value_at = 0, value_size = 0;
  };

  bool value(Kind kind) {
    if (depth_ == 0) root_ = kind;
    if (depth_ == 1 && !members_.empty()) members_.back().kind = kind;
    return true;
  }
  bool integer(int64_t i) {
    if (depth_ == 1 && !members_.empty()) members_.back().integer = i;
    return value(Kind::kInt);
  }
  bool start(Kind kind) {
    value(kind);
    ++depth_;
    return true;
  }
  bool end() {
    --depth_;
    return true;
  }

  const Member* find(const char* key) const {
    const size_t n = std::strlen(key);
    for (const Member& m : members_)
      if (m.key_size == n && std::memcmp(text_.data() + m.key_at, key, n) == 0) return &m;
    return nullptr;
  }
  static std::string field(const char* key) { return std::string("payload.") + key; }

  rapidjson::Reader reader_;
  std::vector<Member> members_;
  std::string text_;  // the payloads parsed since clear(), each followed by a NUL
  int depth_ = 0;
  Kind root_ = Kind::kNone;
};

}  // namespace switchyard::sinks

#endif  // SWITCHYARD_PLUGINS_COMMON_PAYLOAD_FIELDS_H_
