// bounded_json.cc: parse_bounded_json: RapidJSON's iterative reader feeding a Document through a
// depth gate.
#include "util/bounded_json.h"

#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>

#include <cstring>

namespace switchyard {
namespace {

// Full precision: a number is read correctly rounded (RapidJSON's default may be off by one unit in
// the last place for long or extreme numbers), so a document written back with a Writer and read
// again holds the same numbers (what `dlq show` prints is what K:dead holds).
constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag |
                            rapidjson::kParseFullPrecisionFlag;

// Forwards every SAX event to the Document and refuses to open level max_depth + 1.
class DepthGate {
 public:
  DepthGate(rapidjson::Document* doc, int max_depth) : doc_(doc), max_depth_(max_depth) {}

  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned u) { return doc_->Uint(u); }
  bool Int64(int64_t i) { return doc_->Int64(i); }
  bool Uint64(uint64_t u) { return doc_->Uint64(u); }
  bool Double(double d) { return doc_->Double(d); }
  bool RawNumber(const char* s, rapidjson::SizeType n, bool copy) {
    return doc_->RawNumber(s, n, copy);
  }
  bool String(const char* s, rapidjson::SizeType n, bool copy) { return doc_->String(s, n, copy); }
  bool Key(const char* s, rapidjson::SizeType n, bool copy) { return doc_->Key(s, n, copy); }
  bool StartObject() { return Open() && doc_->StartObject(); }
  bool EndObject(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndObject(n);
  }
  bool StartArray() { return Open() && doc_->StartArray(); }
  bool EndArray(rapidjson::SizeType n) {
    --depth_;
    return doc_->EndArray(n);
  }

  bool too_deep() const { return too_deep_; }

 private:
  bool Open() {
    if (++depth_ <= max_depth_) return true;
    too_deep_ = true;
    return false;
  }

  rapidjson::Document* doc_;
  int max_depth_;
  int depth_ = 0;
  bool too_deep_ = false;
};

}  // namespace

bool parse_bounded_json(std::string_view text, const JsonBounds& bounds, rapidjson::Document* doc,
                        std::string* error) {
  doc->SetNull();
  if (text.size() > bounds.max_bytes) {
    *error = "is " + std::to_string(text.size()) + " bytes, over the limit of " +
             std::to_string(bounds.max_bytes);
    return false;
  }
  DepthGate gate(doc, bounds.max_depth);
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
  // The reader takes a NUL for the end of its input; RapidJSON's memory stream yields one at the
  // end too. A NUL at or before where it stopped is what stopped it.
  const size_t stop = result.IsError() ? result.Offset() : text.size();
  const void* nul = std::memchr(text.data(), '\0', text.size());
  if (nul != nullptr && static_cast<size_t>(static_cast<const char*>(nul) - text.data()) <= stop) {
    doc->SetNull();
    *error = "invalid JSON at offset " +
             std::to_string(static_cast<const char*>(nul) - text.data()) + ": unexpected NUL byte.";
    return false;
  }
  if (!result.IsError()) return true;
  doc->SetNull();
  if (result.Code() == rapidjson::kParseErrorTermination && gate.too_deep()) {
    *error = "nests deeper than " + std::to_string(bounds.max_depth) + " levels";
  } else {
    *error = "invalid JSON at offset " + std::to_string(result.Offset()) + ": " +
             rapidjson::GetParseError_En(result.Code());
  }
  return false;
}

}  // namespace switchyard
