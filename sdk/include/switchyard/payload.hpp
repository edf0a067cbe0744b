// payload.hpp: typed access to an event's payload and a handler's config, with errors that
// name the field (`payload.qty: expected integer`). Built on RapidJSON (header-only).
#ifndef SWITCHYARD_PAYLOAD_HPP_
#define SWITCHYARD_PAYLOAD_HPP_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include "switchyard/handler.hpp"

namespace switchyard::sdk {

// A parsed JSON object with typed getters. Getters throw RejectError naming "<scope>.<key>"
// when a required field is missing or has the wrong type. Not thread-safe; cheap to create.
class JsonObject {
 public:
  // Parses text (which must be a JSON object). scope names it in errors ("payload", "config").
  JsonObject(std::string_view text, std::string scope) : scope_(std::move(scope)) {
    doc_.Parse(text.data(), text.size());
    if (doc_.HasParseError()) {
      throw RejectError(scope_ + ": invalid JSON at offset " + std::to_string(doc_.GetErrorOffset()) +
                        ": " + rapidjson::GetParseError_En(doc_.GetParseError()));
    }
    if (!doc_.IsObject()) throw RejectError(scope_ + ": expected an object");
  }

  bool has(const char* key) const { return find(key) != nullptr; }

  // A required integer (JSON number without fraction, fitting in int64).
  int64_t required_int(const char* key) const {
    const rapidjson::Value* v = find(key);
    if (!v) throw RejectError(field(key) + ": required integer is missing");
    if (!v->IsInt64()) throw RejectError(field(key) + ": expected integer");
    return v->GetInt64();
  }
  // A required string.
  std::string required_string(const char* key) const {
    const rapidjson::Value* v = find(key);
    if (!v) throw RejectError(field(key) + ": required string is missing");
    if (!v->IsString()) throw RejectError(field(key) + ": expected string");
    return std::string(v->GetString(), v->GetStringLength());
  }
  // An optional string: nullopt when absent or null; wrong types throw.
  std::optional<std::string> optional_string(const char* key) const {
    const rapidjson::Value* v = find(key);
    if (!v || v->IsNull()) return std::nullopt;
    if (!v->IsString()) throw RejectError(field(key) + ": expected string");
    return std::string(v->GetString(), v->GetStringLength());
  }
  // An optional integer: nullopt when absent or null; wrong types throw.
  std::optional<int64_t> optional_int(const char* key) const {
    const rapidjson::Value* v = find(key);
    if (!v || v->IsNull()) return std::nullopt;
    if (!v->IsInt64()) throw RejectError(field(key) + ": expected integer");
    return v->GetInt64();
  }

  const rapidjson::Document& document() const { return doc_; }

 private:
  const rapidjson::Value* find(const char* key) const {
    auto it = doc_.FindMember(key);
    return it == doc_.MemberEnd() ? nullptr : &it->value;
  }
  std::string field(const char* key) const { return scope_ + "." + key; }

  rapidjson::Document doc_;
  std::string scope_;
};

}  // namespace switchyard::sdk

#ifndef SWITCHYARD_SDK_NO_LEGACY_NAMES
namespace switchyard {
using sdk::JsonObject;  // the 0.1 name, as in handler.hpp
}  // namespace switchyard
#endif

#endif  // SWITCHYARD_PAYLOAD_HPP_
