// stream_source.h: a Redis Streams source read through a consumer group (type: stream). Entries
// stay pending in the group until the ack script XACKs them together with their dead letters and
// retries; a restarted consumer first re-reads its own pending entries; entries of consumers idle
// longer than reclaim_after are claimed with XAUTOCLAIM. Delivery counts come from the group's
// pending list.
// Thread safety: used by one thread (it holds that thread's connection).
#ifndef SWITCHYARD_SOURCE_STREAM_SOURCE_H_
#define SWITCHYARD_SOURCE_STREAM_SOURCE_H_

#include <chrono>
#include <string>

#include "config/config.h"
#include "source/source.h"

namespace switchyard {

class StreamSource : public Source {
 public:
  // The consumer name in the group is "<consumer>:<worker>".
  StreamSource(RedisConnection* connection, const SourceConfig& config, const std::string& consumer,
               int worker);

  // Creates the group (XGROUP CREATE ... MKSTREAM at config.start) unless it exists, and arranges
  // for this consumer's own pending entries to be read first.
  Status start(int max_deliveries, const std::string& source_name) override;
  // Own pending entries first (one at a time, so a poison entry does not drag its neighbours'
  // delivery counts up), then, every reclaim_after / 2, entries claimed from idle consumers, then
  // new entries (XREADGROUP ... BLOCK). The entry's "message" field is the message.
  Status take(int max, std::chrono::milliseconds block, TakenBatch* batch) override;
  // XACK of the batch's ids with RPUSH of dead letters and ZADD of retries, in one script, only
  // while every id is still pending for this consumer; else nothing is written and *owned is false
  // (an entry was claimed by another consumer meanwhile, or this ack already went through).
  Status ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) override;
  // Nothing to do: an entry whose read reply was lost stays pending for this consumer, and is
  // read again from the pending list.
  Status after_lost_take(const std::string& source_name) override;
  const SourceKeys& keys() const override { return keys_; }
  std::string describe_inflight() const override;

 private:
  // Appends the entries of an XREADGROUP / XCLAIM-style entry array to batch.
  void append_entries(const redisReply* entries, TakenBatch* batch);
  // Fills batch->deliveries from XPENDING for the batch's ids.
  Status load_delivery_counts(TakenBatch* batch);

  RedisConnection* connection_;
  SourceKeys keys_;
  std::string group_;
  std::string start_id_;
  std::string consumer_;
  std::chrono::milliseconds reclaim_after_;
  bool reading_own_pending_ = true;
  std::chrono::steady_clock::time_point next_claim_{};
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_STREAM_SOURCE_H_
