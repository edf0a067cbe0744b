// retry_schedule.cc: the K:retry scripts (lease due entries, settle them).
#include "source/retry_schedule.h"

namespace switchyard {
namespace {

// KEYS: retry, runners. ARGV: lease_ms, max, me ("<alive key>\n<alive value>\n<worker>", or ''
// when this source has no liveness key).
// Leases due retries by Redis's clock (TIME, the same for every host): each member is re-added
// with its lease count plus one, due at now+lease, and recorded in runners as run by me. A due
// member whose runner is another worker that is still alive (GET <alive key> is still
// <alive value>: its process's heartbeat, or its lease) is a slow handler, not a crash: its
// lease is renewed instead, without counting. Returns {now_ms, leased members...}.
const RedisScript kLeaseScript(R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {now}
local until_ms = now + tonumber(ARGV[1])
for _, m in ipairs(due) do
  local runner = redis.call('HGET', KEYS[2], m)
  local alive = false
  if runner and runner ~= ARGV[3] then
    local k, v = string.match(runner, '^(.-)\n(.-)\n')
    if k then alive = redis.pcall('GET', k) == v end
  end
  if alive then
    redis.call('ZADD', KEYS[1], until_ms, m)
  else
    if runner then redis.call('HDEL', KEYS[2], m) end
    local leases, rest = string.match(m, '^v1|(%d+)|(.*)$')
    local m2 = m
    redis.call('ZREM', KEYS[1], m)
    if leases then m2 = 'v1|' .. (tonumber(leases) + 1) .. '|' .. rest end
    redis.call('ZADD', KEYS[1], until_ms, m2)
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], m2, ARGV[3]) end
    out[#out + 1] = m2
  end
end
return out
)lua");

// KEYS: retry, dead, runners. ARGV: quadruples (member, action, score, data); action
// done|retry|dead.
const RedisScript kSettleScript(R"lua(
local settled = 0
for i = 1, #ARGV, 4 do
  redis.call('HDEL', KEYS[3], ARGV[i])
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

Status RetrySchedule::lease(int max, int64_t now_ms, int64_t lease_ms,
                                 std::vector<LeasedRetry>* out) {
  out->clear();
  std::string lease = std::to_string(lease_ms);
  std::string max_text = std::to_string(max);
  std::string retry = keys_.retry(), runners = keys_.retry_runners();
  Reply reply;
  Status s = connection_->eval(kLeaseScript, {retry, runners}, {lease, max_text, me_}, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
      reply->element[0]->type != REDIS_REPLY_INTEGER)
    return Status::error("retry lease script returned an unexpected reply");
  clock_offset_ms_ = reply->element[0]->integer - now_ms;
  for (size_t i = 1; i < reply->elements; ++i) {
    LeasedRetry leased;
    leased.member.assign(reply->element[i]->str, reply->element[i]->len);
    leased.malformed = !decode_retry_entry(leased.member, &leased.entry);
    out->push_back(std::move(leased));
  }
  return Status::ok();
}

Status RetrySchedule::settle(const std::vector<RetrySettlement>& settlements) {
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
  std::string retry = keys_.retry(), dead = keys_.dead(), runners = keys_.retry_runners();
  Reply reply;
  return connection_->eval(kSettleScript, {retry, dead, runners}, args_, &reply);
}

}  // namespace switchyard
