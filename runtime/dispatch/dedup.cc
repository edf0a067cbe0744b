// dedup.cc: dedup keys of events and their marks in Redis.
#include "dispatch/dedup.h"

#include <openssl/sha.h>
#include <rapidjson/writer.h>

namespace switchyard {
namespace {

// Longest value written into a Redis key as is; longer or unprintable values are hashed.
constexpr size_t kPlainValueMax = 128;

bool plain(std::string_view value) {
  if (value.empty() || value.size() > kPlainValueMax) return false;
  for (unsigned char c : value)
    if (c < 0x21 || c > 0x7e) return false;
  return true;
}

}  // namespace

const rapidjson::Pointer& DedupKeyReader::compiled(const std::string& pointer) {
  auto it = pointers_.find(pointer);
  if (it == pointers_.end())
    it = pointers_.emplace(pointer, rapidjson::Pointer(pointer.c_str(), pointer.size())).first;
  return it->second;
}

bool DedupKeyReader::read(const std::string& pointer, std::string_view message, bool raw_envelope,
                          std::string_view event, std::string_view payload, std::string* value) {
  static const std::string kPayload = "/payload";
  const rapidjson::Value* found = nullptr;
  if (pointer == "/event") {
    value->assign(event);
    return true;
  }
  if (pointer.compare(0, kPayload.size(), kPayload) == 0 &&
      (pointer.size() == kPayload.size() || pointer[kPayload.size()] == '/')) {
    document_.Parse(payload.data(), payload.size());
    if (document_.HasParseError()) return false;
    const rapidjson::Pointer& rest = compiled(pointer.substr(kPayload.size()));
    if (!rest.IsValid()) return false;
    found = rest.Get(document_);
  } else if (raw_envelope) {
    document_.Parse(message.data(), message.size());
    if (document_.HasParseError()) return false;
    const rapidjson::Pointer& whole = compiled(pointer);
    if (!whole.IsValid()) return false;
    found = whole.Get(document_);
  }
  if (!found) return false;
  if (found->IsString()) {
    value->assign(found->GetString(), found->GetStringLength());
    return true;
  }
  if (!found->IsNumber()) return false;
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  found->Accept(writer);
  value->assign(buffer.GetString(), buffer.GetSize());
  return true;
}

std::string dedup_redis_key(const std::string& source_key, const std::string& handler,
                            std::string_view value) {
  std::string key = source_key + ":dedup:" + handler + ":";
  if (plain(value)) return key + "=" + std::string(value);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(value.data()), value.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  key += '#';
  for (unsigned char b : digest) {
    key += kHex[b >> 4];
    key += kHex[b & 15];
  }
  return key;
}

Status DedupStore::seen(const std::vector<std::string>& keys, std::vector<bool>* seen) {
  seen->assign(keys.size(), false);
  if (keys.empty()) return Status::ok();
  std::vector<std::string_view> argv{"MGET"};
  for (const std::string& k : keys) argv.push_back(k);
  Reply reply;
  Status s = connection_->command_ok(argv, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != keys.size())
    return Status::error(std::string("dedup MGET returned an unexpected ") +
                         reply_type_name(reply.get()) + " reply");
  for (size_t i = 0; i < keys.size(); ++i) (*seen)[i] = reply->element[i]->type != REDIS_REPLY_NIL;
  return Status::ok();
}

Status DedupStore::mark(const std::vector<std::string>& keys, std::chrono::milliseconds window) {
  if (keys.empty()) return Status::ok();
  const std::string px = std::to_string(window.count());
  // One round trip, beside the take ahead the worker may have outstanding on this connection.
  std::vector<std::vector<std::string_view>> sets;
  sets.reserve(keys.size());
  for (const std::string& k : keys) sets.push_back({"SET", k, "1", "NX", "PX", px});
  std::vector<Reply> replies;
  if (Status s = connection_->commands(sets, &replies); !s) return s;
  for (size_t i = 0; i < keys.size(); ++i) {
    const Reply& reply = replies[i];
    if (reply->type == REDIS_REPLY_ERROR)
      return Status::error("dedup SET " + keys[i] + ": " + std::string(reply->str, reply->len));
  }
  return Status::ok();
}

}  // namespace switchyard
