// list_source.h: the reliable Redis list source (README "Redis keys", "Delivery guarantee"): takes
// batches from K into a per-worker in-flight list atomically, acks them together with their dead
// letters and retries, recovers in-flight lists of crashed consumers, and runs the durable retry
// schedule K:retry. Thread safety: a ListSource is used by one thread (it holds that thread's
// connection).
#ifndef SWITCHYARD_SOURCE_LIST_SOURCE_H_
#define SWITCHYARD_SOURCE_LIST_SOURCE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

class ListSource : public Source {
 public:
  // consumer identifies this process among the source's consumers; worker is this thread's index.
  // token is written into the heartbeat; ttl is reclaim_after.
  ListSource(RedisConnection* connection, std::string key, std::string consumer, int worker,
             std::string token, std::chrono::milliseconds ttl);

  // format laravel: the producer's companion list (one "1" per pushed message) that must not
  // grow; take() removes one token per message it takes. Empty for format raw.
  void set_notify_key(std::string notify_key) { notify_key_ = std::move(notify_key); }
  // How many workers this process runs for the source (default 1): at start each worker
  // recovers only its own in-flight list, worker 0 also those no current worker owns.
  void set_workers(int workers) { workers_ = workers; }

  const SourceKeys& keys() const override { return keys_; }
  // The in-flight list of lane 0 (a take waits there for its ack; see take() and prefetch()).
  const std::string& inflight_key() const { return lanes_[0]; }

  // Takes up to max messages from the head of K into this worker's in-flight list, atomically,
  // and refreshes the heartbeat. Messages that were already redelivered after a crash (they have
  // a delivery count) are taken alone, so that only a poison message accumulates deliveries.
  // Whatever the in-flight list held before (not taken by this worker) goes back to the head of
  // K first, uncounted. If K is empty and block > 0, waits up to block for one message (BLMOVE).
  // An empty batch means nothing arrived. Errors: K:lease held by a `delivery: lease` consumer;
  // this consumer name's heartbeat held by another live run (the alert consumer_name_taken).
  Status take(int max, std::chrono::milliseconds block, TakenBatch* batch) override;

  // Acknowledges the batch (all of this worker's in-flight list): writes the dead
  // letters and retries and removes the messages, all in one script. When the list holds other
  // elements too (written by someone else), a second script acks the batch's own messages with
  // the writes and returns the others to the head of K, uncounted, logging a warning. *owned is
  // false when the in-flight list holds none of the batch (it was reclaimed by another instance
  // after this one went silent, or an earlier ack went through): then nothing is written.
  Status ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) override;

  // Each worker has two in-flight lists (lanes, both registered in K:inflight): take() fills
  // lane 0; prefetch() sends the take of the next batch into the other lane than batch's (only
  // the common case: it takes nothing when that lane is not empty or K has redelivered
  // messages), so a crash with two batches in hand leaves each in its own list, recovered as
  // any in-flight list is. ack_and_take() acks batch and collects that batch.
  Status prefetch(const TakenBatch& batch, int max) override;
  Status ack_and_take(const TakenBatch& batch, const AckWrites& writes, bool* owned,
                      TakenBatch* next) override;
  // Returns next's lane to the head of K uncounted (it was never handed to a handler).
  Status release(const TakenBatch& next) override {
    return next.messages.empty() ? Status::ok() : return_lane(next.lane, keys_.pending);
  }

  // Moves every message of in-flight list `list` (owned by `consumer`) back to the head of K in
  // order, counting a delivery for each; a message at max_deliveries goes to K:dead with reason
  // "exceeded max deliveries (N)" instead. Unless force, does nothing (and sets *skipped) when
  // the consumer's heartbeat is alive. *returned and *dead count what moved. count_delivery false
  // returns messages without counting (they were taken but never handed to a handler).
  Status recover(const std::string& list, const std::string& consumer, bool force,
                 int max_deliveries, const std::string& source_name, int* returned, int* dead,
                 bool* skipped, bool count_delivery = true);

  // Force-recovers, at start before taking anything, the in-flight lists the previous process
  // with this identity left (it is dead): this worker's own list and, for worker 0, lists of this
  // consumer that no current worker owns (a previous run had more workers). Never a sibling
  // worker's list: that sibling may already hold a fresh batch there.
  Status recover_own(int max_deliveries, const std::string& source_name, int* returned, int* dead);

  // Force-returns this worker's own in-flight list without counting deliveries: after a take whose
  // reply was lost with the connection, the messages may sit there unseen.
  Status return_uncounted(const std::string& source_name) { return return_lane(0, source_name); }
  // After a lost take (or prefetch) reply: returns the lane it filled.
  Status after_lost_take(const std::string& source_name) override {
    return return_lane(last_take_lane_, source_name);
  }
  // Claims the consumer name (claim_name), then returns this consumer's in-flight lists (left by
  // a crashed predecessor) to K, logging it (recover_at_start).
  Status start(int max_deliveries, const std::string& source_name) override;
  // Sets the heartbeat to this run's token unless another live run holds it: a run on another
  // host or boot counts as alive until its heartbeat expires (reclaim_after), a run on this boot
  // as long as its process exists. Otherwise logs once, raises the alert consumer_name_taken and
  // returns an error (the worker stands by and claims again later).
  Status claim_name();
  // The recovery part of start() (LeaseSource uses it: it claims a lease instead).
  Status recover_at_start(int max_deliveries, const std::string& source_name);

  std::string describe_inflight() const override { return lanes_[0] + " or " + lanes_[1]; }

  // Recovers the in-flight lists of every other consumer whose heartbeat has expired. Every few
  // rounds it also registers in-flight lists that hold messages but are missing from K:inflight
  // (SCAN K:inflight:*), and each round it removes delivery counts whose messages are gone.
  Status reclaim_abandoned(int max_deliveries, const std::string& source_name, int* returned,
                           int* dead);

  // Refreshes this consumer's heartbeat (SET PX ttl) unless another run holds it, and registers
  // its in-flight lists unless a `delivery: lease` consumer holds K:lease.
  Status heartbeat(int workers);

 private:
  // One non-blocking take; tokens_consumed notify tokens were already removed by the caller.
  Status take_now(int max, int tokens_consumed, TakenBatch* batch);
  // The error for a take refused because a `delivery: lease` consumer holds the source.
  Status lease_held(TakenBatch* batch);
  // The error (and alert) for a take refused because another run holds this consumer name.
  Status name_taken(TakenBatch* batch);
  Status name_taken_error(const std::string& other_token);
  // Points batch->messages at the elements of the array r (default: batch->reply).
  Status collect(TakenBatch* batch, const redisReply* r = nullptr);
  // Moves an in-flight key of another type than list aside (see the README, "Redis keys").
  void quarantine_inflight(int lane);
  // Returns lane's in-flight list to the head of K without counting deliveries.
  Status return_lane(int lane, const std::string& source_name) {
    int r = 0, d = 0;
    bool skipped = false;
    return recover(lanes_[lane], consumer_, true, 1 << 30, source_name, &r, &d, &skipped, false);
  }
  // The KEYS of a take into lane; other is the lane that must be empty too (lane itself when the
  // other lane holds the batch in hand).
  std::vector<std::string_view> take_keys(int lane, int other);
  // Registers (HSETNX K:inflight) the in-flight lists SCAN finds that owners (the HGETALL
  // reply of K:inflight) lacks; those of other consumers are added to others.
  Status register_unlisted(const redisReply* owners,
                           std::vector<std::pair<std::string, std::string>>* others);
  Status recover_lists_of(const std::string& consumer, bool count_delivery, int max_deliveries,
                          const std::string& source_name, int* returned, int* dead);

  RedisConnection* connection_;
  SourceKeys keys_;
  std::string consumer_;
  int worker_;
  std::string lanes_[2];  // K:inflight:<consumer>:<worker> and ...:<worker>b
  int last_take_lane_ = 0;
  bool ahead_ = false;  // a prefetch's two replies are outstanding on the connection
  int ahead_lane_ = 1;
  std::string token_;
  std::string ttl_ms_;
  std::string notify_key_;
  int workers_ = 1;
  std::vector<std::string_view> args_;                                   // reused argument buffer
  std::string heartbeat_key_, owners_key_, deliveries_key_, lease_key_;  // for take_keys()
  bool sort_refused_ = false;  // an ACL refused SORT: take with kTakeScript only
  int reclaim_rounds_ = 0;     // reclaim_abandoned calls (the SCAN runs on some of them)
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_LIST_SOURCE_H_
