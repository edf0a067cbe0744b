// lease_source.h: the list source with `delivery: lease`: one active consumer holds K:lease, reads
// a window from the head of K and acknowledges it by trimming the head, so no message is copied.
//
// The protocol (all state in Redis, every step fenced by the lease):
//   K:lease   "<consumer>|<token>" of the active consumer, PX reclaim_after; renewed by each take
//             and by the housekeeping thread. Others stand by until it expires; a restarted
//             process with the same consumer name (its predecessor is dead) takes over at once.
//   K:window  hash {n, by, suspect}: the first n messages of K are taken by `by` and not yet
//             acknowledged; `suspect` counts head messages left by a consumer that died holding
//             them. Those are taken one at a time, each counting a delivery in K:deliveries, and
//             go to K:dead after max_deliveries, as redelivered in-flight messages do.
//   ack       only while the lease and the window are still ours and the window's first and last
//             messages are still at positions 0 and n-1: then LTRIM K n -1, together with the
//             batch's dead letters and retries. A paused former owner can therefore never trim.
// Thread safety: a LeaseSource is used by one thread (it holds that thread's connection).
#ifndef SWITCHYARD_SOURCE_LEASE_SOURCE_H_
#define SWITCHYARD_SOURCE_LEASE_SOURCE_H_

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/status.h"

namespace switchyard {

class LeaseSource : public Source {
 public:
  // consumer names this process among the source's consumers (hostname:slot); token is unique to
  // this run. ttl (reclaim_after) is how long the lease outlives a silent holder. The connection
  // is borrowed and must outlive the source.
  LeaseSource(RedisConnection* connection, std::string key, std::string consumer, std::string token,
              std::chrono::milliseconds ttl);

  // format laravel: the producer's companion list (one "1" per message); a fresh window removes
  // one token per message, as ListSource does. Empty for format raw.
  void set_notify_key(std::string notify_key) { notify_key_ = std::move(notify_key); }

  // Returns to the head of K the in-flight lists an earlier `delivery: inflight` run of this
  // consumer left (switching modes after a crash).
  Status start(int max_deliveries, const std::string& source_name) override;

  // Takes (acquiring or renewing the lease) the next window of up to max messages, or, after a
  // consumer died holding a window, the next suspect message alone. Blocks up to block when K is
  // empty (BLMOVE K K LEFT LEFT: wakes on a push without moving anything), and waits up to block
  // and returns an empty batch while another live consumer holds the lease (standby) or while
  // `delivery: inflight` consumers still have in-flight lists on K (modes must not mix).
  Status take(int max, std::chrono::milliseconds block, TakenBatch* batch) override;

  // Trims the batch's window from the head of K with the batch's dead letters and retries,
  // atomically. *owned is false (nothing written) when the lease or the window is no longer
  // ours (another consumer took over: it handles the window again, at-least-once) or the head
  // of K changed under the window (then the window is dropped and handled again).
  Status ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) override;

  // Reads ahead (LRANGE, nothing written) the up to max messages after the window of batch.
  Status prefetch(const TakenBatch& batch, int max) override;
  // Acks batch as ack() does, and in the same script records the messages read ahead as the
  // next window when they are still right behind it (lease_ack.lua): *next is that window.
  Status ack_and_take(const TakenBatch& batch, const AckWrites& writes, bool* owned,
                      TakenBatch* next) override;
  // Drops the window of `next` (its messages stay at the head of K, not suspect).
  Status release(const TakenBatch& next) override;

  // A lost take reply leaves at most our window in K:window: the next take reads it again.
  Status after_lost_take(const std::string&) override { return Status::ok(); }

  // Renews the lease if this process holds it (housekeeping: a long handler call keeps it).
  Status renew();

  const SourceKeys& keys() const override { return keys_; }
  std::string describe_inflight() const override;

 private:
  // One non-blocking take; tokens_consumed notify tokens were already removed by the caller.
  Status take_now(int max, int max_deliveries, int tokens_consumed, TakenBatch* batch,
                  bool* standby);
  void report_standby(const std::string& why);
  // The ack script, recording `ahead` (an LRANGE reply, or null) as the next window when it
  // still follows the window; *recorded says whether it did.
  Status ack_window(const TakenBatch& batch, const AckWrites& writes, const redisReply* ahead,
                    bool* owned, bool* recorded);

  RedisConnection* connection_;
  SourceKeys keys_;
  std::string consumer_;
  std::string holder_;  // "<consumer>|<token>": the value of K:lease while we hold it
  std::string ttl_ms_;
  std::string notify_key_;
  std::string source_name_;
  int max_deliveries_ = 5;
  std::string standby_reason_;  // what the last standby was about (logged on change only)
  // The value of K:lease left by a run of this consumer name that is known dead (its process is
  // gone from this host's current boot): the take script may replace it. "" until one is seen.
  std::string replaceable_;
  bool ahead_ = false;       // a prefetch's LRANGE reply is outstanding on the connection
  bool wait_first_ = false;  // the last read-ahead found K empty: take() waits for a push first
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_LEASE_SOURCE_H_
