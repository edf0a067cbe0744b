// fuzz_bounded_json.cc: fuzz target for parse_bounded_json (every DOM parse of message and
// dead-letter bytes) and the Laravel job diagnostics on it, against RapidJSON's own iterative parse
// as the reference.
#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "envelope/laravel_job.h"
#include "fuzz_json.h"
#include "fuzz_target.h"
#include "util/bounded_json.h"
#include "util/utf8.h"

namespace {

constexpr unsigned kReferenceFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// The deepest nesting of objects and arrays in value (the root container is 1), iteratively.
int depth_of(const rapidjson::Value& root) {
  int deepest = 0;
  std::vector<std::pair<const rapidjson::Value*, int>> stack{{&root, 1}};
  while (!stack.empty()) {
    auto [v, d] = stack.back();
    stack.pop_back();
    if (v->IsObject()) {
      deepest = std::max(deepest, d);
      for (const auto& m : v->GetObject()) stack.push_back({&m.value, d + 1});
    } else if (v->IsArray()) {
      deepest = std::max(deepest, d);
      for (const auto& e : v->GetArray()) stack.push_back({&e, d + 1});
    }
  }
  return deepest;
}

using switchyard::fuzz::to_json;

}  // namespace

SWITCHYARD_FUZZ_TARGET(bounded_json) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  rapidjson::Document reference;
  rapidjson::MemoryStream stream(input.data(), input.size());
  reference.ParseStream<kReferenceFlags>(stream);
  const bool has_nul = std::memchr(input.data(), '\0', input.size()) != nullptr;

  for (int max_depth : {1, 3, 64}) {
    rapidjson::Document doc;
    std::string error;
    const bool ok = switchyard::parse_bounded_json(input, {size, max_depth}, &doc, &error);
    if (ok) {
      FUZZ_CHECK(!reference.HasParseError() && to_json(doc) == to_json(reference),
                 "the same DOM as RapidJSON's");
      FUZZ_CHECK(depth_of(doc) <= max_depth, "within the depth limit");
      FUZZ_CHECK(!has_nul, "a NUL byte is never accepted");
    } else {
      FUZZ_CHECK(!error.empty() && doc.IsNull(), "a refusal says why and leaves null");
      FUZZ_CHECK(reference.HasParseError() || has_nul || depth_of(reference) > max_depth,
                 "refuses only what is invalid, has a NUL or is too deep");
    }
    // The pretty printer accepts and refuses the same texts, and prints the same document.
    std::string pretty, print_error;
    FUZZ_CHECK(switchyard::pretty_print_bounded_json(input, {size, max_depth}, &pretty,
                                                     &print_error) == ok &&
                   print_error == error,
               "pretty-print accepts what parse accepts, with the same error");
    // (A string escape such as a lone surrogate decodes to bytes that are not UTF-8, which the
    // printer writes as they are: `dlq show` escapes them for the terminal.)
    if (ok && switchyard::is_valid_utf8(pretty.data(), pretty.size())) {
      rapidjson::Document again;
      FUZZ_CHECK(switchyard::parse_bounded_json(pretty, {}, &again, &error) &&
                     to_json(again) == to_json(doc),
                 "the pretty text reads as the same document");
    }
  }
  rapidjson::Document doc;
  std::string error;
  FUZZ_CHECK(!switchyard::parse_bounded_json(input, {size == 0 ? 0 : size - 1, 64}, &doc, &error) ||
                 size == 0,
             "the size limit holds");

  // The Laravel diagnostics: a job is an object with its four members, whatever the limits.
  std::string name;
  const bool job = switchyard::is_laravel_job(input, {size, 64}, &name);
  if (job) {
    FUZZ_CHECK(!reference.HasParseError() && reference.IsObject() && reference.HasMember("uuid") &&
                   reference.HasMember("displayName") && reference.HasMember("job") &&
                   reference.HasMember("data"),
               "a job has the four members");
    FUZZ_CHECK(!name.empty(), "a job has a display name, or ?");
  }
  return 0;
}
