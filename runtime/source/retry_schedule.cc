// retry_schedule.cc: the K:retry scripts (lease due entries, settle them).
#include "source/retry_schedule.h"

namespace switchyard {
namespace {

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

Status RetrySchedule::lease(int max, int64_t now_ms, int64_t lease_ms,
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
  std::string retry = keys_.retry(), dead = keys_.dead();
  Reply reply;
  return connection_->eval(kSettleScript, {retry, dead}, args_, &reply);
}

}  // namespace switchyard
