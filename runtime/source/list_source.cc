// list_source.cc: the reliable list source's Redis scripts and their callers.
#include "source/list_source.h"

#include <spdlog/spdlog.h>

#include <cstring>

#include "dispatch/dead_letter.h"

namespace switchyard {
namespace {

// KEYS: K, inflight, owners, heartbeat, deliveries, lease[, notify]. ARGV: max, consumer, ttl_ms,
// token, tokens already consumed. Moves up to max messages from the head of K to the tail of the
// in-flight list in one step; with a notify list (Laravel), removes one token per message taken.
// Returns the messages, or the integer -3 when a `delivery: lease` consumer holds K:lease.
const RedisScript kTakeScript(R"lua(
if redis.call('EXISTS', KEYS[6]) == 1 then return -3 end
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
if KEYS[7] then
  local trim = n - tonumber(ARGV[5])
  if trim > 0 then redis.call('LTRIM', KEYS[7], trim, -1) end
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

// The common case of kTakeScript, same KEYS and ARGV, without copying the messages through Lua
// (which costs Redis about 1 us per message): when no message has a delivery count and the
// in-flight list is empty, SORT K BY nosort LIMIT 0 max STORE inflight copies the head of K, in
// list order, into the in-flight list inside Redis; the caller then reads it with LRANGE.
// Returns how many it took (0: K is empty); -1 when kTakeScript must run instead; -2 when SORT
// is refused (an ACL without @dangerous): then nothing was written; -3 when a `delivery: lease`
// consumer holds K:lease (the two modes must not mix: it acknowledges by trimming the head).
const RedisScript kTakeFastScript(R"lua(
if redis.call('LLEN', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[6]) == 1 then return -3 end
if redis.call('EXISTS', KEYS[5]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local n = redis.pcall('SORT', KEYS[1], 'BY', 'nosort', 'LIMIT', 0, tonumber(ARGV[1]), 'STORE',
                      KEYS[2])
if type(n) == 'table' then
  local e = tostring(n.err)
  if string.find(e, "can't run this command", 1, true) or string.find(e, 'NOPERM', 1, true) then
    return -2
  end
  return n
end
redis.call('HSET', KEYS[3], KEYS[2], ARGV[2])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[3])
redis.call('LTRIM', KEYS[1], n, -1)
if KEYS[7] then
  local trim = n - tonumber(ARGV[5])
  if trim > 0 then redis.call('LTRIM', KEYS[7], trim, -1) end
end
return n
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
  std::string lease = keys_.lease();
  std::vector<std::string_view> keys = {keys_.pending, inflight_, owners, heartbeat, deliveries,
                                        lease};
  if (!notify_key_.empty()) keys.push_back(notify_key_);
  const std::vector<std::string_view> args = {max_text, consumer_, ttl_ms_, token_, consumed};
  Status s;
  if (!sort_refused_) {
    s = connection_->eval(kTakeFastScript, keys, args, &batch->reply);
    if (!s) return s;
    const redisReply* fast = batch->reply.get();
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == -3) return lease_held(batch);
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == 0) {
      batch->reply.reset();
      return Status::ok();
    }
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer > 0) {
      // The batch is in the in-flight list: read it from there. Should the reply be lost, the
      // worker returns the list to K once reconnected (after_lost_take), as for a lost take.
      s = connection_->command_ok({"LRANGE", inflight_, "0", "-1"}, &batch->reply);
      if (!s) {
        if (connection_->connected()) return_uncounted(keys_.pending);
        return s;
      }
      return collect(batch);
    }
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == -2) {
      sort_refused_ = true;
      spdlog::info("source {}: Redis refuses SORT to this user (ACL); taking batches by copying "
                   "them through Lua instead (slower)",
                   keys_.pending);
    }
    // -1: redelivered messages to take alone, or a non-empty in-flight list: the general script.
  }
  s = connection_->eval(kTakeScript, keys, args, &batch->reply);
  if (!s) return s;
  if (batch->reply->type == REDIS_REPLY_INTEGER && batch->reply->integer == -3)
    return lease_held(batch);
  return collect(batch);
}

Status ListSource::lease_held(TakenBatch* batch) {
  batch->reply.reset();
  return Status::error("a consumer with delivery: lease holds " + keys_.lease() + " on " +
                       keys_.pending + "; the two delivery modes must not mix on one key: set "
                       "the same delivery: on every consumer of this source");
}

Status ListSource::collect(TakenBatch* batch) {
  redisReply* r = batch->reply.get();
  if (r->type != REDIS_REPLY_ARRAY) return Status::error("take returned a non-array");
  batch->messages.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    batch->messages.emplace_back(e->str, e->len);
  }
  return Status::ok();
}

Status ListSource::start(int max_deliveries, const std::string& source_name) {
  int returned = 0, dead = 0;
  Status s = recover_own(max_deliveries, source_name, &returned, &dead);
  if (!s) return s;
  if (returned || dead) {
    spdlog::warn("source {}: recovered {} in-flight message(s) of a previous run of {} back to {}"
                 "{}",
                 source_name, returned, consumer_, keys_.pending,
                 dead ? fmt::format(", {} dead-lettered after {} deliveries", dead, max_deliveries)
                      : "");
  }
  return Status::ok();
}

Status ListSource::ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) {
  std::string n = std::to_string(batch.messages.size());
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
  // This worker's own list, even if unregistered (a crash between BLMOVE and registration).
  std::vector<std::string> mine{inflight_};
  // The other workers of this process recover their own lists before their first take; taking
  // a sibling's list here could steal the fresh batch it is handling (handled twice, and counted
  // as a crash delivery). Worker 0 also recovers lists no current worker owns.
  for (size_t i = 0; i + 1 < reply->elements && worker_ == 0; i += 2) {
    std::string_view owner(reply->element[i + 1]->str, reply->element[i + 1]->len);
    std::string list(reply->element[i]->str, reply->element[i]->len);
    if (owner != consumer || list == inflight_) continue;
    bool current = false;
    for (int w = 0; w < workers_ && !current; ++w) current = list == keys_.inflight(consumer, w);
    if (!current) mine.push_back(std::move(list));
  }
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
  const std::string owners = keys_.owners();  // argv only views it: it must outlive argv
  std::vector<std::string_view> argv = {"HSET", owners};
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

}  // namespace switchyard
