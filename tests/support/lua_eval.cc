// lua_eval.cc: EVAL through the test client, and the reply readers the script tests share.
#include "support/lua_eval.h"

#include <openssl/sha.h>

#include <stdexcept>

namespace switchyard::test {

Reply eval(RedisClient& client, const std::string& script, const std::vector<std::string>& keys,
           const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"EVAL", script, std::to_string(keys.size())};
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return client.try_command(argv);
}

int64_t integer_of(const Reply& reply) {
  if (reply.type != Reply::Type::kInteger)
    throw std::runtime_error("expected an integer reply, got " + reply.describe());
  return reply.integer;
}

std::vector<int64_t> integers_of(const Reply& reply) {
  if (reply.type != Reply::Type::kArray)
    throw std::runtime_error("expected an array of integers, got " + reply.describe());
  std::vector<int64_t> out;
  for (const Reply& e : reply.elements) out.push_back(integer_of(e));
  return out;
}

std::vector<std::string> strings_of(const Reply& reply) {
  if (reply.type != Reply::Type::kArray)
    throw std::runtime_error("expected an array of strings, got " + reply.describe());
  std::vector<std::string> out;
  for (const Reply& e : reply.elements) {
    if (e.type != Reply::Type::kString)
      throw std::runtime_error("expected an array of strings, got " + reply.describe());
    out.push_back(e.str);
  }
  return out;
}

int64_t pttl(RedisClient& client, const std::string& key) {
  return integer_of(client.command({"PTTL", key}));
}

std::string type_of(RedisClient& client, const std::string& key) {
  return client.command({"TYPE", key}).str;
}

std::string sha1_hex(const std::string& bytes) {
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), digest);
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : digest) {
    out += kHex[b >> 4];
    out += kHex[b & 15];
  }
  return out;
}

}  // namespace switchyard::test
