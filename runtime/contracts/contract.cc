// contract.cc: loads, checks and compiles contract schemas (RapidJSON schema.h) and validates
// payloads.
#include "contracts/contract.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/internal/regex.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/pointer.h>
#include <rapidjson/reader.h>
#include <rapidjson/schema.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstring>
#include <set>
#include <vector>

#include "util/bounded_json.h"

namespace switchyard {

// One compiled contract. `source` is kept for the messages (what a keyword expected) and because
// the compiled schema is built from it; it is declared first so that it outlives `schema`.
struct CompiledContract {
  std::string event;
  std::string name;  // the schema file, for messages
  rapidjson::Document source;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
};

namespace {

constexpr unsigned kParseFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
// Most JSON objects and arrays a schema may hold: RapidJSON looks schemas up linearly when it
// compiles, so a huge schema would take quadratic time.
constexpr size_t kMaxSchemaNodes = 20000;
// Longest schema value quoted in a reason.
constexpr size_t kMaxQuoted = 80;

// The JSON Schema draft-04 meta-schema (json-schema.org/draft-04/schema, without its "id" and
// "$schema", which RapidJSON 1.1 does not need). Every contract schema is validated against it.
const char kDraft04MetaSchema[] = R"json({
  "definitions": {
    "schemaArray": {"type": "array", "minItems": 1, "items": {"$ref": "#"}},
    "positiveInteger": {"type": "integer", "minimum": 0},
    "positiveIntegerDefault0": {"allOf": [{"$ref": "#/definitions/positiveInteger"}, {"default": 0}]},
    "simpleTypes": {"enum": ["array", "boolean", "integer", "null", "number", "object", "string"]},
    "stringArray": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": true}
  },
  "type": "object",
  "properties": {
    "id": {"type": "string"},
    "$schema": {"type": "string"},
    "title": {"type": "string"},
    "description": {"type": "string"},
    "default": {},
    "multipleOf": {"type": "number", "minimum": 0, "exclusiveMinimum": true},
    "maximum": {"type": "number"},
    "exclusiveMaximum": {"type": "boolean", "default": false},
    "minimum": {"type": "number"},
    "exclusiveMinimum": {"type": "boolean", "default": false},
    "maxLength": {"$ref": "#/definitions/positiveInteger"},
    "minLength": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "pattern": {"type": "string", "format": "regex"},
    "additionalItems": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
    "items": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/schemaArray"}], "default": {}},
    "maxItems": {"$ref": "#/definitions/positiveInteger"},
    "minItems": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "uniqueItems": {"type": "boolean", "default": false},
    "maxProperties": {"$ref": "#/definitions/positiveInteger"},
    "minProperties": {"$ref": "#/definitions/positiveIntegerDefault0"},
    "required": {"$ref": "#/definitions/stringArray"},
    "additionalProperties": {"anyOf": [{"type": "boolean"}, {"$ref": "#"}], "default": {}},
    "definitions": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "properties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "patternProperties": {"type": "object", "additionalProperties": {"$ref": "#"}, "default": {}},
    "dependencies": {"type": "object",
                     "additionalProperties": {"anyOf": [{"$ref": "#"}, {"$ref": "#/definitions/stringArray"}]}},
    "enum": {"type": "array", "minItems": 1, "uniqueItems": true},
    "type": {"anyOf": [{"$ref": "#/definitions/simpleTypes"},
                       {"type": "array", "items": {"$ref": "#/definitions/simpleTypes"},
                        "minItems": 1, "uniqueItems": true}]},
    "format": {"type": "string"},
    "allOf": {"$ref": "#/definitions/schemaArray"},
    "anyOf": {"$ref": "#/definitions/schemaArray"},
    "oneOf": {"$ref": "#/definitions/schemaArray"},
    "not": {"$ref": "#"}
  },
  "dependencies": {"exclusiveMaximum": ["maximum"], "exclusiveMinimum": ["minimum"]},
  "default": {}
})json";

struct MetaSchema {
  rapidjson::Document source;
  std::unique_ptr<rapidjson::SchemaDocument> schema;
  MetaSchema() {
    source.Parse(kDraft04MetaSchema);
    schema = std::make_unique<rapidjson::SchemaDocument>(source);
  }
};

const MetaSchema& meta_schema() {
  static const MetaSchema meta;  // thread-safe initialization
  return meta;
}

// Draft-04 keywords RapidJSON 1.1 implements, and annotations that change nothing.
const std::set<std::string, std::less<>> kKeywords = {"$ref",
                                                      "$schema",
                                                      "id",
                                                      "title",
                                                      "description",
                                                      "default",
                                                      "format",
                                                      "$comment",
                                                      "examples",
                                                      "multipleOf",
                                                      "maximum",
                                                      "exclusiveMaximum",
                                                      "minimum",
                                                      "exclusiveMinimum",
                                                      "maxLength",
                                                      "minLength",
                                                      "pattern",
                                                      "additionalItems",
                                                      "items",
                                                      "maxItems",
                                                      "minItems",
                                                      "uniqueItems",
                                                      "maxProperties",
                                                      "minProperties",
                                                      "required",
                                                      "additionalProperties",
                                                      "definitions",
                                                      "properties",
                                                      "patternProperties",
                                                      "dependencies",
                                                      "enum",
                                                      "type",
                                                      "allOf",
                                                      "anyOf",
                                                      "oneOf",
                                                      "not"};

std::string json_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  std::string text(buffer.GetString(), buffer.GetSize());
  if (text.size() > kMaxQuoted) text = text.substr(0, kMaxQuoted) + "...";
  return text;
}

std::string pointer_text(const rapidjson::Pointer& pointer) {
  rapidjson::StringBuffer buffer;
  pointer.StringifyUriFragment(buffer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// A JSON pointer token escaped (RFC 6901) and then as a URI fragment shows it (so that a field
// name taken from a message never reaches a log line raw).
std::string token_text(std::string_view name) {
  rapidjson::Pointer p =
      rapidjson::Pointer().Append(name.data(), static_cast<rapidjson::SizeType>(name.size()));
  return pointer_text(p).substr(2);  // drop the leading "#/"
}

// A JSON pointer token escaped as RFC 6901 says (~ and /), for positions in a schema file.
std::string schema_token(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out += c;
  }
  return out;
}

std::string_view str(const rapidjson::Value& v) {
  return std::string_view(v.GetString(), v.GetStringLength());
}

const char* type_name(const rapidjson::Value& v) {
  switch (v.GetType()) {
    case rapidjson::kNullType:
      return "null";
    case rapidjson::kFalseType:
    case rapidjson::kTrueType:
      return "boolean";
    case rapidjson::kObjectType:
      return "object";
    case rapidjson::kArrayType:
      return "array";
    case rapidjson::kStringType:
      return "string";
    case rapidjson::kNumberType:
      return v.IsDouble() ? "number" : "integer";
  }
  return "value";
}

const rapidjson::Value* member(const rapidjson::Value* object, const char* name) {
  if (object == nullptr || !object->IsObject()) return nullptr;
  auto it = object->FindMember(name);
  return it == object->MemberEnd() ? nullptr : &it->value;
}

// "POINTER: WHAT" for a failed validation of document against the schema whose source is
// schema_root: keyword, schema_pointer and document_pointer are the validator's report.
std::string describe_violation(const rapidjson::Value& schema_root,
                               const rapidjson::Value* document, const char* keyword,
                               const rapidjson::Pointer& schema_pointer,
                               const rapidjson::Pointer& document_pointer, bool meta) {
  const std::string kw = keyword ? keyword : "";
  const rapidjson::Value* subschema =
      schema_pointer.IsValid() ? schema_pointer.Get(schema_root) : nullptr;
  const rapidjson::Value* value =
      document && document_pointer.IsValid() ? document_pointer.Get(*document) : nullptr;
  const std::string where = pointer_text(document_pointer);
  const std::string schema_at = pointer_text(schema_pointer);

  if (kw == "type") {
    std::string expected;
    if (const rapidjson::Value* t = member(subschema, "type")) {
      if (t->IsString()) expected = std::string(str(*t));
      if (t->IsArray())
        for (const auto& x : t->GetArray())
          if (x.IsString()) expected += (expected.empty() ? "" : " or ") + std::string(str(x));
    }
    std::string found = value ? std::string(", found ") + type_name(*value) : "";
    return where + ": expected type " + expected + found;
  }
  if (kw == "required" && value && value->IsObject()) {
    if (const rapidjson::Value* required = member(subschema, "required");
        required && required->IsArray()) {
      for (const auto& name : required->GetArray()) {
        if (name.IsString() && !value->HasMember(name))
          return where + "/" + token_text(str(name)) + ": required property is missing";
      }
    }
  }
  // The validator points at the undeclared property itself (additionalProperties: false).
  if (kw == "additionalProperties")
    return where + ": property is not allowed (additionalProperties)";
  if (kw == "enum") return where + ": not one of the values of \"enum\" (schema " + schema_at + ")";
  if (meta && kw == "anyOf" && schema_at == "#/properties/type")
    return where +
           ": not a JSON Schema type (array, boolean, integer, null, number, object, string)";
  if (kw == "allOf" || kw == "anyOf" || kw == "oneOf" || kw == "not")
    return where + ": does not match \"" + kw + "\" (schema " + schema_at + ")";
  if (const rapidjson::Value* expected = member(subschema, kw.c_str()))
    return where + ": fails \"" + kw + "\": " + json_text(*expected) + " (schema " + schema_at +
           ")";
  return where + ": fails \"" + kw + "\" (schema " + schema_at + ")";
}

// Depth (objects and arrays) and node count of value, without recursion.
void measure(const rapidjson::Value& root, int* depth, size_t* nodes) {
  std::vector<std::pair<const rapidjson::Value*, int>> stack{{&root, 1}};
  *depth = 0;
  *nodes = 0;
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (!v->IsObject() && !v->IsArray()) continue;
    ++*nodes;
    *depth = std::max(*depth, d);
    if (*depth > kMaxSchemaDepth || *nodes > kMaxSchemaNodes) return;
    if (v->IsObject())
      for (auto it = v->MemberBegin(); it != v->MemberEnd(); ++it)
        stack.push_back({&it->value, d + 1});
    else
      for (const auto& x : v->GetArray()) stack.push_back({&x, d + 1});
  }
}

class SchemaChecker {
 public:
  explicit SchemaChecker(const rapidjson::Document& root) : root_(root) {}

  // Walks the schema at `at` (a URI-fragment pointer, for messages); sets error_ at the first
  // problem. The depth was bounded before (kMaxSchemaDepth), so the recursion is too.
  void walk(const rapidjson::Value& schema, const std::string& at) {
    if (!error_.empty()) return;
    if (!schema.IsObject()) return;  // the meta-schema already refused a non-object schema
    for (auto it = schema.MemberBegin(); it != schema.MemberEnd() && error_.empty(); ++it) {
      const std::string_view key = str(it->name);
      const rapidjson::Value& v = it->value;
      const std::string here = at + "/" + schema_token(key);
      if (kKeywords.find(key) == kKeywords.end()) {
        fail(here, "\"" + std::string(key) +
                       "\" is not a JSON Schema draft-04 keyword this validator implements "
                       "(a typo, or a keyword of a later draft, would be ignored silently)");
      } else if (key == "$ref") {
        check_ref(v, here);
      } else if (key == "$schema") {
        if (v.IsString() && str(v).rfind("http://json-schema.org/draft-04/schema", 0) != 0)
          fail(here,
               "only JSON Schema draft-04 is supported (\"$schema\": "
               "\"http://json-schema.org/draft-04/schema#\")");
      } else if (key == "pattern") {
        if (v.IsString()) check_regex(v, here);
      } else if (key == "not" || key == "additionalItems" || key == "additionalProperties") {
        walk(v, here);
      } else if (key == "items") {
        if (v.IsArray()) {
          for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
            walk(v[i], here + "/" + std::to_string(i));
        } else {
          walk(v, here);
        }
      } else if (key == "allOf" || key == "anyOf" || key == "oneOf") {
        if (v.IsArray())
          for (rapidjson::SizeType i = 0; i < v.Size(); ++i)
            walk(v[i], here + "/" + std::to_string(i));
      } else if (key == "properties" || key == "definitions" || key == "patternProperties" ||
                 key == "dependencies") {
        if (!v.IsObject()) continue;
        for (auto m = v.MemberBegin(); m != v.MemberEnd() && error_.empty(); ++m) {
          const std::string sub = here + "/" + schema_token(str(m->name));
          if (key == "patternProperties") check_regex(m->name, sub);
          if (m->value.IsObject()) walk(m->value, sub);
        }
      }
    }
  }

  const std::string& error() const { return error_; }

 private:
  void fail(const std::string& at, const std::string& what) {
    if (error_.empty()) error_ = at + ": " + what;
  }

  void check_regex(const rapidjson::Value& pattern, const std::string& at) {
    if (std::memchr(pattern.GetString(), '\0', pattern.GetStringLength()) == nullptr) {
      rapidjson::internal::Regex regex(pattern.GetString());
      if (regex.IsValid()) return;
    }
    fail(at, "pattern \"" + std::string(str(pattern)) +
                 "\" is not supported by RapidJSON's regex engine, which would ignore it "
                 "(it knows literals, ., [...], [^...], (...), |, ?, *, +, {n,m}, ^ and $; write "
                 "[0-9] for \\d)");
  }

  // A "$ref" must be local, resolve to a schema object, and not start a cycle of "$ref"s (which
  // would make RapidJSON recurse forever when it compiles the schema).
  void check_ref(const rapidjson::Value& ref, const std::string& at) {
    if (!ref.IsString()) {
      fail(at, "\"$ref\" must be a string");
      return;
    }
    std::set<const rapidjson::Value*> seen;
    const rapidjson::Value* current = &ref;
    while (current != nullptr && current->IsString()) {
      const std::string_view text = str(*current);
      if (text.empty() || text[0] != '#') {
        fail(at, "\"$ref\": \"" + std::string(text) +
                     "\" is not a local reference; only \"#/...\" is supported (copy the "
                     "referenced schema under \"definitions\")");
        return;
      }
      rapidjson::Pointer pointer(current->GetString(), current->GetStringLength());
      const rapidjson::Value* target = pointer.IsValid() ? pointer.Get(root_) : nullptr;
      if (target == nullptr || !target->IsObject()) {
        fail(at, "\"$ref\": \"" + std::string(text) + "\" does not point at a schema object");
        return;
      }
      if (!seen.insert(target).second) {
        fail(at, "\"$ref\": \"" + std::string(text) + "\" is part of a cycle of \"$ref\"s");
        return;
      }
      current = member(target, "$ref");
    }
  }

  const rapidjson::Document& root_;
  std::string error_;
};

// Parses, checks and compiles schema_json; on failure returns false with *error (no prefix).
bool compile_schema(const std::string& schema_json, CompiledContract* out, std::string* error) {
  if (!parse_bounded_json(schema_json, {kMaxSchemaBytes, kMaxSchemaDepth}, &out->source, error))
    return false;
  int depth = 0;
  size_t nodes = 0;
  measure(out->source, &depth, &nodes);
  if (nodes > kMaxSchemaNodes) {
    *error = "has more than " + std::to_string(kMaxSchemaNodes) + " objects and arrays";
    return false;
  }
  if (!out->source.IsObject()) {
    *error =
        std::string("is not a JSON Schema: expected an object, found ") + type_name(out->source);
    return false;
  }
  const MetaSchema& meta = meta_schema();
  rapidjson::SchemaValidator validator(*meta.schema);
  if (!out->source.Accept(validator)) {
    *error = "is not a valid JSON Schema (draft-04): " +
             describe_violation(meta.source, &out->source, validator.GetInvalidSchemaKeyword(),
                                validator.GetInvalidSchemaPointer(),
                                validator.GetInvalidDocumentPointer(), true);
    return false;
  }
  SchemaChecker checker(out->source);
  checker.walk(out->source, "#");
  if (!checker.error().empty()) {
    *error = "is not usable: " + checker.error();
    return false;
  }
  out->schema = std::make_unique<rapidjson::SchemaDocument>(out->source);
  return true;
}

bool is_glob(std::string_view event) {
  return event.find_first_of("*?[") != std::string_view::npos;
}

}  // namespace

Status ContractSet::compile(const std::string& event, const std::string& schema_json,
                            const std::string& name, ContractSet* out) {
  auto contract = std::make_shared<CompiledContract>();
  contract->event = event;
  contract->name = name;
  std::string error;
  if (!compile_schema(schema_json, contract.get(), &error))
    return Status::error("contract " + event + ": schema " + name + " " + error);
  out->contracts_[event] = std::move(contract);
  return Status::ok();
}

Status ContractSet::load(const Config& config, ContractSet* out) {
  ContractSet result;
  for (const auto& [event, path] : config.contracts) {
    auto mark_it = config.contract_marks.find(event);
    const Mark mark =
        mark_it != config.contract_marks.end() ? mark_it->second : Mark{config.path, 1, 1};
    const std::string prefix = mark.str() + ": contract " + event + ": ";
    if (is_glob(event)) {
      return Status::error(prefix + "a contract applies to one exact event name; \"" + event +
                           "\" looks like a glob (write one entry per event)");
    }
    std::string text;
    std::FILE* file = std::fopen(path.c_str(), "rb");
    int error = file ? 0 : errno;
    if (file) {
      char buffer[65536];
      size_t n;
      while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0 && text.size() <= kMaxSchemaBytes)
        text.append(buffer, n);
      if (std::ferror(file)) error = errno ? errno : EIO;
      std::fclose(file);
    }
    if (error) {
      return Status::error(prefix + "schema " + path + ": cannot read it (" + std::strerror(error) +
                           ")");
    }
    Status s = compile(event, text, path, &result);
    if (!s) return Status::error(mark.str() + ": " + s.message());
  }
  *out = std::move(result);
  return Status::ok();
}

bool ContractSet::check(std::string_view event, std::string_view payload,
                        std::string* reason) const {
  auto it = contracts_.find(event);
  if (it == contracts_.end()) return true;
  const CompiledContract& contract = *it->second;
  rapidjson::SchemaValidator validator(*contract.schema);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(payload.data(), payload.size());
  const rapidjson::ParseResult result = reader.Parse<kParseFlags>(stream, validator);
  if (!result.IsError() && validator.IsValid()) return true;
  if (validator.IsValid()) {  // not the schema: the JSON itself (the decoder lets none through)
    *reason = "contract " + contract.event + ": payload is not valid JSON at offset " +
              std::to_string(result.Offset()) + ": " + rapidjson::GetParseError_En(result.Code());
    return false;
  }
  // Only now build a DOM of the payload, to say what was found where.
  // The decoder bounded its depth already (limits.max_depth): no depth limit of its own here.
  rapidjson::Document document;
  std::string error;
  const bool parsed = parse_bounded_json(payload, {payload.size(), INT_MAX}, &document, &error);
  *reason = "contract " + contract.event + ": " +
            describe_violation(
                contract.source, parsed ? &document : nullptr, validator.GetInvalidSchemaKeyword(),
                validator.GetInvalidSchemaPointer(), validator.GetInvalidDocumentPointer(), false);
  return false;
}

}  // namespace switchyard
