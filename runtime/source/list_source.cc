// list_source.cc: the reliable list source: runs its Redis scripts (source/lua/list_*.lua).
#include "source/list_source.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <set>

#include "records/dead_letter.h"
#include "source/ack_writes.h"
#include "source/consumer_identity.h"
#include "source/lua/scripts.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kTakeScript(lua::kListTake);
const RedisScript kTakeFastScript(lua::kListTakeFast);
const RedisScript kExpireForeignScript(lua::kListExpireForeign);
const RedisScript kAckScript(lua::kListAck);
const RedisScript kHealAckScript(lua::kListHealAck);
const RedisScript kClaimScript(lua::kListClaim);
const RedisScript kHeartbeatScript(lua::kListHeartbeat);
const RedisScript kRecoverScript(lua::kListRecover);
const RedisScript kSweepCountsScript(lua::kListSweepCounts);

// How many messages at the head of K the count sweep looks at: recovered messages return there.
constexpr const char* kSweepHead = "10000";
// The unregistered in-flight list scan runs on every this many reclaim rounds.
constexpr int kScanEvery = 5;

// `text` as a literal in a SCAN MATCH pattern.
std::string glob_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace

ListSource::ListSource(RedisConnection* connection, std::string key, std::string consumer,
                       int worker, std::string token, std::chrono::milliseconds ttl)
    : connection_(connection),
      keys_(std::move(key)),
      consumer_(std::move(consumer)),
      worker_(worker),
      lanes_{keys_.inflight(consumer_, worker, 0), keys_.inflight(consumer_, worker, 1)},
      token_(std::move(token)),
      ttl_ms_(std::to_string(ttl.count())),
      heartbeat_key_(keys_.heartbeat(consumer_)),
      owners_key_(keys_.owners()),
      deliveries_key_(keys_.deliveries()),
      lease_key_(keys_.lease()) {}

std::vector<std::string_view> ListSource::take_keys(int lane, int other) {
  std::vector<std::string_view> keys = {keys_.pending,   lanes_[lane], owners_key_,  heartbeat_key_,
                                        deliveries_key_, lease_key_,   lanes_[other]};
  if (!notify_key_.empty()) keys.push_back(notify_key_);
  return keys;
}

Status ListSource::prefetch(const TakenBatch& batch, int max) {
  if (batch.messages.empty() || max <= 0 || sort_refused_) return Status::ok();
  const int lane = 1 - batch.lane;
  const std::string max_text = std::to_string(max);
  const std::vector<std::string_view> args = {max_text, consumer_, ttl_ms_, token_, "0"};
  last_take_lane_ = lane;
  // The other lane holds `batch`: only this lane must be empty.
  Status s = connection_->append_eval(kTakeFastScript, take_keys(lane, lane), args);
  if (s) s = connection_->append({"LRANGE", lanes_[lane], "0", "-1"});
  if (s) s = connection_->flush();
  ahead_ = s.is_ok();
  ahead_lane_ = lane;
  return s;
}

Status ListSource::ack_and_take(const TakenBatch& batch, const AckWrites& writes, bool* owned,
                                TakenBatch* next) {
  next->clear();
  if (!ahead_) return ack(batch, writes, owned);
  ahead_ = false;
  // The take ran before the ack (it was sent first); the ack reads its replies on the way.
  Status s = ack(batch, writes, owned);
  Reply took;
  if (s) s = connection_->read_reply(&took);
  if (s) s = connection_->read_reply(&next->reply);
  if (!s) {
    // The batch taken ahead is unknown: the caller returns its lane (after_lost_take).
    while (connection_->connected() && connection_->outstanding() > 0) {
      Reply drop;
      if (!connection_->read_reply(&drop)) break;
    }
    next->clear();
    return s;
  }
  // Only a count above 0 took anything (fast path); anything else wrote nothing (-1: the lane
  // or K needs the general take, -3/-4: the next take() reports it, an error reply: not run).
  if (took->type != REDIS_REPLY_INTEGER || took->integer <= 0 ||
      next->reply->type != REDIS_REPLY_ARRAY) {
    if (took->type == REDIS_REPLY_INTEGER && took->integer > 0) last_take_lane_ = ahead_lane_;
    next->clear();
    return took->type == REDIS_REPLY_INTEGER && took->integer > 0
               ? Status::error("LRANGE " + lanes_[ahead_lane_] + " returned an unexpected reply")
               : Status::ok();
  }
  next->lane = ahead_lane_;
  return collect(next);
}

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
  s = connection_->command_ok({"BLMOVE", keys_.pending, lanes_[0], "LEFT", "RIGHT", timeout},
                              &batch->reply);
  if (!s) return s;
  redisReply* r = batch->reply.get();
  if (r->type == REDIS_REPLY_STRING) batch->messages.emplace_back(r->str, r->len);
  return Status::ok();
}

Status ListSource::take_now(int max, int tokens_consumed, TakenBatch* batch) {
  batch->clear();
  last_take_lane_ = 0;
  std::string max_text = std::to_string(max);
  std::string consumed = std::to_string(tokens_consumed);
  // Nothing is in hand: whatever either lane holds, this worker did not take.
  const std::vector<std::string_view> keys = take_keys(0, 1);
  const std::vector<std::string_view> args = {max_text, consumer_, ttl_ms_, token_, consumed};
  Status s;
  if (!sort_refused_) {
    s = connection_->eval(kTakeFastScript, keys, args, &batch->reply);
    if (!s) return s;
    const redisReply* fast = batch->reply.get();
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == -3) return lease_held(batch);
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == -4) return name_taken(batch);
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == 0) {
      batch->reply.reset();
      return Status::ok();
    }
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer > 0) {
      // The batch is in the in-flight list: read it from there. Should the reply be lost, the
      // worker returns the list to K once reconnected (after_lost_take), as for a lost take.
      s = connection_->command_ok({"LRANGE", lanes_[0], "0", "-1"}, &batch->reply);
      if (!s) {
        if (connection_->connected()) return_uncounted(keys_.pending);
        return s;
      }
      return collect(batch);
    }
    if (fast->type == REDIS_REPLY_INTEGER && fast->integer == -2) {
      sort_refused_ = true;
      spdlog::info(
          "source {}: Redis refuses SORT to this user (ACL); taking batches by copying "
          "them through Lua instead (slower)",
          keys_.pending);
    }
    // -1: redelivered messages to take alone, or a non-empty in-flight list: the general script.
  }
  s = connection_->eval(kTakeScript, keys, args, &batch->reply);
  if (!s) return s;
  const redisReply* r = batch->reply.get();
  if (r->type == REDIS_REPLY_INTEGER && r->integer == -3) return lease_held(batch);
  if (r->type == REDIS_REPLY_INTEGER && r->integer == -4) return name_taken(batch);
  if (r->type == REDIS_REPLY_INTEGER && (r->integer == -5 || r->integer == -6)) {
    const int lane = r->integer == -5 ? 0 : 1;  // r is freed with the reply
    batch->reply.reset();
    quarantine_inflight(lane);
    return Status::ok();  // nothing taken: the next take finds the in-flight key free
  }
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_INTEGER)
    return Status::error("take script returned an unexpected reply");
  if (r->element[0]->integer > 0) {
    spdlog::warn(
        "source {}: in-flight lists {} and {} held {} element(s) this worker did not take "
        "(an older Redis state restored after a crash or failover, an operator's push, or "
        "another process under consumer name {}); returned them uncounted to the head "
        "of {}",
        keys_.pending, lanes_[0], lanes_[1], r->element[0]->integer, consumer_, keys_.pending);
  }
  return collect(batch, r->element[1]);
}

void ListSource::quarantine_inflight(int lane) {
  const std::string& inflight = lanes_[lane];
  Reply type;
  Status s = connection_->command_ok({"TYPE", inflight}, &type);
  const std::string what =
      s && type->type == REDIS_REPLY_STATUS ? std::string(type->str, type->len) : std::string("?");
  const std::string aside = keys_.pending + ":quarantine:inflight:" + consumer_ + ":" +
                            std::to_string(worker_) + (lane == 0 ? "" : "b") + ":" + now_iso8601();
  Reply reply;
  s = connection_->command_ok({"RENAME", inflight, aside}, &reply);
  raise_alert(connection_, keys_, "inflight_wrongtype",
              "in-flight key " + inflight + " held a " + what +
                  ", not a list (written by "
                  "someone else); " +
                  (s ? "renamed it to " + aside +
                           " so that this worker can "
                           "take again; inspect it, replay what it holds if anything, then DEL it"
                     : "could not rename it (" + s.message() + "); DEL it after inspecting it"));
}

Status ListSource::name_taken(TakenBatch* batch) {
  batch->reply.reset();
  Reply reply;
  const std::string heartbeat = keys_.heartbeat(consumer_);
  Status s = connection_->command_ok({"GET", heartbeat}, &reply);
  std::string other = s && reply->type == REDIS_REPLY_STRING ? std::string(reply->str, reply->len)
                                                             : std::string("?");
  return name_taken_error(other);
}

Status ListSource::name_taken_error(const std::string& other_token) {
  const std::string text =
      "consumer name " + consumer_ + " of " + keys_.pending +
      " is in use by another live "
      "process (" +
      keys_.heartbeat(consumer_) + " holds its run token " + other_token +
      "); this process takes nothing from " + keys_.pending +
      " and stands by until that "
      "heartbeat expires; give every process its own name with --instance (cloned hosts share "
      "a hostname; two addresses of one Redis look like two sources)";
  raise_alert(connection_, keys_, "consumer_name_taken", text);
  return Status::error(text);
}

Status ListSource::lease_held(TakenBatch* batch) {
  batch->reply.reset();
  const std::string lease = keys_.lease();
  Reply reply;
  Status s = connection_->eval(kExpireForeignScript, {lease}, {ttl_ms_}, &reply);
  if (s && reply->type == REDIS_REPLY_INTEGER && reply->integer == 1) {
    raise_alert(connection_, keys_, "lease_without_ttl",
                lease +
                    " had no TTL (Switchyard always sets one: someone else wrote it) and "
                    "kept delivery: inflight consumers of " +
                    keys_.pending +
                    " from taking; gave it "
                    "a TTL of reclaim_after (" +
                    ttl_ms_ +
                    " ms), so it expires unless a live "
                    "delivery: lease consumer renews it; find out who wrote it");
  }
  return Status::error("a consumer with delivery: lease holds " + keys_.lease() + " on " +
                       keys_.pending +
                       "; the two delivery modes must not mix on one key: set "
                       "the same delivery: on every consumer of this source");
}

Status ListSource::collect(TakenBatch* batch, const redisReply* r) {
  if (r == nullptr) r = batch->reply.get();
  if (r->type != REDIS_REPLY_ARRAY) return Status::error("take returned a non-array");
  batch->messages.reserve(r->elements);
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    batch->messages.emplace_back(e->str, e->len);
  }
  return Status::ok();
}

Status ListSource::claim_name() {
  const std::string heartbeat = keys_.heartbeat(consumer_);
  std::string replaceable;
  for (int attempt = 0; attempt < 2; ++attempt) {
    Reply reply;
    Status s = connection_->eval(kClaimScript, {heartbeat}, {token_, ttl_ms_, replaceable}, &reply);
    if (!s) return s;
    if (reply->type == REDIS_REPLY_INTEGER) return Status::ok();
    std::string other(reply->str, reply->len);
    // A run of this name on this host's current boot whose process is gone is a crashed
    // predecessor (the name's lock file proves no live process here holds it under this
    // address): take its name over at once. Any other run counts as alive until its heartbeat
    // expires.
    if (attempt == 0 && ConsumerIdentity::run_token_is_dead(other)) {
      replaceable = other;
      continue;
    }
    return name_taken_error(other);
  }
  return Status::error("cannot claim " + heartbeat);
}

Status ListSource::start(int max_deliveries, const std::string& source_name) {
  Status s = claim_name();
  if (!s) return s;
  return recover_at_start(max_deliveries, source_name);
}

Status ListSource::recover_at_start(int max_deliveries, const std::string& source_name) {
  int returned = 0, dead = 0;
  Status s = recover_own(max_deliveries, source_name, &returned, &dead);
  if (!s) return s;
  if (returned || dead) {
    spdlog::warn(
        "source {}: recovered {} in-flight message(s) of a previous run of {} back to {}"
        "{}",
        source_name, returned, consumer_, keys_.pending,
        dead ? fmt::format(", {} dead-lettered after {} deliveries", dead, max_deliveries) : "");
  }
  return Status::ok();
}

Status ListSource::ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) {
  const std::string n = std::to_string(batch.messages.size());
  std::vector<std::string> numbers;
  args_.clear();
  args_.push_back(n);
  append_ack_writes(archive_, writes, &numbers, &args_);
  std::string dead = keys_.dead(), retry = keys_.retry(), deliveries = keys_.deliveries();
  std::string archive = keys_.archive();
  const std::string& inflight = lanes_[batch.lane];
  Reply reply;
  Status s =
      connection_->eval(kAckScript, {inflight, dead, retry, deliveries, archive}, args_, &reply);
  if (!s) return s;
  *owned = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  if (*owned) return Status::ok();
  // Refused: the in-flight list does not hold exactly the batch. Find out why and heal: the
  // batch's own messages are acked with their writes, anything else goes back to K.
  args_.resize(1);  // n
  args_.insert(args_.end(), batch.messages.begin(), batch.messages.end());
  append_ack_writes(archive_, writes, &numbers, &args_);
  s = connection_->eval(kHealAckScript, {inflight, dead, retry, deliveries, keys_.pending, archive},
                        args_, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
    return Status::error("ack script returned an unexpected reply");
  const long long found = reply->element[0]->integer, returned = reply->element[1]->integer;
  if (found < 0) {
    quarantine_inflight(batch.lane);
    return Status::ok();
  }
  *owned = found > 0;
  if (returned > 0) {
    spdlog::warn(
        "source {}: in-flight list {} held {} element(s) besides this worker's batch of "
        "{} (an older Redis state restored after a crash or failover, an operator's "
        "push, or another process under consumer name {}); acked the {} of the batch "
        "still there and returned the others uncounted to the head of {}",
        keys_.pending, inflight, returned, batch.messages.size(), consumer_, found, keys_.pending);
  }
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
  const std::string archive_key = keys_.archive();
  const std::string retention = std::to_string(archive_.on ? archive_.retention.count() : 0);
  const std::string max_len = std::to_string(archive_.on ? archive_.max_len : 0);
  Reply reply;
  Status s = connection_->eval(
      kRecoverScript, {list, keys_.pending, deliveries, dead_key, owners, heartbeat, archive_key},
      {force ? "1" : "0", max, tail, count_delivery ? "1" : "0", ttl_ms_, retention, max_len},
      &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
    return Status::error("recover script returned an unexpected reply");
  long long r0 = reply->element[0]->integer, r1 = reply->element[1]->integer;
  if (r0 == -2) {
    raise_alert(
        connection_, keys_, "heartbeat_without_ttl",
        heartbeat +
            " had no TTL (Switchyard always sets one: someone else wrote it) and "
            "kept in-flight list " +
            list + " of consumer " + consumer +
            " from being "
            "reclaimed; gave it a TTL of reclaim_after (" +
            ttl_ms_ +
            " ms), so the list is "
            "reclaimed once it expires unless a live consumer renews it; find out who wrote it");
  }
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
  std::vector<std::string> mine{lanes_[0], lanes_[1]};
  // The other workers of this process recover their own lists before their first take; taking
  // a sibling's list here could steal the fresh batch it is handling (handled twice, and counted
  // as a crash delivery). Worker 0 also recovers lists no current worker owns.
  for (size_t i = 0; i + 1 < reply->elements && worker_ == 0; i += 2) {
    std::string_view owner(reply->element[i + 1]->str, reply->element[i + 1]->len);
    std::string list(reply->element[i]->str, reply->element[i]->len);
    if (owner != consumer || list == lanes_[0] || list == lanes_[1]) continue;
    bool current = false;
    for (int w = 0; w < workers_ && !current; ++w)
      current = list == keys_.inflight(consumer, w, 0) || list == keys_.inflight(consumer, w, 1);
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
    if (owner != consumer_)
      others.emplace_back(std::string(reply->element[i]->str, reply->element[i]->len), owner);
  }
  if (reclaim_rounds_++ % kScanEvery == 0) {
    s = register_unlisted(reply.get(), &others);
    if (!s) return s;
  }
  for (const auto& [list, owner] : others) {
    int r = 0, d = 0;
    bool skipped = false;
    s = recover(list, owner, false, max_deliveries, source_name, &r, &d, &skipped, true);
    if (!s) return s;
    *returned += r;
    *dead += d;
  }
  Reply swept;
  const std::string deliveries = keys_.deliveries(), owners = keys_.owners();
  s = connection_->eval(kSweepCountsScript, {deliveries, owners, keys_.pending}, {kSweepHead},
                        &swept);
  if (!s) return s;
  if (swept->type == REDIS_REPLY_INTEGER && swept->integer > 0) {
    spdlog::info("source {}: removed {} delivery count(s) from {} whose messages are gone",
                 source_name, swept->integer, deliveries);
  }
  return Status::ok();
}

Status ListSource::register_unlisted(const redisReply* owners,
                                     std::vector<std::pair<std::string, std::string>>* others) {
  std::set<std::string> registered;
  for (size_t i = 0; i + 1 < owners->elements; i += 2)
    registered.emplace(owners->element[i]->str, owners->element[i]->len);
  const std::string prefix = keys_.pending + ":inflight:";
  const std::string pattern = glob_escape(prefix) + "*";
  std::string cursor = "0";
  do {
    Reply reply;
    Status s = connection_->command_ok(
        {"SCAN", cursor, "MATCH", pattern, "COUNT", "1000", "TYPE", "list"}, &reply);
    if (!s) return s;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2)
      return Status::error("SCAN returned an unexpected reply");
    cursor.assign(reply->element[0]->str, reply->element[0]->len);
    const redisReply* keys = reply->element[1];
    for (size_t i = 0; i < keys->elements; ++i) {
      std::string list(keys->element[i]->str, keys->element[i]->len);
      if (registered.count(list)) continue;
      // K:inflight:<consumer>:<worker>: the consumer name may itself hold ':'.
      const size_t colon = list.rfind(':');
      if (colon <= prefix.size()) continue;
      const std::string owner = list.substr(prefix.size(), colon - prefix.size());
      Reply set;
      s = connection_->command_ok({"HSETNX", keys_.owners(), list, owner}, &set);
      if (!s) return s;
      if (set->type != REDIS_REPLY_INTEGER || set->integer != 1) continue;
      spdlog::warn(
          "source {}: in-flight list {} was not registered in {}; registered it to "
          "consumer {} so that it is recovered once that consumer is silent",
          keys_.pending, list, keys_.owners(), owner);
      if (owner != consumer_) others->emplace_back(list, owner);
    }
  } while (cursor != "0");
  return Status::ok();
}

Status ListSource::heartbeat(int workers) {
  std::vector<std::string> lists;
  for (int w = 0; w < workers; ++w) {
    lists.push_back(keys_.inflight(consumer_, w, 0));
    lists.push_back(keys_.inflight(consumer_, w, 1));
  }
  const std::string heartbeat = keys_.heartbeat(consumer_), owners = keys_.owners();
  const std::string lease = keys_.lease();
  std::vector<std::string_view> argv = {token_, ttl_ms_, consumer_};
  for (const auto& l : lists) argv.push_back(l);
  Reply reply;
  // Another run's token: the workers refuse to take and raise the alert; nothing to do here.
  return connection_->eval(kHeartbeatScript, {heartbeat, owners, lease}, argv, &reply);
}

}  // namespace switchyard
