// bounded_json.cc: parse_bounded_json and pretty_print_bounded_json: RapidJSON's iterative reader
// feeding a Document, or a PrettyWriter, through a depth gate.
#include "util/bounded_json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>

#include <cstring>

namespace switchyard {
namespace {

// Not kParseFullPrecisionFlag: in RapidJSON 1.1.0 it passes zero to clz() for input such as
// "0e282" (undefined behaviour). Printing a document back uses the number's own digits instead
// (pretty_print_bounded_json).
constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

// Forwards every SAX event to a handler (a Document, or a Writer) and refuses to open level
// max_depth + 1.
template <typename Handler>
class DepthGate {
 public:
  DepthGate(Handler* out, int max_depth) : out_(out), max_depth_(max_depth) {}

  bool Null() { return out_->Null(); }
  bool Bool(bool b) { return out_->Bool(b); }
  bool Int(int i) { return out_->Int(i); }
  bool Uint(unsigned u) { return out_->Uint(u); }
  bool Int64(int64_t i) { return out_->Int64(i); }
  bool Uint64(uint64_t u) { return out_->Uint64(u); }
  bool Double(double d) { return out_->Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return out_->RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return out_->String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return out_->Key(s, n, copy); }
  bool StartObject() { return Open() && out_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return out_->EndObject(n);
  }
  bool StartArray() { return Open() && out_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return out_->EndArray(n);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool Open() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  Handler* out_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

// A PrettyWriter that writes a number's text as it is (RapidJSON 1.1.0's Writer::RawNumber
// quotes it as a string).
class NumbersAsWritten : public rapidjson::PrettyWriter<rapidjson::StringBuffer> {
 public:
  using PrettyWriter::PrettyWriter;
  bool RawNumber(const char* s, rapidjson::SizeType n, bool /*copy*/) {
    return RawValue(s, n, rapidjson::kNumberType);
  }
};

bool oversize(std::string_view text, const JsonBounds& bounds, std::string* error) {
  if (text.size() <= bounds.max_bytes) return false;
  *error = "is " + std::to_string(text.size()) + " bytes, over the limit of " +
           std::to_string(bounds.max_bytes);
  return true;
}

// Whether the reader's result is a success; else sets *error (the header's three forms).
bool accepted(std::string_view text, const JsonBounds& bounds, const rapidjson::ParseResult& result,
              bool too_deep, std::string* error) {
  // The reader takes a NUL for the end of its input; RapidJSON's memory stream yields one at the
  // end too. A NUL at or before where it stopped is what stopped it.
  const size_t stop = result.IsError() ? result.Offset() : text.size();
  const void* nul = std::memchr(text.data(), '\0', text.size());
  if (nul != nullptr && static_cast<size_t>(static_cast<const char*>(nul) - text.data()) <= stop) {
    *error = "invalid JSON at offset " +
             std::to_string(static_cast<const char*>(nul) - text.data()) + ": unexpected NUL byte.";
    return false;
  }
  if (!result.IsError()) return true;
  if (result.Code() == rapidjson::kParseErrorTermination && too_deep) {
    *error = "nests deeper than " + std::to_string(bounds.max_depth) + " levels";
  } else {
    *error = "invalid JSON at offset " + std::to_string(result.Offset()) + ": " +
             rapidjson::GetParseError_En(result.Code());
  }
  return false;
}

}  // namespace

bool parse_bounded_json(std::string_view text, const JsonBounds& bounds, rapidjson::Document* doc,
                        std::string* error) {
  doc->SetNull();
  if (oversize(text, bounds, error)) return false;
  DepthGate<rapidjson::Document> gate(doc, bounds.max_depth);
  rapidjson::ParseResult result;
  // Populate() runs the reader with the Document as the target of the gate's events and, when
  // the generator succeeds, moves the one root value into the Document.
  auto generate = [&](rapidjson::Document&) {
    rapidjson::Reader reader;
    rapidjson::MemoryStream stream(text.data(), text.size());
    result = reader.Parse<kFlags>(stream, gate);
    return !result.IsError();
  };
  doc->Populate(generate);
  if (accepted(text, bounds, result, gate.too_deep(), error)) return true;
  doc->SetNull();
  return false;
}

bool pretty_print_bounded_json(std::string_view text, const JsonBounds& bounds, std::string* out,
                               std::string* error) {
  out->clear();
  if (oversize(text, bounds, error)) return false;
  rapidjson::StringBuffer buffer;
  NumbersAsWritten writer(buffer);
  DepthGate<NumbersAsWritten> gate(&writer, bounds.max_depth);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(text.data(), text.size());
  const rapidjson::ParseResult result =
      reader.Parse<kFlags | rapidjson::kParseNumbersAsStringsFlag>(stream, gate);
  if (!accepted(text, bounds, result, gate.too_deep(), error)) return false;
  out->assign(buffer.GetString(), buffer.GetSize());
  return true;
}

}  // namespace switchyard
