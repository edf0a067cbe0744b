// dead_letter.cc: encoding and decoding of K:dead records.
#include "dispatch/dead_letter.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>

namespace switchyard {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when it is not one (overlong forms,
// surrogates and code points past U+10FFFF are invalid, as RFC 3629 says).
size_t utf8_sequence(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) return 1;
  size_t n = c >= 0xF0 && c <= 0xF4 ? 4 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xC2 && c <= 0xDF ? 2 : 0;
  if (n == 0 || (c >= 0xE0 && c < 0xF0 && n != 3) || i + n > text.size()) return 0;
  for (size_t k = 1; k < n; ++k)
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  unsigned char c1 = byte(i + 1);
  if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) ||
      (c == 0xF4 && c1 > 0x8F))
    return 0;
  return n;
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence(text, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

// The text with every invalid byte replaced by U+FFFD (for the readable "message" field).
std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    size_t n = utf8_sequence(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  return out;
}

const char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<unsigned char>(in[i]) << 16;
    if (i + 1 < in.size()) v |= static_cast<unsigned char>(in[i + 1]) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out += kBase64[(v >> 18) & 63];
    out += kBase64[(v >> 12) & 63];
    out += i + 1 < in.size() ? kBase64[(v >> 6) & 63] : '=';
    out += i + 2 < in.size() ? kBase64[v & 63] : '=';
  }
  return out;
}

bool base64_decode(std::string_view in, std::string* out) {
  out->clear();
  uint32_t v = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    const char* p = std::strchr(kBase64, c);
    if (p == nullptr || c == '\0') return false;
    v = (v << 6) | static_cast<uint32_t>(p - kBase64);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((v >> bits) & 0xFF));
    }
  }
  return true;
}

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
  if (is_valid_utf8(letter.message)) {
    w.String(letter.message.data(), static_cast<rapidjson::SizeType>(letter.message.size()));
  } else {
    // JSON text must be UTF-8: a readable copy in "message", the exact bytes in base64.
    std::string readable = replace_invalid_utf8(letter.message);
    w.String(readable.data(), static_cast<rapidjson::SizeType>(readable.size()));
    std::string exact = base64_encode(letter.message);
    w.Key("message_base64");
    w.String(exact.data(), static_cast<rapidjson::SizeType>(exact.size()));
  }
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
  std::string exact;
  if (str("message_base64", &exact) && !base64_decode(exact, &d.message)) {
    *error = "\"message_base64\" is not base64";
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
