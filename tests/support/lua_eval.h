// lua_eval.h: runs a Redis Lua script with EVAL through the test client, for the script tests.
#ifndef SWITCHYARD_TESTS_SUPPORT_LUA_EVAL_H_
#define SWITCHYARD_TESTS_SUPPORT_LUA_EVAL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "support/redis_client.h"

namespace switchyard::test {

// EVAL script <number of keys> keys... args... on client. Returns the reply; an error reply is
// returned as Reply{kError} (not thrown). Throws std::runtime_error on I/O errors.
// Thread safety: as RedisClient (one client per thread).
Reply eval(RedisClient& client, const std::string& script, const std::vector<std::string>& keys,
           const std::vector<std::string>& args);

// The reply's integer; throws std::runtime_error naming the reply when it is not an integer.
int64_t integer_of(const Reply& reply);

// The integers of an array reply of integers; throws std::runtime_error (naming the reply) for
// any other reply.
std::vector<int64_t> integers_of(const Reply& reply);

// The strings of an array reply of bulk strings; throws std::runtime_error (naming the reply)
// for any other reply.
std::vector<std::string> strings_of(const Reply& reply);

// PTTL key: milliseconds left, -1 without a TTL, -2 when the key does not exist.
int64_t pttl(RedisClient& client, const std::string& key);

// TYPE key: "none", "string", "list", "hash", "zset", "stream" ...
std::string type_of(RedisClient& client, const std::string& key);

// SHA-1 (lowercase hex) of bytes, as redis.sha1hex computes it: the field of a message in
// K:deliveries.
std::string sha1_hex(const std::string& bytes);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_LUA_EVAL_H_
