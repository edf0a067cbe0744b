// stream_source.h: a Redis Streams source read through a consumer group (type: stream). Entries
// stay pending in the group until the ack script XACKs them together with their dead letters and
// retries; a restarted consumer first re-reads its own pending entries; entries of consumers idle
// longer than reclaim_after are claimed one at a time with XAUTOCLAIM. Delivery counts come from
// the group's pending list. Redis state this process did not write is healed: a lost group is
// recreated, entries deleted before their ack and entries without a "message" field are
// dead-lettered with the reason, and the entries of a batch in hand are kept this consumer's
// while its handlers run.
// Thread safety: used by one thread (it holds that thread's connection); it runs one helper
// thread of its own (with its own connection) that keeps the batch in hand owned.
#ifndef SWITCHYARD_SOURCE_STREAM_SOURCE_H_
#define SWITCHYARD_SOURCE_STREAM_SOURCE_H_

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "metrics/metrics.h"
#include "redis/redis_url.h"
#include "source/source.h"

namespace switchyard {

class StreamSource : public Source {
 public:
  // The consumer name in the group is "<consumer>:<worker>". endpoint: where the helper thread
  // connects to keep a batch in hand owned. metrics (borrowed, may be null) counts healed states.
  StreamSource(RedisConnection* connection, const SourceConfig& config, const std::string& consumer,
               int worker, RedisEndpoint endpoint, Metrics* metrics);
  // Stops and joins the helper thread.
  ~StreamSource() override;

  // Creates the group (XGROUP CREATE ... MKSTREAM at config.start) unless it exists, and arranges
  // for this consumer's own pending entries to be read first.
  Status start(int max_deliveries, const std::string& source_name) override;
  // Own pending entries first (one at a time, so a poison entry does not drag its neighbours'
  // delivery counts up), then, every reclaim_after / 2, entries claimed from idle consumers (one
  // at a time too, for the same reason), then new entries (XREADGROUP ... BLOCK). The entry's
  // "message" field is the message; an entry deleted before its ack, or without that field, comes
  // with a refusal (TakenBatch::refusals). When the group is gone (NOGROUP), it is recreated at
  // the stream's first entry, counted, and alerted (group_lost in K:alerts, logged once); the
  // batch is then empty.
  // The batch's entries are kept this consumer's (XCLAIM JUSTID every reclaim_after / 3) until
  // ack() succeeds, so a slow batch is not claimed by another consumer while it is handled.
  Status take(int max, std::chrono::milliseconds block, TakenBatch* batch) override;
  // XACK of the batch's ids with RPUSH of dead letters and ZADD of retries, in one script, only
  // while every id still pending is pending for this consumer; else nothing is written and
  // *owned is false (an entry was claimed by another consumer meanwhile, this ack already went
  // through, or the group is gone). If this consumer was deleted from the group (XGROUP
  // DELCONSUMER) while the batch was in hand, the batch is written all the same and the alert
  // consumer_deleted is raised: the other entries it held are gone from the pending list.
  Status ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) override;
  // Nothing to do: an entry whose read reply was lost stays pending for this consumer, and is
  // read again from the pending list.
  Status after_lost_take(const std::string& source_name) override;
  const SourceKeys& keys() const override { return keys_; }
  std::string describe_inflight() const override;

  // The key that shows this worker alive: K:heartbeat:<group>:<consumer>:<worker>, set to
  // `value` with a TTL of reclaim_after by the helper thread, at once and then every
  // reclaim_after / 3, for as long as this source exists (and its process runs). A retry this
  // worker runs names it, so that another worker renews the retry's lease instead of taking a
  // slow run for a crash. Call once, before the first take.
  void keep_alive(const std::string& value);
  std::string alive_key() const { return keys_.heartbeat(group_ + ":" + consumer_); }

  class Keeper;  // the helper thread (stream_source.cc)

 private:
  // Appends the entries of an XREADGROUP / XCLAIM-style entry array to batch.
  void append_entries(const redisReply* entries, TakenBatch* batch);
  // Fills batch->deliveries from XPENDING for the batch's ids.
  Status load_delivery_counts(TakenBatch* batch);
  Status take_once(int max, std::chrono::milliseconds block, TakenBatch* batch);
  // Logs "claimed N pending entries" for the claims since the last such line (one per pass over
  // the pending list, not one per entry).
  void log_claimed();
  // XGROUP CREATE at "0" after NOGROUP; counts it and raises the alert group_lost (K:alerts).
  Status recreate_group(const std::string& why);

  RedisConnection* connection_;
  SourceKeys keys_;
  std::string group_;
  std::string start_id_;
  std::string consumer_;
  std::string source_name_;
  std::chrono::milliseconds reclaim_after_;
  Metrics* metrics_;
  bool reading_own_pending_ = true;
  std::chrono::steady_clock::time_point next_claim_{};
  std::string claim_cursor_ = "0-0";  // where the current pass of XAUTOCLAIM continues
  size_t claimed_in_pass_ = 0;
  // Indexes in the last batch of entries no longer in the pending list (XAUTOCLAIM reported them
  // deleted): the ack neither checks nor XACKs them.
  std::vector<size_t> gone_;
  std::unique_ptr<Keeper> keeper_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_STREAM_SOURCE_H_
