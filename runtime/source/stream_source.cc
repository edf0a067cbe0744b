// stream_source.cc: consumer-group reads, claims and the atomic ack script for streams.
#include "source/stream_source.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace switchyard {
namespace {

// KEYS: stream, dead, retry. ARGV: group, consumer, nids, ids..., ndead, dead letters...,
// (score, member)... XACKs the batch together with its dead letters and retries, but only while
// every id of the batch is still pending for this consumer: otherwise (another consumer claimed
// an entry while this one was silent, or an earlier ack of this batch went through and its reply
// was lost) it writes nothing and returns -1, so no dead letter or retry is written twice.
const RedisScript kStreamAckScript(R"lua(
local nids = tonumber(ARGV[3])
for i = 4, 3 + nids do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2]) == 0 then
    return -1
  end
end
local acked = 0
for i = 4, 3 + nids, 1000 do
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, math.min(i + 999, 3 + nids)))
end
local nd = tonumber(ARGV[4 + nids])
local first = 5 + nids
for i = first, first + nd - 1, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, first + nd - 1)))
end
for i = first + nd, #ARGV, 1000 do
  redis.call('ZADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
return acked
)lua");

std::string_view view(const redisReply* r) { return {r->str, r->len}; }

}  // namespace

StreamSource::StreamSource(RedisConnection* connection, const SourceConfig& config,
                           const std::string& consumer, int worker)
    : connection_(connection),
      keys_(config.key),
      group_(config.group),
      start_id_(config.start),
      consumer_(consumer + ":" + std::to_string(worker)),
      reclaim_after_(config.reclaim_after) {}

std::string StreamSource::describe_inflight() const {
  return "the pending list of group " + group_ + " on " + keys_.pending + " (consumer " +
         consumer_ + ")";
}

Status StreamSource::start(int, const std::string& source_name) {
  Reply reply;
  Status s = connection_->command(
      {"XGROUP", "CREATE", keys_.pending, group_, start_id_ == "0" ? "0" : "$", "MKSTREAM"}, &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "BUSYGROUP", 9) != 0) {
    return Status::error("source " + source_name + ": XGROUP CREATE " + keys_.pending + " " +
                         group_ + ": " + std::string(reply->str, reply->len));
  }
  if (reply->type != REDIS_REPLY_ERROR) {
    spdlog::info("source {}: created consumer group {} on stream {} starting at {}", source_name,
                 group_, keys_.pending, start_id_ == "0" ? "the first entry" : "new entries");
  }
  reading_own_pending_ = true;
  next_claim_ = std::chrono::steady_clock::now();
  return Status::ok();
}

void StreamSource::append_entries(const redisReply* entries, TakenBatch* batch) {
  if (entries == nullptr || entries->type != REDIS_REPLY_ARRAY) return;
  for (size_t i = 0; i < entries->elements; ++i) {
    const redisReply* entry = entries->element[i];
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements < 2) continue;
    std::string_view message;  // an entry without a "message" field decodes as empty
    const redisReply* fields = entry->element[1];
    if (fields->type == REDIS_REPLY_ARRAY) {
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        if (view(fields->element[f]) == "message") message = view(fields->element[f + 1]);
      }
    }
    batch->ids.push_back(view(entry->element[0]));
    batch->messages.push_back(message);
  }
}

Status StreamSource::load_delivery_counts(TakenBatch* batch) {
  batch->deliveries.assign(batch->messages.size(), 1);
  if (batch->ids.empty()) return Status::ok();
  Reply reply;
  std::string count = std::to_string(batch->ids.size() * 2 + 10);
  Status s = connection_->command_ok({"XPENDING", keys_.pending, group_, batch->ids.front(),
                                      batch->ids.back(), count, consumer_},
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
  batch->clear();
  std::string count = std::to_string(max);
  if (reading_own_pending_) {
    // What this consumer read before a crash and never acked: one entry at a time.
    Status s = connection_->command_ok({"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "1",
                                        "STREAMS", keys_.pending, "0"},
                                       &batch->reply);
    if (!s) return s;
    const redisReply* r = batch->reply.get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) append_entries(r->element[0]->element[1], batch);
    if (!batch->messages.empty()) return load_delivery_counts(batch);
    reading_own_pending_ = false;
  }
  if (std::chrono::steady_clock::now() >= next_claim_) {
    // Entries of consumers silent for reclaim_after become ours (their delivery count goes up).
    next_claim_ = std::chrono::steady_clock::now() + reclaim_after_ / 2;
    std::string idle = std::to_string(reclaim_after_.count());
    Status s = connection_->command_ok({"XAUTOCLAIM", keys_.pending, group_, consumer_, idle, "0-0",
                                        "COUNT", count},
                                       &batch->reply);
    if (!s) return s;
    const redisReply* r = batch->reply.get();
    if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) append_entries(r->element[1], batch);
    if (!batch->messages.empty()) {
      spdlog::warn("stream {}: claimed {} pending entr{} of silent consumers in group {}",
                   keys_.pending, batch->messages.size(),
                   batch->messages.size() == 1 ? "y" : "ies", group_);
      return load_delivery_counts(batch);
    }
  }
  std::string block_ms = std::to_string(block.count());
  Status s = connection_->command_ok({"XREADGROUP", "GROUP", group_, consumer_, "COUNT", count,
                                      "BLOCK", block_ms, "STREAMS", keys_.pending, ">"},
                                     &batch->reply);
  if (!s) return s;
  const redisReply* r = batch->reply.get();
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 1) append_entries(r->element[0]->element[1], batch);
  return Status::ok();
}

Status StreamSource::ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) {
  *owned = true;
  std::vector<std::string> numbers = {std::to_string(batch.ids.size()),
                                      std::to_string(writes.dead_letters.size())};
  std::vector<std::string> scores;
  for (const auto& r : writes.retries) scores.push_back(std::to_string(r.first));
  std::vector<std::string_view> args = {group_, consumer_, numbers[0]};
  args.insert(args.end(), batch.ids.begin(), batch.ids.end());
  args.push_back(numbers[1]);
  for (const auto& d : writes.dead_letters) args.push_back(d);
  for (size_t i = 0; i < writes.retries.size(); ++i) {
    args.push_back(scores[i]);
    args.push_back(writes.retries[i].second);
  }
  std::string dead = keys_.dead(), retry = keys_.retry();
  Reply reply;
  Status s = connection_->eval(kStreamAckScript, {keys_.pending, dead, retry}, args, &reply);
  if (!s) return s;
  *owned = !(reply->type == REDIS_REPLY_INTEGER && reply->integer < 0);
  return Status::ok();
}

Status StreamSource::after_lost_take(const std::string&) {
  reading_own_pending_ = true;  // whatever that read delivered is in our pending list now
  return Status::ok();
}

}  // namespace switchyard
