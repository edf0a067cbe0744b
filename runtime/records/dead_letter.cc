// dead_letter.cc: encoding and decoding of K:dead records.
#include "records/dead_letter.h"

#include <openssl/evp.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <ctime>

#include "util/bounded_json.h"
#include "util/utf8.h"

namespace switchyard {
namespace {

// Length of the valid UTF-8 sequence at text[i], or 0 when it is not one (util/utf8.h).
size_t utf8_sequence(std::string_view text, size_t i) {
  return utf8_sequence_length(text.data() + i, text.size() - i);
}

bool valid_utf8(std::string_view text) { return is_valid_utf8(text.data(), text.size()); }

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

// Writes text as a JSON string: as it is when valid UTF-8, else with U+FFFD for each invalid byte
// (a plugin's reason, or a name read from Redis, may hold any bytes; the letter must stay JSON
// that decode_dead_letter reads back).
void write_text(rapidjson::Writer<rapidjson::StringBuffer>& w, std::string_view text) {
  if (valid_utf8(text)) {
    w.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
    return;
  }
  const std::string readable = replace_invalid_utf8(text);
  w.String(readable.data(), static_cast<rapidjson::SizeType>(readable.size()));
}

void write_tail_fields(rapidjson::Writer<rapidjson::StringBuffer>& w, const DeadLetter& letter) {
  if (letter.truncated()) {
    w.Key("message_bytes");
    w.Uint64(letter.message_bytes);
    w.Key("message_sha256");
    write_text(w, letter.message_sha256);  // ours is hex; one read back from Redis may be anything
  }
  w.Key("source");
  write_text(w, letter.source);
  w.Key("handler");
  if (letter.handler) {
    write_text(w, *letter.handler);
  } else {
    w.Null();
  }
  w.Key("reason");
  write_text(w, letter.reason);
  w.Key("attempts");
  w.Int(letter.attempts);
  w.Key("failed_at");
  write_text(w, letter.failed_at);
  w.Key("instance");
  write_text(w, letter.instance);
}

// The SHA-256 of data, in lowercase hex. OpenSSL's one-shot EVP_Digest: the library every
// Debian system has, rather than a hand-written hash.
std::string sha256_hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &length, EVP_sha256(), nullptr) != 1)
    return "unavailable";
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex += kHex[digest[i] >> 4];
    hex += kHex[digest[i] & 15];
  }
  return hex;
}

}  // namespace

std::string encode_dead_letter(const DeadLetter& letter) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
  w.StartObject();
  w.Key("message");
  if (valid_utf8(letter.message)) {
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

void keep_prefix_only(DeadLetter* letter, size_t prefix_bytes) {
  std::string& m = letter->message;
  if (m.size() <= prefix_bytes) return;
  letter->message_bytes = m.size();
  letter->message_sha256 = sha256_hex(m);
  size_t cut = prefix_bytes;
  // Back to the start of the sequence the cut would split (a valid message stays valid).
  for (int k = 0; k < 3 && cut > 0 && (static_cast<unsigned char>(m[cut]) & 0xC0) == 0x80; ++k)
    --cut;
  m.resize(cut);
  m.shrink_to_fit();
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
  if (!parse_bounded_json(json, JsonBounds{}, &doc, error)) return false;
  if (!doc.IsObject()) {
    *error = "not a JSON object";
    return false;
  }
  // A string escape such as a lone surrogate (\udc00) decodes to bytes that are not UTF-8: the
  // text fields are read as encode_dead_letter writes them (U+FFFD for each invalid byte), so a
  // letter read back from Redis and written again is the same letter.
  auto str = [&](const char* key, std::string* out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) return false;
    const std::string_view text(it->value.GetString(), it->value.GetStringLength());
    if (valid_utf8(text) || std::strcmp(key, "message") == 0)
      out->assign(text);
    else
      *out = replace_invalid_utf8(text);
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
  if (h != doc.MemberEnd() && h->value.IsString()) {
    d.handler.emplace();
    str("handler", &*d.handler);
  }
  auto a = doc.FindMember("attempts");
  if (a != doc.MemberEnd() && a->value.IsInt()) d.attempts = a->value.GetInt();
  if (str("message_sha256", &d.message_sha256)) {
    // An empty digest would read as a whole message although "message" holds only a prefix.
    if (d.message_sha256.empty()) {
      *error = "\"message_sha256\" is empty";
      return false;
    }
    if (!doc.HasMember("message_bytes") || !doc["message_bytes"].IsUint64()) {
      *error = "\"message_sha256\" without a \"message_bytes\" count";
      return false;
    }
    d.message_bytes = static_cast<size_t>(doc["message_bytes"].GetUint64());
  }
  *letter = std::move(d);
  return true;
}

std::string dead_letter_id(std::string_view element) {
  return sha256_hex(element).substr(0, kDeadLetterIdDigits);
}

std::string now_iso8601() {
  auto now = std::chrono::system_clock::now();
  return iso8601(
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count());
}

std::string iso8601(int64_t ms) {
  if (ms < 0) ms = 0;
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm;
  gmtime_r(&secs, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

bool parse_iso8601(std::string_view text, int64_t* epoch_ms) {
  size_t i = 0;
  // Reads exactly n digits into *value.
  auto digits = [&](int n, int* value) {
    *value = 0;
    for (int k = 0; k < n; ++k, ++i) {
      if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
      *value = *value * 10 + (text[i] - '0');
    }
    return true;
  };
  auto take = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  std::tm tm{};
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, ms = 0;
  if (!digits(4, &year) || !take('-') || !digits(2, &month) || !take('-') || !digits(2, &day))
    return false;
  int64_t offset_minutes = 0;
  if (i < text.size()) {
    if (!take('T') && !take(' ')) return false;
    if (!digits(2, &hour) || !take(':') || !digits(2, &minute)) return false;
    if (take(':')) {
      if (!digits(2, &second)) return false;
      if (take('.')) {
        int scale = 100, d = 0;
        if (i >= text.size() || text[i] < '0' || text[i] > '9') return false;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          if (!digits(1, &d)) return false;
          ms += d * scale;
          scale /= 10;
        }
      }
    }
    if (!take('Z') && i < text.size()) {
      const int sign = text[i] == '+' ? 1 : text[i] == '-' ? -1 : 0;
      int oh = 0, om = 0;
      ++i;
      if (sign == 0 || !digits(2, &oh) || !take(':') || !digits(2, &om) || oh > 23 || om > 59)
        return false;
      offset_minutes = sign * (oh * 60 + om);
    }
    if (i != text.size()) return false;
  }
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return false;
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const std::time_t secs = timegm(&tm);
  *epoch_ms = (static_cast<int64_t>(secs) - offset_minutes * 60) * 1000 + ms;
  return true;
}

std::string instance_name() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) snprintf(host, sizeof(host), "unknown");
  return std::string(host) + ":" + std::to_string(getpid());
}

}  // namespace switchyard
