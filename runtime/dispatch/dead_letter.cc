// dead_letter.cc: encoding and decoding of K:dead records.
#include "dispatch/dead_letter.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <chrono>
#include <ctime>

namespace switchyard {
namespace {

void write_tail_fields(rapidjson::Writer<rapidjson::StringBuffer>& w, const DeadLetter& letter) {
  w.Key("source");
  w.String(letter.source.data(), static_cast<rapidjson::SizeType>(letter.source.size()));
  w.Key("handler");
  if (letter.handler) {
    w.String(letter.handler->data(), static_cast<rapidjson::SizeType>(letter.handler->size()));
  } else {
    w.Null();
  }
  w.Key("reason");
  w.String(letter.reason.data(), static_cast<rapidjson::SizeType>(letter.reason.size()));
  w.Key("attempts");
  w.Int(letter.attempts);
  w.Key("failed_at");
  w.String(letter.failed_at.data(), static_cast<rapidjson::SizeType>(letter.failed_at.size()));
  w.Key("instance");
  w.String(letter.instance.data(), static_cast<rapidjson::SizeType>(letter.instance.size()));
}

}  // namespace

std::string encode_dead_letter(const DeadLetter& letter) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("message");
  w.String(letter.message.data(), static_cast<rapidjson::SizeType>(letter.message.size()));
  write_tail_fields(w, letter);
  w.EndObject();
  return std::string(buffer.GetString(), buffer.GetSize());
}

std::string encode_dead_letter_tail(const DeadLetter& letter) {
  // Encode a whole record with an empty message and cut what follows `{"message":""`.
  DeadLetter copy = letter;
  copy.message.clear();
  std::string whole = encode_dead_letter(copy);
  static const std::string kHead = "{\"message\":\"\"";
  return whole.substr(kHead.size());
}

bool decode_dead_letter(std::string_view json, DeadLetter* letter, std::string* error) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    *error = "not a JSON object";
    return false;
  }
  auto str = [&](const char* key, std::string* out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return true;
  };
  DeadLetter d;
  if (!str("message", &d.message)) {
    *error = "no \"message\" string";
    return false;
  }
  str("source", &d.source);
  str("reason", &d.reason);
  str("failed_at", &d.failed_at);
  str("instance", &d.instance);
  auto h = doc.FindMember("handler");
  if (h != doc.MemberEnd() && h->value.IsString())
    d.handler = std::string(h->value.GetString(), h->value.GetStringLength());
  auto a = doc.FindMember("attempts");
  if (a != doc.MemberEnd() && a->value.IsInt()) d.attempts = a->value.GetInt();
  *letter = std::move(d);
  return true;
}

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string instance_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "unknown");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace switchyard
