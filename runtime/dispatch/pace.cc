// pace.cc: token buckets and call slots in Redis.
#include "dispatch/pace.h"

#include <algorithm>

#include "dispatch/lua/scripts.h"

namespace switchyard {
namespace {

// Its Redis scripts: dispatch/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kTokenBucket(lua::kTokenBucket);
const RedisScript kCallSlot(lua::kCallSlot);

}  // namespace

std::string source_bucket_key(const std::string& source_key) { return source_key + ":pace"; }

std::string handler_bucket_key(const std::string& source_key, const std::string& handler) {
  return source_key + ":pace:handler:" + handler;
}

std::string rate_text(const Rate& rate) {
  const int64_t per = rate.per.count();
  const char* unit = per == 1000 ? "s" : per == 60 * 1000 ? "m" : "h";
  return std::to_string(rate.tokens) + "/" + unit;
}

std::string handler_slots_key(const std::string& source_key, const std::string& handler) {
  return source_key + ":slots:handler:" + handler;
}

int64_t bucket_capacity(const Rate& rate) {
  if (!rate.limited() || rate.per.count() <= 0) return 1;
  return std::max<int64_t>(1, rate.tokens * 100 / rate.per.count());
}

Status Pacer::take(const std::string& key, const Rate& rate, int64_t wanted, Grant* grant) {
  *grant = Grant{0, 1000, 0};
  const std::string tokens = std::to_string(rate.tokens);
  const std::string per = std::to_string(rate.per.count());
  const std::string capacity = std::to_string(bucket_capacity(rate));
  const std::string want = std::to_string(std::max<int64_t>(0, wanted));
  Reply reply;
  Status s = connection_->eval(kTokenBucket, {key}, {tokens, per, capacity, want}, &reply);
  if (!s) return Status::error("rate limit bucket " + key + ": " + s.message());
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER ||
      reply->element[1]->type != REDIS_REPLY_INTEGER ||
      reply->element[2]->type != REDIS_REPLY_INTEGER)
    return Status::error("rate limit bucket " + key + ": the script returned an unexpected " +
                         reply_type_name(reply.get()) + " reply");
  grant->granted = reply->element[0]->integer;
  grant->wait_ms = reply->element[1]->integer;
  grant->now_ms = reply->element[2]->integer;
  return Status::ok();
}

Status Pacer::take_slot(const std::string& key, int limit, int64_t lease_ms,
                        const std::string& holder, bool* taken, int64_t* wait_ms) {
  *taken = false;
  *wait_ms = 1000;
  const std::string limit_text = std::to_string(limit), lease = std::to_string(lease_ms);
  Reply reply;
  Status s = connection_->eval(kCallSlot, {key}, {limit_text, lease, holder}, &reply);
  if (!s) return Status::error("call slots " + key + ": " + s.message());
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER ||
      reply->element[1]->type != REDIS_REPLY_INTEGER)
    return Status::error("call slots " + key + ": the script returned an unexpected " +
                         reply_type_name(reply.get()) + " reply");
  *taken = reply->element[0]->integer == 1;
  *wait_ms = reply->element[1]->integer;
  return Status::ok();
}

Status Pacer::give_slot(const std::string& key, const std::string& holder) {
  Reply reply;
  Status s = connection_->command_ok({"ZREM", key, holder}, &reply);
  if (!s) return Status::error("call slots " + key + ": " + s.message());
  return Status::ok();
}

}  // namespace switchyard
