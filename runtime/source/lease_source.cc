// lease_source.cc: the lease source: runs its Redis scripts (source/lua/lease_*.lua).
#include "source/lease_source.h"

#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>
#include <thread>

#include "records/dead_letter.h"
#include "source/ack_writes.h"
#include "source/consumer_identity.h"
#include "source/list_source.h"
#include "source/lua/scripts.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kLeaseTakeScript(lua::kLeaseTake);
const RedisScript kLeaseAckScript(lua::kLeaseAck);
const RedisScript kLeaseDropWindowScript(lua::kLeaseDropWindow);
const RedisScript kLeaseRenewScript(lua::kLeaseRenew);

}  // namespace

LeaseSource::LeaseSource(RedisConnection* connection, std::string key, std::string consumer,
                         std::string token, std::chrono::milliseconds ttl)
    : connection_(connection),
      keys_(std::move(key)),
      consumer_(std::move(consumer)),
      holder_(consumer_ + "|" + token),
      ttl_ms_(std::to_string(ttl.count())) {}

std::string LeaseSource::describe_inflight() const {
  return keys_.pending + " (the window at its head, recorded in " + keys_.window() + ")";
}

Status LeaseSource::start(int max_deliveries, const std::string& source_name) {
  max_deliveries_ = max_deliveries;
  source_name_ = source_name;
  // In-flight lists of an earlier `delivery: inflight` run of this consumer go back to K first.
  ListSource lists(connection_, keys_.pending, consumer_, 0, "", std::chrono::milliseconds(1));
  lists.set_archive(archive_);
  return lists.recover_at_start(max_deliveries, source_name);
}

Status LeaseSource::take(int max, std::chrono::milliseconds block, TakenBatch* batch) {
  bool standby = false;
  Status s;
  if (wait_first_ && block.count() > 0) {
    // The read-ahead of the last window found K empty behind it: wait for a push first (it
    // returns at once if one came meanwhile) instead of asking for an empty window.
    batch->clear();
  } else {
    s = take_now(max, max_deliveries_, 0, batch, &standby);
    if (!s || !batch->messages.empty() || block.count() <= 0) return s;
  }
  wait_first_ = false;
  if (standby) {
    // Someone else is active: check again after block (a standby, not the data path).
    std::this_thread::sleep_for(block);
    return Status::ok();
  }
  char timeout[32];
  snprintf(timeout, sizeof(timeout), "%.3f", static_cast<double>(block.count()) / 1000.0);
  if (!notify_key_.empty()) {
    // Laravel: wait on the notify list as Laravel's own worker does; the token is consumed.
    s = connection_->command_ok({"BLPOP", notify_key_, timeout}, &batch->reply);
    if (!s) return s;
    if (batch->reply->type != REDIS_REPLY_ARRAY) return Status::ok();
    return take_now(max, max_deliveries_, 1, batch, &standby);
  }
  // Wait for a push without taking anything: moving the head to the head is the identity.
  s = connection_->command_ok({"BLMOVE", keys_.pending, keys_.pending, "LEFT", "LEFT", timeout},
                              &batch->reply);
  if (!s) return s;
  if (batch->reply->type == REDIS_REPLY_NIL) return Status::ok();
  return take_now(max, max_deliveries_, 0, batch, &standby);
}

Status LeaseSource::take_now(int max, int max_deliveries, int tokens_consumed, TakenBatch* batch,
                             bool* standby) {
  batch->clear();
  *standby = false;
  DeadLetter letter;
  letter.source = source_name_;
  letter.reason = "exceeded max deliveries (" + std::to_string(max_deliveries) + ")";
  letter.attempts = max_deliveries;
  letter.failed_at = now_iso8601();
  letter.instance = instance_name();
  const std::string tail = encode_dead_letter_tail(letter);
  const std::string max_text = std::to_string(max), max_del = std::to_string(max_deliveries);
  const std::string consumed = std::to_string(tokens_consumed);
  const std::string lease = keys_.lease(), window = keys_.window();
  const std::string deliveries = keys_.deliveries(), dead = keys_.dead(), owners = keys_.owners();
  std::vector<std::string_view> keys = {keys_.pending, lease, window, deliveries, dead, owners};
  if (!notify_key_.empty()) keys.push_back(notify_key_);
  const std::vector<std::string_view> args = {consumer_, holder_, ttl_ms_,  max_text,
                                              max_del,   tail,    consumed, replaceable_};
  // The script and the LRANGE of the head go out together (one round trip): the window it
  // records is the first n messages of K, and only the lease holder trims the head.
  Reply head;
  const std::string last_of_max = std::to_string(max - 1);
  Status s = connection_->endpoint().mode == RedisMode::kCluster
                 ? Status::error("cluster")
                 : connection_->append_eval(kLeaseTakeScript, keys, args);
  const bool pipelined = s.is_ok();
  if (pipelined) {
    s = connection_->append({"LRANGE", keys_.pending, "0", last_of_max});
    if (s) s = connection_->read_reply(&batch->reply);
    if (s) s = connection_->read_reply(&head);
    if (!s) return s;
    if (batch->reply->type == REDIS_REPLY_ERROR) {
      if (strncmp(batch->reply->str, "NOSCRIPT", 8) != 0)
        return Status::error("Redis " + connection_->endpoint().redacted() + ": script failed: " +
                             std::string(batch->reply->str, batch->reply->len));
      head.reset();  // SCRIPT FLUSH: eval() loads it again
    }
  }
  if (!head) {
    if (!connection_->connected()) return s;
    s = connection_->eval(kLeaseTakeScript, keys, args, &batch->reply);
    if (!s) return s;
  }
  const redisReply* r = batch->reply.get();
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2 || r->element[0]->type != REDIS_REPLY_INTEGER)
    return Status::error("lease take script returned an unexpected reply");
  const long long n = r->element[0]->integer;
  const long long dead_now = r->element[1]->integer;
  if (dead_now > 0) {
    spdlog::warn(
        "source {}: {} message(s) left by a consumer that died holding them went to {} "
        "after {} deliveries",
        source_name_, dead_now, dead, max_deliveries);
  }
  if (n >= 0 && r->elements == 4) {
    auto text = [](const redisReply* e) {
      return e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : std::string();
    };
    raise_alert(connection_, keys_, "window_corrupt",
                window + " held n '" + text(r->element[2]) + "' and suspect '" +
                    text(r->element[3]) + "', outside 0 to the length of " + keys_.pending +
                    " (someone else wrote them); clamped them to that range and went on; find "
                    "out who wrote them");
  }
  if (n == -1) {
    std::string other = r->elements > 2 && r->element[2]->type == REDIS_REPLY_STRING
                            ? std::string(r->element[2]->str, r->element[2]->len)
                            : std::string("?");
    batch->reply.reset();
    const std::string prefix = consumer_ + "|";
    if (other.compare(0, prefix.size(), prefix) == 0) {
      // Another run under this consumer name. On this host's current boot with its process gone,
      // it is a crashed predecessor: take the lease over at once. Any other run counts as alive
      // until its lease expires.
      if (other != replaceable_ &&
          ConsumerIdentity::run_token_is_dead(other.substr(prefix.size()))) {
        replaceable_ = other;
        return take_now(max, max_deliveries, tokens_consumed, batch, standby);
      }
      const std::string text =
          "consumer name " + consumer_ + " of " + keys_.pending +
          " is in use by another live "
          "process (" +
          lease + " holds its run token " + other.substr(prefix.size()) +
          "); this "
          "process takes nothing from " +
          keys_.pending +
          " and stands by until that lease "
          "expires; give every process its own name with --instance (cloned hosts share a "
          "hostname; two addresses of one Redis look like two sources)";
      if (text != standby_reason_) raise_alert(connection_, keys_, "consumer_name_taken", text);
      report_standby(text);
    } else {
      report_standby("consumer " + other.substr(0, other.find('|')) + " holds the lease " + lease +
                     "; this instance takes over when that lease expires (reclaim_after)");
    }
    *standby = true;
    return Status::ok();
  }
  if (n == -2) {
    report_standby("consumers with delivery: inflight have in-flight lists on " + keys_.pending +
                   " (" + owners +
                   "); stop them, or let this instance reclaim their lists once "
                   "their heartbeats expire, before consuming with delivery: lease");
    *standby = true;
    batch->reply.reset();
    return Status::ok();
  }
  if (!standby_reason_.empty()) {
    spdlog::info("source {}: this instance ({}) now holds the lease {} and consumes {}",
                 source_name_, consumer_, lease, keys_.pending);
    standby_reason_.clear();
  }
  batch->reply.reset();
  if (n == 0) return Status::ok();
  // The window is ours and only we trim the head, producers append at the tail: the first n
  // elements of K are the window.
  if (head) {
    batch->reply = std::move(head);
  } else {
    const std::string last = std::to_string(n - 1);
    s = connection_->command_ok({"LRANGE", keys_.pending, "0", last}, &batch->reply);
    if (!s) return s;
  }
  r = batch->reply.get();
  if (r->type != REDIS_REPLY_ARRAY || static_cast<long long>(r->elements) < n) {
    // The head shrank under the window: another consumer takes from K (or this one paused after
    // its take and another took the lease over meanwhile). Drop the batch and, if it is still
    // ours, the window; the next take starts afresh (nothing was trimmed, nothing is lost).
    spdlog::error(
        "source {}: {} holds fewer messages than the window of {} just taken: another "
        "consumer is popping from it; every consumer of a delivery: lease source must "
        "use delivery: lease",
        source_name_, keys_.pending, n);
    batch->reply.reset();
    return connection_->eval(kLeaseDropWindowScript, {window}, {holder_}, &batch->reply);
  }
  batch->messages.reserve(static_cast<size_t>(n));
  for (size_t i = 0; i < static_cast<size_t>(n); ++i)
    batch->messages.emplace_back(r->element[i]->str, r->element[i]->len);
  return Status::ok();
}

void LeaseSource::report_standby(const std::string& why) {
  if (why == standby_reason_) return;
  standby_reason_ = why;
  spdlog::info("source {}: standing by: {}", source_name_, why);
}

Status LeaseSource::ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) {
  bool recorded = false;
  return ack_window(batch, writes, nullptr, owned, &recorded);
}

Status LeaseSource::prefetch(const TakenBatch& batch, int max) {
  if (batch.messages.empty() || max <= 0) return Status::ok();
  const long long n = static_cast<long long>(batch.messages.size());
  const std::string from = std::to_string(n), to = std::to_string(n + max - 1);
  Status s = connection_->append({"LRANGE", keys_.pending, from, to});
  if (s) s = connection_->flush();
  ahead_ = s.is_ok();
  return s;
}

Status LeaseSource::ack_and_take(const TakenBatch& batch, const AckWrites& writes, bool* owned,
                                 TakenBatch* next) {
  next->clear();
  if (!ahead_) return ack(batch, writes, owned);
  ahead_ = false;
  Status s = connection_->read_reply(&next->reply);
  if (!s) return s;
  const redisReply* ahead = next->reply.get();
  if (ahead->type != REDIS_REPLY_ARRAY || ahead->elements == 0) ahead = nullptr;
  bool recorded = false;
  s = ack_window(batch, writes, ahead, owned, &recorded);
  wait_first_ = s.is_ok() && *owned && ahead == nullptr;
  if (!s || !recorded) {
    next->clear();
    return s;
  }
  next->messages.reserve(ahead->elements);
  for (size_t i = 0; i < ahead->elements; ++i)
    next->messages.emplace_back(ahead->element[i]->str, ahead->element[i]->len);
  return Status::ok();
}

Status LeaseSource::release(const TakenBatch& next) {
  if (next.messages.empty()) return Status::ok();
  Reply reply;
  const std::string window = keys_.window();
  return connection_->eval(kLeaseDropWindowScript, {window}, {holder_}, &reply);
}

Status LeaseSource::ack_window(const TakenBatch& batch, const AckWrites& writes,
                               const redisReply* ahead, bool* owned, bool* recorded) {
  *owned = false;
  *recorded = false;
  if (batch.messages.empty()) return Status::ok();
  const std::string n = std::to_string(batch.messages.size());
  const std::string m = std::to_string(ahead ? ahead->elements : 0);
  std::string_view ahead_first, ahead_last;
  if (ahead) {
    const redisReply* f = ahead->element[0];
    const redisReply* l = ahead->element[ahead->elements - 1];
    ahead_first = std::string_view(f->str, f->len);
    ahead_last = std::string_view(l->str, l->len);
  }
  std::vector<std::string_view> args = {
      holder_,     n,         batch.messages.front(), batch.messages.back(), ttl_ms_, m,
      ahead_first, ahead_last};
  std::vector<std::string> numbers;
  append_ack_writes(archive_, writes, &numbers, &args);
  const std::string lease = keys_.lease(), window = keys_.window();
  const std::string deliveries = keys_.deliveries(), dead = keys_.dead(), retry = keys_.retry();
  const std::string archive = keys_.archive(), owners = keys_.owners();
  std::vector<std::string_view> keys = {keys_.pending, lease, window,  deliveries,
                                        dead,          retry, archive, owners};
  if (!notify_key_.empty()) keys.push_back(notify_key_);
  Reply reply;
  Status s = connection_->eval(kLeaseAckScript, keys, args, &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_INTEGER && reply->integer == -1) {
    spdlog::error(
        "source {}: the head of {} changed under this instance's window (another "
        "consumer took from it or pushed to its head); nothing was trimmed and the "
        "window is handled again. Every consumer of a delivery: lease source must use "
        "delivery: lease",
        source_name_, keys_.pending);
  }
  *owned = reply->type == REDIS_REPLY_INTEGER && reply->integer >= 1;
  *recorded = reply->type == REDIS_REPLY_INTEGER && reply->integer == 2;
  return Status::ok();
}

Status LeaseSource::renew() {
  Reply reply;
  const std::string lease = keys_.lease();
  return connection_->eval(kLeaseRenewScript, {lease}, {holder_, ttl_ms_}, &reply);
}

}  // namespace switchyard
