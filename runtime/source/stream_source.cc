// stream_source.cc: consumer-group reads, claims and the atomic ack script for streams.
#include "source/stream_source.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <mutex>
#include <thread>

#include "source/ack_writes.h"
#include "source/lua/scripts.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kStreamAckScript(lua::kStreamAck);
const RedisScript kStreamKeepScript(lua::kStreamKeep);

std::string_view view(const redisReply* r) { return {r->str, r->len}; }

bool is_nogroup(const Status& s) { return s.message().find("NOGROUP") != std::string::npos; }

}  // namespace

// Keeps the entries of the batch in hand pending for this consumer with a fresh idle time while
// its handlers run (which may take longer than reclaim_after), on its own thread and connection.
class StreamSource::Keeper {
 public:
  Keeper(RedisEndpoint endpoint, std::string client_name, std::string stream, std::string group,
         std::string consumer, std::chrono::milliseconds every)
      : connection_(std::move(endpoint), std::move(client_name), std::chrono::milliseconds(5000)),
        stream_(std::move(stream)),
        group_(std::move(group)),
        consumer_(std::move(consumer)),
        every_(every),
        thread_([this] { run(); }) {}
  ~Keeper() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  // The batch now in hand (replaces the previous one); empty: none.
  void hold(std::vector<std::string> ids) {
    std::lock_guard<std::mutex> lock(mutex_);
    ids_ = std::move(ids);
  }
  // From now on, also SET alive_key alive_value PX ttl on every round, the first one at once.
  void keep_alive(std::string alive_key, std::string alive_value, std::chrono::milliseconds ttl) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      alive_key_ = std::move(alive_key);
      alive_value_ = std::move(alive_value);
      alive_ttl_ms_ = std::to_string(ttl.count());
    }
    wake_.notify_all();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!stopping_) {
      if (!ids_.empty() || !alive_key_.empty()) {
        std::vector<std::string> ids = ids_;
        const std::string key = alive_key_, value = alive_value_, ttl = alive_ttl_ms_;
        lock.unlock();
        keep(ids, key, value, ttl);
        lock.lock();
      }
      if (!stopping_) wake_.wait_for(lock, every_);
    }
  }
  void keep(const std::vector<std::string>& ids, const std::string& alive_key,
            const std::string& alive_value, const std::string& ttl_ms) {
    if (!connection_.connected() && !connection_.connect()) return;  // the worker reports outages
    Reply reply;
    if (!alive_key.empty()) {
      Status s = connection_.command({"SET", alive_key, alive_value, "PX", ttl_ms}, &reply);
      if (!s) spdlog::debug("stream {}: refreshing {}: {}", stream_, alive_key, s.message());
    }
    if (ids.empty()) return;
    std::vector<std::string_view> args = {group_, consumer_};
    args.insert(args.end(), ids.begin(), ids.end());
    Status s = connection_.eval(kStreamKeepScript, {stream_}, args, &reply);
    if (!s)
      spdlog::debug("stream {}: keeping the batch in hand of {}: {}", stream_, consumer_,
                    s.message());
  }

  RedisConnection connection_;
  const std::string stream_, group_, consumer_;
  const std::chrono::milliseconds every_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<std::string> ids_;
  std::string alive_key_, alive_value_, alive_ttl_ms_;  // see keep_alive; "" until then
  std::thread thread_;  // last: starts once everything above is initialised
};

StreamSource::StreamSource(RedisConnection* connection, const SourceConfig& config,
                           const std::string& consumer, int worker, RedisEndpoint endpoint,
                           Metrics* metrics)
    : connection_(connection),
      keys_(config.key),
      group_(config.group),
      start_id_(config.start),
      consumer_(consumer + ":" + std::to_string(worker)),
      source_name_(config.name),
      reclaim_after_(config.reclaim_after),
      metrics_(metrics) {
  keeper_ = std::make_unique<Keeper>(std::move(endpoint), "switchyard:" + consumer_ + ":keeper",
                                     keys_.pending, group_, consumer_,
                                     std::max(std::chrono::milliseconds(10), reclaim_after_ / 3));
}

StreamSource::~StreamSource() { log_claimed(); }

void StreamSource::keep_alive(const std::string& value) {
  keeper_->keep_alive(alive_key(), value, reclaim_after_);
}

void StreamSource::log_claimed() {
  if (claimed_in_pass_ == 0) return;
  spdlog::warn("stream {}: claimed {} pending entr{} of silent consumers in group {}",
               keys_.pending, claimed_in_pass_, claimed_in_pass_ == 1 ? "y" : "ies", group_);
  claimed_in_pass_ = 0;
}

std::string StreamSource::describe_inflight() const {
  return "the pending list of group " + group_ + " on " + keys_.pending + " (consumer " +
         consumer_ + ")";
}

Status StreamSource::start(int, const std::string& source_name) {
  source_name_ = source_name;
  Reply reply;
  Status s = connection_->command(
      {"XGROUP", "CREATE", keys_.pending, group_, start_id_ == "0" ? "0" : "$", "MKSTREAM"},
      &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
    return Status::error("source " + source_name + ": XGROUP CREATE " + keys_.pending + " " +
                         group_ + ": " + std::string(reply->str, reply->len) +
                         (strncmp(reply->str, "WRONGTYPE", 9) == 0
                              ? " (the key holds something other than a stream: rename or "
                                "delete it, or point key: in routes.yaml at the stream)"
                              : ""));
  }
  if (reply->type != REDIS_REPLY_ERROR) {
    spdlog::info("source {}: created consumer group {} on stream {} starting at {}", source_name,
                 group_, keys_.pending, start_id_ == "0" ? "the first entry" : "new entries");
    if (start_id_ != "0") {
      Reply length;
      if (connection_->command_ok({"XLEN", keys_.pending}, &length) &&
          length->type == REDIS_REPLY_INTEGER && length->integer > 0) {
        spdlog::warn(
            "source {}: the {} entries already in stream {} are skipped (start: \"$\"); "
            "if group {} existed before and was lost, recreate it with XGROUP SETID {} "
            "{} 0 to handle them",
            source_name, length->integer, keys_.pending, group_, keys_.pending, group_);
      }
    }
  }
  reading_own_pending_ = true;
  next_claim_ = std::chrono::steady_clock::now();
  log_claimed();
  claim_cursor_ = "0-0";
  return Status::ok();
}

Status StreamSource::recreate_group(const std::string& why) {
  Reply reply;
  Status s =
      connection_->command({"XGROUP", "CREATE", keys_.pending, group_, "0", "MKSTREAM"}, &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
    return Status::error("source " + source_name_ + ": XGROUP CREATE " + keys_.pending + " " +
                         group_ + " 0: " + std::string(reply->str, reply->len));
  }
  if (reply->type != REDIS_REPLY_ERROR) {
    spdlog::debug("source {}: group {} was gone: {}", source_name_, group_, why);
    if (metrics_) metrics_->add_source_healed(source_name_, "group_recreated", 1);
    Status alerted = raise_alert(
        connection_, keys_, "group_lost",
        "source " + source_name_ + ": recreated consumer group " + group_ + " on stream " +
            keys_.pending +
            " at its first entry after it was gone (destroyed, or the stream "
            "deleted, flushed or restored without it): entries still in the stream are handled "
            "again, entries trimmed away meanwhile are lost; find out what removed the group, "
            "check the producers for missing messages, then HDEL " +
            keys_.alerts() + " group_lost");
    if (!alerted) return alerted;
  }
  reading_own_pending_ = true;
  next_claim_ = std::chrono::steady_clock::now();
  log_claimed();
  claim_cursor_ = "0-0";
  return Status::ok();
}

void StreamSource::append_entries(const redisReply* entries, TakenBatch* batch) {
  if (entries == nullptr || entries->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2 ||
        entry->element[0]->type != REDIS_REPLY_STRING)
      continue;
    const std::string_view id = view(entry->element[0]);
    const redisReply* fields = entry->element[1];
    std::string_view message;
    std::string refusal;
    if (fields->type != REDIS_REPLY_ARRAY) {
      // Pending, but gone from the stream (XDEL, MAXLEN/MINID trimming).
      refusal = "entry deleted before it was acknowledged (stream " + keys_.pending + ", entry " +
                std::string(id) + ")";
      if (metrics_) metrics_->add_source_healed(source_name_, "entry_deleted", 1);
    } else {
      bool found = false;
      std::string names;
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (view(fields->element[f]) == "message") {
          message = view(fields->element[f + 1]);
          found = true;
        }
        names.append(names.empty() ? "" : ", ").append(view(fields->element[f]));
      }
      if (!found) {
        refusal = "stream entry " + std::string(id) + " of " + keys_.pending +
                  " has no \"message\" field (fields: " + names + "); producers must XADD " +
                  keys_.pending + " * message <envelope>";
      }
    }
    if (!refusal.empty()) {
      batch->refusals.resize(batch->messages.size());
      batch->refusals.push_back(std::move(refusal));
    }
    batch->ids.push_back(id);
    batch->messages.push_back(message);
  }
  if (!batch->refusals.empty()) batch->refusals.resize(batch->messages.size());
}

Status StreamSource::load_delivery_counts(TakenBatch* batch) {
  batch->deliveries.assign(batch->messages.size(), 1);
  if (batch->ids.empty()) return Status::ok();
  Reply reply;
  std::string count = std::to_string(batch->ids.size() * 2 + 10);
  Status s = connection_->command_ok(
      {"XPENDING", keys_.pending, group_, batch->ids.front(), batch->ids.back(), count, consumer_},
      &reply);
  if (!s) return s;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* p = reply->element[i];
    if (p->type != REDIS_REPLY_ARRAY || p->elements < 4) continue;
    std::string_view id = view(p->element[0]);
    for (size_t k = 0; k < batch->ids.size(); ++k)
      if (batch->ids[k] == id) batch->deliveries[k] = p->element[3]->integer;
  }
  batch->more_replies.push_back(std::move(reply));
  return Status::ok();
}

Status StreamSource::take(int max, std::chrono::milliseconds block, TakenBatch* batch) {
  gone_.clear();
  Status s = take_once(max, block, batch);
  if (!s && is_nogroup(s) && connection_->connected()) {
    batch->clear();
    gone_.clear();
    s = recreate_group(s.message());
  }
  if (!s && s.message().find("WRONGTYPE") != std::string::npos) {
    s = Status::error(s.message() + " (key " + keys_.pending + " of source " + source_name_ +
                      " holds something other than a stream: rename or delete it, or point key: "
                      "in routes.yaml at the stream)");
  }
  if (!s) batch->clear();
  std::vector<std::string> held;
  for (size_t i = 0; i < batch->ids.size(); ++i)
    if (std::find(gone_.begin(), gone_.end(), i) == gone_.end()) held.emplace_back(batch->ids[i]);
  keeper_->hold(std::move(held));
  return s;
}

Status StreamSource::take_once(int max, std::chrono::milliseconds block, TakenBatch* batch) {
  batch->clear();
  std::string count = std::to_string(max);
  if (reading_own_pending_) {
    // What this consumer read before a crash and never acked: one entry at a time.
    Status s = connection_->command_ok(
        {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "1", "STREAMS", keys_.pending, "0"},
        &batch->reply);
    if (!s) return s;
    const redisReply* r = batch->reply.get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
      append_entries(r->element[0]->element[1], batch);
    if (!batch->messages.empty()) return load_delivery_counts(batch);
    reading_own_pending_ = false;
  }
  const auto now = std::chrono::steady_clock::now();
  if (now >= next_claim_) {
    // Entries of consumers silent for reclaim_after become ours (their delivery count goes up),
    // one at a time: a poison entry among them does not raise its neighbours' counts.
    std::string idle = std::to_string(reclaim_after_.count());
    Status s = connection_->command_ok(
        {"XAUTOCLAIM", keys_.pending, group_, consumer_, idle, claim_cursor_, "COUNT", "1"},
        &batch->reply);
    if (!s) return s;
    const redisReply* r = batch->reply.get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
      claim_cursor_ =
          r->element[0]->type == REDIS_REPLY_STRING ? std::string(view(r->element[0])) : "0-0";
      append_entries(r->element[1], batch);
      // Redis 7: the ids XAUTOCLAIM found deleted from the stream, now also gone from the
      // pending list. Nobody else will ever see them: dead-letter them by id.
      if (r->elements >= 3 && r->element[2]->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->element[2]->elements; ++i) {
          const redisReply* id = r->element[2]->element[i];
          if (id->type != REDIS_REPLY_STRING) continue;
          std::string refusal = "entry deleted before it was acknowledged (stream " +
                                keys_.pending + ", entry " + std::string(view(id)) + ")";
          if (metrics_) metrics_->add_source_healed(source_name_, "entry_deleted", 1);
          batch->refusals.resize(batch->messages.size());
          batch->refusals.push_back(std::move(refusal));
          gone_.push_back(batch->messages.size());
          batch->ids.push_back(view(id));
          batch->messages.emplace_back();
        }
      }
    } else {
      claim_cursor_ = "0-0";
    }
    claimed_in_pass_ += batch->messages.size() - gone_.size();
    if (claim_cursor_ == "0-0") {
      // A whole pass over the pending list: say what it claimed, and wait before the next one.
      log_claimed();
      next_claim_ = now + reclaim_after_ / 2;
    }
    if (!batch->messages.empty()) return load_delivery_counts(batch);
  }
  std::string block_ms = std::to_string(block.count());
  Status s = connection_->command_ok({"XREADGROUP", "GROUP", group_, consumer_, "COUNT", count,
                                      "BLOCK", block_ms, "STREAMS", keys_.pending, ">"},
                                     &batch->reply);
  if (!s) return s;
  const redisReply* r = batch->reply.get();
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
    append_entries(r->element[0]->element[1], batch);
  return Status::ok();
}

Status StreamSource::ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) {
  *owned = true;
  std::vector<std::string_view> ids;
  for (size_t i = 0; i < batch.ids.size(); ++i)
    if (std::find(gone_.begin(), gone_.end(), i) == gone_.end()) ids.push_back(batch.ids[i]);
  const std::string nids = std::to_string(ids.size());
  std::vector<std::string_view> args = {group_, consumer_, nids};
  args.insert(args.end(), ids.begin(), ids.end());
  std::vector<std::string> numbers;
  append_ack_writes(archive_, writes, &numbers, &args);
  std::string dead = keys_.dead(), retry = keys_.retry(), archive = keys_.archive();
  Reply reply;
  Status s =
      connection_->eval(kStreamAckScript, {keys_.pending, dead, retry, archive}, args, &reply);
  if (!s) return s;
  *owned = !(reply->type == REDIS_REPLY_INTEGER && reply->integer < 0);
  keeper_->hold({});
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
      reply->element[1]->type == REDIS_REPLY_INTEGER && reply->element[1]->integer == 1) {
    // The batch in hand is written; what else this consumer held is gone from the group.
    (void)raise_alert(
        connection_, keys_, "consumer_deleted",
        "source " + source_name_ + ": consumer " + consumer_ + " was deleted from group " + group_ +
            " on stream " + keys_.pending +
            " while it held entries (XGROUP "
            "DELCONSUMER, or the group destroyed and created again, e.g. at $): entries it "
            "held beyond the batch in hand left the pending list and are not delivered again; "
            "never delete a consumer or a group with pending entries (XINFO CONSUMERS shows "
            "them), re-read lost ones with XGROUP SETID if needed, then HDEL " +
            keys_.alerts() + " consumer_deleted");
  }
  return Status::ok();
}

Status StreamSource::after_lost_take(const std::string&) {
  reading_own_pending_ = true;  // whatever that read delivered is in our pending list now
  return Status::ok();
}

}  // namespace switchyard
