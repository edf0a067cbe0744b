// retry_schedule.cc: leases and settles K:retry entries with source/lua/retry_*.lua.
#include "source/retry_schedule.h"

#include "source/lua/scripts.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kLeaseScript(lua::kRetryLease);
const RedisScript kSettleScript(lua::kRetrySettle);

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
