// fuzz_json.h: the compact JSON text of a RapidJSON value, for the fuzz targets' comparisons.
#ifndef SWITCHYARD_TESTS_FUZZ_FUZZ_JSON_H_
#define SWITCHYARD_TESTS_FUZZ_FUZZ_JSON_H_

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>

namespace switchyard::fuzz {

// The compact JSON text of value. Compared instead of operator==, which looks members up by name
// and so calls two equal documents with a duplicate key different. Thread safety: pure.
inline std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

}  // namespace switchyard::fuzz

#endif  // SWITCHYARD_TESTS_FUZZ_FUZZ_JSON_H_
