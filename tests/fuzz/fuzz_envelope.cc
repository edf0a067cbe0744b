// fuzz_envelope.cc: fuzz target for EnvelopeDecoder (and the contract check after it), with a
// RapidJSON DOM as the reference.
#include <rapidjson/document.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <string_view>

#include "contracts/contract.h"
#include "envelope/envelope.h"
#include "fuzz_target.h"

namespace {

constexpr unsigned kReferenceFlags =
    rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;

const switchyard::ContractSet& contracts() {
  static const switchyard::ContractSet set = [] {
    switchyard::ContractSet s;
    switchyard::ContractSet::compile("e", R"({
      "type": "object", "required": ["id"],
      "properties": {"id": {"type": "integer", "minimum": 0},
                     "tags": {"type": "array", "items": {"type": "string", "pattern": "^[a-z]+$"}},
                     "child": {"$ref": "#"}},
      "additionalProperties": {"type": ["string", "number", "object", "null"]}})",
                                     "fuzz.json", &s);
    return s;
  }();
  return set;
}

std::string to_json(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

// Checks one decode of message under limits against the reference parse.
void check(std::string_view message, switchyard::EnvelopeDecoder* decoder) {
  switchyard::Envelope envelope;
  std::string reason;
  const bool ok = decoder->decode(message, &envelope, &reason);
  if (!ok) {
    FUZZ_CHECK(!reason.empty(), "a refusal always says why");
    return;
  }
  FUZZ_CHECK(!envelope.event.empty(), "event is non-empty");
  FUZZ_CHECK(
      envelope.payload.data() >= message.data() &&
          envelope.payload.data() + envelope.payload.size() <= message.data() + message.size(),
      "payload is a slice of the message");
  FUZZ_CHECK(envelope.payload.size() >= 2 && envelope.payload.front() == '{' &&
                 envelope.payload.back() == '}',
             "payload slice is an object's text");
  FUZZ_CHECK(message.size() <= decoder->limits().max_message_bytes, "size limit holds");

  // Whatever the decoder accepts, a DOM parser accepts too, with the same event and payload.
  rapidjson::Document whole;
  rapidjson::MemoryStream stream(message.data(), message.size());
  whole.ParseStream<kReferenceFlags>(stream);
  FUZZ_CHECK(!whole.HasParseError() && whole.IsObject(), "accepted message parses as an object");
  const rapidjson::Value& dom = whole;
  FUZZ_CHECK(dom.HasMember("event") && dom["event"].IsString(), "event is a string");
  FUZZ_CHECK(
      std::string_view(dom["event"].GetString(), dom["event"].GetStringLength()) == envelope.event,
      "event matches the DOM");
  FUZZ_CHECK(dom.HasMember("payload") && dom["payload"].IsObject(), "payload is an object");
  rapidjson::Document slice;
  rapidjson::MemoryStream slice_stream(envelope.payload.data(), envelope.payload.size());
  slice.ParseStream<kReferenceFlags>(slice_stream);
  // Compared as text: Value::operator== looks members up by name, so duplicate names in a
  // payload (allowed) would compare the first one twice.
  FUZZ_CHECK(!slice.HasParseError() && to_json(slice) == to_json(dom["payload"]),
             "payload slice equals the DOM's");

  std::string contract_reason;
  if (!contracts().check("e", envelope.payload, &contract_reason))
    FUZZ_CHECK(contract_reason.rfind("contract e: #", 0) == 0, "contract reasons name a pointer");
}

}  // namespace

SWITCHYARD_FUZZ_TARGET(envelope) {
  const std::string_view message(reinterpret_cast<const char*>(data), size);
  // One decoder per limit set, reused across inputs like a worker's: buffer reuse is covered.
  static switchyard::EnvelopeDecoder defaults;
  static switchyard::EnvelopeDecoder tight(switchyard::EnvelopeLimits{256, 4});
  check(message, &defaults);
  check(message, &tight);
  // The same message again must give the same answer (no state leaks between calls).
  switchyard::Envelope a, b;
  std::string ra, rb;
  const bool first = defaults.decode(message, &a, &ra);
  const std::string event_a(a.event);
  const bool second = defaults.decode(message, &b, &rb);
  FUZZ_CHECK(first == second && ra == rb, "decode is deterministic");
  if (first) FUZZ_CHECK(event_a == b.event && a.payload == b.payload, "same envelope twice");
  return 0;
}
