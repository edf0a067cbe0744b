// list_source.cc: the reliable list source's Redis scripts and their callers.
#include "source/list_source.h"

#include <cstring>

#include "dispatch/dead_letter.h"

namespace switchyard {
namespace {

// KEYS: K, inflight, owners, heartbeat, deliveries[, notify]. ARGV: max, consumer, ttl_ms, token,
// tokens already consumed. Moves up to max messages from the head of K to the tail of the
// in-flight list in one step; with a notify list (Laravel), removes one token per message taken.
const RedisScript kTakeScript(R"lua(
local msgs = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local n = #msgs
if n == 0 then return msgs end
if redis.call('EXISTS', KEYS[5]) == 1 then
  -- Redelivered messages (they have a delivery count) travel alone.
  if redis.call('HEXISTS', KEYS[5], redis.sha1hex(msgs[1])) == 1 then
    n = 1
  else
    for i = 2, n do
      if redis.call('HEXISTS', KEYS[5], redis.sha1hex(msgs[i])) == 1 then n = i - 1; break end
    end
  end
end
redis.call('HSET', KEYS[3], KEYS[2], ARGV[2])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[3])
redis.call('LTRIM', KEYS[1], n, -1)
if KEYS[6] then
  local trim = n - tonumber(ARGV[5])
  if trim > 0 then redis.call('LTRIM', KEYS[6], trim, -1) end
end
for i = 1, n, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(msgs, i, math.min(i + 999, n)))
end
if n < #msgs then
  local taken = {}
  for i = 1, n do taken[i] = msgs[i] end
  return taken
end
return msgs
)lua");

// KEYS: inflight, dead, retry, deliveries. ARGV: n, ndead, dead letters..., (score, member)...
// Acks a whole batch with its dead letters and retries, only if the in-flight list is still ours.
const RedisScript kAckScript(R"lua(
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) ~= n then return 0 end
local nd = tonumber(ARGV[2])
for i = 3, 2 + nd, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, 2 + nd)))
end
for i = 3 + nd, #ARGV, 1000 do
  redis.call('ZADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if n == 1 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HDEL', KEYS[4], redis.sha1hex(redis.call('LINDEX', KEYS[1], 0)))
end
redis.call('DEL', KEYS[1])
return 1
)lua");

// KEYS: list, K, deliveries, dead, owners, heartbeat of the list's consumer.
// ARGV: force, max_deliveries, dead-letter tail (everything after "message"), count ('1' counts a
// delivery per message; '0' after a lost reply, where the messages were never handled).
// Returns {returned, dead}, or {-1, 0} when the owner is alive and force is not set.
const RedisScript kRecoverScript(R"lua(
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[6]) == 1 then return {-1, 0} end
local msgs = redis.call('LRANGE', KEYS[1], 0, -1)
local max = tonumber(ARGV[2])
local returned, dead = 0, 0
for i = #msgs, 1, -1 do
  local m = msgs[i]
  local h = redis.sha1hex(m)
  local c = 0
  if ARGV[4] == '1' then c = redis.call('HINCRBY', KEYS[3], h, 1) end
  if ARGV[4] == '1' and c >= max then
    redis.call('HDEL', KEYS[3], h)
    redis.call('RPUSH', KEYS[4], '{"message":' .. cjson.encode(m) .. ARGV[3])
    dead = dead + 1
  else
    redis.call('LPUSH', KEYS[2], m)
    returned = returned + 1
  end
end
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[5], KEYS[1])
return {returned, dead}
)lua");

// KEYS: retry. ARGV: now_ms, lease_ms, max.
// Leases due retries: each member is re-added with its lease count plus one, due at now+lease.
const RedisScript kLeaseScript(R"lua(
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
local until_ms = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, m in ipairs(due) do
  local leases, rest = string.match(m, '^v1|(%d+)|(.*)$')
  if leases then
    redis.call('ZREM', KEYS[1], m)
    local m2 = 'v1|' .. (tonumber(leases) + 1) .. '|' .. rest
    redis.call('ZADD', KEYS[1], until_ms, m2)
    out[#out + 1] = m2
  else
    redis.call('ZADD', KEYS[1], until_ms, m)
    out[#out + 1] = m
  end
end
return out
)lua");

// KEYS: retry, dead. ARGV: quadruples (member, action, score, data); action done|retry|dead.
const RedisScript kSettleScript(R"lua(
local settled = 0
for i = 1, #ARGV, 4 do
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    if ARGV[i + 1] == 'retry' then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 3])
    elseif ARGV[i + 1] == 'dead' then
      redis.call('RPUSH', KEYS[2], ARGV[i + 3])
    end
    settled = settled + 1
  end
end
return settled
)lua");

}  // namespace

ListSource::ListSource(RedisConnection* connection, std::string key, std::string consumer,
                       int worker, std::string token, std::chrono::milliseconds ttl)
    : connection_(connection),
      keys_(std::move(key)),
      consumer_(std::move(consumer)),
      worker_(worker),
      inflight_(keys_.inflight(consumer_, worker)),
      token_(std::move(token)),
      ttl_ms_(std::to_string(ttl.count())) {}

Status ListSource::take(int max, std::chrono::milliseconds block, TakenBatch* batch) {
  Status s = take_now(max, 0, batch);
  if (!s || !batch->messages.empty() || block.count() <= 0) return s;
  // Nothing pending: wait, without polling, for the next push.
  char timeout[32];
  snprintf(timeout, sizeof(timeout), "%.3f", static_cast<double>(block.count()) / 1000.0);
  if (!notify_key_.empty()) {
    // Laravel: wait on the notify list as Laravel's own worker does, then take with the token
    // already consumed. A token lost to a crash here only leaves fewer tokens than messages.
    s = connection_->command_ok({"BLPOP", notify_key_, timeout}, &batch->reply);
    if (!s) return s;
    if (batch->reply->type != REDIS_REPLY_ARRAY) return Status::ok();
    return take_now(max, 1, batch);
  }
  // Raw lists: move one message atomically into the in-flight list as it arrives.
  s = connection_->command_ok({"BLMOVE", keys_.pending, inflight_, "LEFT", "RIGHT", timeout},
                              &batch->reply);
  if (!s) return s;
  redisReply* r = batch->reply.get();
  if (r->type == REDIS_REPLY_STRING) batch->messages.emplace_back(r->str, r->len);
  return Status::ok();
}

Status ListSource::take_now(int max, int tokens_consumed, TakenBatch* batch) {
  batch->clear();
  std::string max_text = std::to_string(max);
  std::string consumed = std::to_string(tokens_consumed);
  std::string heartbeat = keys_.heartbeat(consumer_);
  std::string owners = keys_.owners();
  std::string deliveries = keys_.deliveries();
  std::vector<std::string_view> keys = {keys_.pending, inflight_, owners, heartbeat, deliveries};
  if (!notify_key_.empty()) keys.push_back(notify_key_);
  Status s = connection_->eval(kTakeScript, keys, {max_text, consumer_, ttl_ms_, token_, consumed},
                               &batch->reply);
  if (!s) return s;
  redisReply* r = batch->reply.get();
  if (r->type != REDIS_REPLY_ARRAY) return Status::error("take script returned a non-array");
  batch->messages.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    batch->messages.emplace_back(e->str, e->len);
  }
  return Status::ok();
}

Status ListSource::ack(size_t count, const AckWrites& writes, bool* owned) {
  std::string n = std::to_string(count);
  std::string nd = std::to_string(writes.dead_letters.size());
  std::vector<std::string> scores;
  scores.reserve(writes.retries.size());
  for (const auto& r : writes.retries) scores.push_back(std::to_string(r.first));
  args_.clear();
  args_.push_back(n);
  args_.push_back(nd);
  for (const auto& d : writes.dead_letters) args_.push_back(d);
  for (size_t i = 0; i < writes.retries.size(); ++i) {
    args_.push_back(scores[i]);
    args_.push_back(writes.retries[i].second);
  }
  std::string dead = keys_.dead(), retry = keys_.retry(), deliveries = keys_.deliveries();
  Reply reply;
  Status s = connection_->eval(kAckScript, {inflight_, dead, retry, deliveries}, args_, &reply);
  if (!s) return s;
  *owned = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  return Status::ok();
}

Status ListSource::recover(const std::string& list, const std::string& consumer, bool force,
                           int max_deliveries, const std::string& source_name, int* returned,
                           int* dead, bool* skipped, bool count_delivery) {
  DeadLetter letter;
  letter.source = source_name;
  letter.reason = "exceeded max deliveries (" + std::to_string(max_deliveries) + ")";
  letter.attempts = max_deliveries;
  letter.failed_at = now_iso8601();
  letter.instance = instance_name();
  std::string tail = encode_dead_letter_tail(letter);
  std::string max = std::to_string(max_deliveries);
  std::string deliveries = keys_.deliveries(), dead_key = keys_.dead(), owners = keys_.owners();
  std::string heartbeat = keys_.heartbeat(consumer);
  Reply reply;
  Status s = connection_->eval(kRecoverScript,
                               {list, keys_.pending, deliveries, dead_key, owners, heartbeat},
                               {force ? "1" : "0", max, tail, count_delivery ? "1" : "0"}, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
    return Status::error("recover script returned an unexpected reply");
  long long r0 = reply->element[0]->integer, r1 = reply->element[1]->integer;
  *skipped = r0 < 0;
  *returned = r0 < 0 ? 0 : static_cast<int>(r0);
  *dead = static_cast<int>(r1);
  return Status::ok();
}

Status ListSource::recover_own(int max_deliveries, const std::string& source_name, int* returned,
                               int* dead) {
  return recover_lists_of(consumer_, true, max_deliveries, source_name, returned, dead);
}

Status ListSource::recover_lists_of(const std::string& consumer, bool count_delivery,
                                    int max_deliveries, const std::string& source_name,
                                    int* returned, int* dead) {
  *returned = 0;
  *dead = 0;
  Reply reply;
  Status s = connection_->command_ok({"HGETALL", keys_.owners()}, &reply);
  if (!s) return s;
  std::vector<std::string> mine;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    std::string_view owner(reply->element[i + 1]->str, reply->element[i + 1]->len);
    if (owner == consumer) mine.emplace_back(reply->element[i]->str, reply->element[i]->len);
  }
  // This worker's own list, even if unregistered (a crash between BLMOVE and registration).
  bool listed = false;
  for (const auto& l : mine) listed = listed || l == inflight_;
  if (!listed) mine.push_back(inflight_);
  for (const auto& list : mine) {
    int r = 0, d = 0;
    bool skipped = false;
    s = recover(list, consumer, true, max_deliveries, source_name, &r, &d, &skipped,
                count_delivery);
    if (!s) return s;
    *returned += r;
    *dead += d;
  }
  return Status::ok();
}

Status ListSource::reclaim_abandoned(int max_deliveries, const std::string& source_name,
                                     int* returned, int* dead) {
  *returned = 0;
  *dead = 0;
  Reply reply;
  Status s = connection_->command_ok({"HGETALL", keys_.owners()}, &reply);
  if (!s) return s;
  std::vector<std::pair<std::string, std::string>> others;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    std::string owner(reply->element[i + 1]->str, reply->element[i + 1]->len);
    if (owner != consumer_) others.emplace_back(std::string(reply->element[i]->str, reply->element[i]->len), owner);
  }
  for (const auto& [list, owner] : others) {
    int r = 0, d = 0;
    bool skipped = false;
    s = recover(list, owner, false, max_deliveries, source_name, &r, &d, &skipped, true);
    if (!s) return s;
    *returned += r;
    *dead += d;
  }
  return Status::ok();
}

Status ListSource::heartbeat(int workers) {
  Status s = connection_->append({"SET", keys_.heartbeat(consumer_), token_, "PX", ttl_ms_});
  if (!s) return s;
  std::vector<std::string> lists;
  for (int w = 0; w < workers; ++w) lists.push_back(keys_.inflight(consumer_, w));
  std::vector<std::string_view> argv = {"HSET", keys_.owners()};
  for (const auto& l : lists) {
    argv.push_back(l);
    argv.push_back(consumer_);
  }
  s = connection_->append(argv);
  if (!s) return s;
  Reply reply;
  for (int i = 0; i < 2; ++i) {
    s = connection_->read_reply(&reply);
    if (!s) return s;
    if (reply->type == REDIS_REPLY_ERROR)
      return Status::error("heartbeat failed: " + std::string(reply->str, reply->len));
  }
  return Status::ok();
}

Status ListSource::lease_retries(int max, int64_t now_ms, int64_t lease_ms,
                                 std::vector<LeasedRetry>* out) {
  out->clear();
  std::string now = std::to_string(now_ms), lease = std::to_string(lease_ms);
  std::string max_text = std::to_string(max);
  std::string retry = keys_.retry();
  Reply reply;
  Status s = connection_->eval(kLeaseScript, {retry}, {now, lease, max_text}, &reply);
  if (!s) return s;
  for (size_t i = 0; i < reply->elements; ++i) {
    LeasedRetry leased;
    leased.member.assign(reply->element[i]->str, reply->element[i]->len);
    leased.malformed = !decode_retry_entry(leased.member, &leased.entry);
    out->push_back(std::move(leased));
  }
  return Status::ok();
}

Status ListSource::settle_retries(const std::vector<RetrySettlement>& settlements) {
  if (settlements.empty()) return Status::ok();
  std::vector<std::string> scores;
  scores.reserve(settlements.size());
  for (const auto& st : settlements) scores.push_back(std::to_string(st.due_ms));
  args_.clear();
  for (size_t i = 0; i < settlements.size(); ++i) {
    const auto& st = settlements[i];
    args_.push_back(st.member);
    args_.push_back(st.kind == RetrySettlement::kDone         ? "done"
                    : st.kind == RetrySettlement::kReschedule ? "retry"
                                                              : "dead");
    args_.push_back(scores[i]);
    args_.push_back(st.data);
  }
  std::string retry = keys_.retry(), dead = keys_.dead();
  Reply reply;
  return connection_->eval(kSettleScript, {retry, dead}, args_, &reply);
}

Status ListSource::next_retry_due(int64_t* due_ms) {
  Reply reply;
  Status s = connection_->command_ok({"ZRANGE", keys_.retry(), "0", "0", "WITHSCORES"}, &reply);
  if (!s) return s;
  *due_ms = -1;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
    *due_ms = static_cast<int64_t>(std::strtod(reply->element[1]->str, nullptr));
  }
  return Status::ok();
}

}  // namespace switchyard
