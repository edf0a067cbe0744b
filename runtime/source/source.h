// source.h: what every source kind offers a worker: take a batch, ack it together with its dead
// letters and retries, and recover after crashes. Implemented by ListSource (Redis lists, also the
// Laravel layout) with per-worker in-flight lists, LeaseSource (the same lists, one active consumer
// acknowledging by trimming the head) and StreamSource (Redis Streams consumer groups).
// Thread safety: a Source is used by one thread (it holds that thread's connection).
#ifndef SWITCHYARD_SOURCE_SOURCE_H_
#define SWITCHYARD_SOURCE_SOURCE_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "records/retry_entry.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace switchyard {

// The Redis keys of one source with key K (every internal key starts with "K:").
struct SourceKeys {
  explicit SourceKeys(std::string key) : pending(std::move(key)) {}
  std::string pending;                                      // K: producers RPUSH here
  std::string dead() const { return pending + ":dead"; }    // dead letters (list)
  std::string retry() const { return pending + ":retry"; }  // scheduled retries (zset)
  // Leased retry member -> "<alive key>\n<alive value>\n<worker>" of the worker running it (hash).
  std::string retry_runners() const { return pending + ":retry:runners"; }
  std::string owners() const { return pending + ":inflight"; }  // in-flight list -> consumer (hash)
  std::string deliveries() const { return pending + ":deliveries"; }  // sha1 -> count (hash)
  std::string inflight(const std::string& consumer, int worker) const {
    return pending + ":inflight:" + consumer + ":" + std::to_string(worker);
  }
  // A worker's in-flight list of lane 0 (the one above) or lane 1 ("...:<worker>b"): the batch
  // taken ahead (pipelined) waits in the other lane while one is handled.
  std::string inflight(const std::string& consumer, int worker, int lane) const {
    return inflight(consumer, worker) + (lane == 0 ? "" : "b");
  }
  std::string heartbeat(const std::string& consumer) const {
    return pending + ":heartbeat:" + consumer;
  }
  // delivery: lease: "<consumer>|<token>" of the one active consumer (string, PX reclaim_after).
  std::string lease() const { return pending + ":lease"; }
  // delivery: lease: the taken window at the head of K (hash: n, by, suspect).
  std::string window() const { return pending + ":window"; }
  // Alerts about state Switchyard could not heal (hash: code -> "<ISO time> <text>"), see
  // source/source_alerts.h.
  std::string alerts() const { return pending + ":alerts"; }
  // `archive:` on: every acknowledged message, field m, id time = when it was handled (stream).
  std::string archive() const { return pending + ":archive"; }
  // A backfill or replay for handler h: its range, cursor and totals (hash, see
  // source/archive.h).
  std::string backfill(const std::string& h) const { return pending + ":backfill:" + h; }
};

// A source's `archive:` settings (off unless configured).
struct ArchiveSettings {
  bool on = false;
  std::chrono::milliseconds retention{0};  // entries older than this are trimmed (MINID ~)
  long long max_len = 0;                   // about this many entries are kept (MAXLEN ~)
};

// Messages taken in one round trip. The views point into replies owned by the batch.
struct TakenBatch {
  std::vector<std::string_view> messages;
  // Streams: the entry ids (same order as messages) and how often each was delivered (1 on the
  // first delivery). Empty for lists, whose redeliveries are counted in K:deliveries instead.
  std::vector<std::string_view> ids;
  std::vector<int64_t> deliveries;
  // Streams: per message, why it cannot be handed to handlers ("" when it can): its entry was
  // deleted before it was acknowledged, or has no "message" field. The worker dead-letters such a
  // message with this reason. Empty when every message can be handed over.
  std::vector<std::string> refusals;
  Reply reply;
  std::vector<Reply> more_replies;  // further replies the views point into
  int lane = 0;                     // lists: the in-flight list (lane) holding the batch
  void clear() {
    messages.clear();
    ids.clear();
    deliveries.clear();
    refusals.clear();
    reply.reset();
    more_replies.clear();
    lane = 0;
  }
};

// What to write when a batch is acknowledged, atomically with the ack.
struct AckWrites {
  std::vector<std::string> dead_letters;                 // encoded K:dead elements
  std::vector<std::pair<int64_t, std::string>> retries;  // (due unix ms, encoded member)
  void clear() {
    dead_letters.clear();
    retries.clear();
  }
};

class Source {
 public:
  virtual ~Source() = default;
  // Runs once before the first take (and again after a reconnect if it failed): lists return the
  // in-flight lists a crashed predecessor left; streams create the consumer group.
  virtual Status start(int max_deliveries, const std::string& source_name) = 0;
  // Takes up to max messages; blocks up to block when none is ready. Empty batch: none arrived.
  virtual Status take(int max, std::chrono::milliseconds block, TakenBatch* batch) = 0;
  // Acknowledges the whole batch together with writes, atomically. *owned is false when the
  // batch is no longer this consumer's (reclaimed or claimed by another consumer meanwhile, a
  // lost lease, or an earlier ack of it went through): then nothing was written.
  virtual Status ack(const TakenBatch& batch, const AckWrites& writes, bool* owned) = 0;
  // Called after a take whose reply was lost with the connection (also a prefetched one).
  virtual Status after_lost_take(const std::string& source_name) = 0;

  // Pipelining (a source that does not pipeline keeps these defaults). prefetch() sends, without
  // waiting for its reply, what takes up to max messages after `batch`, so that Redis works on
  // it while `batch` is handled. ack_and_take() then acks `batch` as ack() does and sets *next
  // to the batch taken ahead, fenced as take() fences a batch (empty: call take() as usual).
  // On an error status the batch taken ahead is unknown: call after_lost_take() once the ack
  // went through. release() gives a batch taken ahead back unhandled (shutdown).
  virtual Status prefetch(const TakenBatch& batch, int max) {
    (void)batch;
    (void)max;
    return Status::ok();
  }
  virtual Status ack_and_take(const TakenBatch& batch, const AckWrites& writes, bool* owned,
                              TakenBatch* next) {
    next->clear();
    return ack(batch, writes, owned);
  }
  virtual Status release(const TakenBatch& next) {
    (void)next;
    return Status::ok();
  }
  virtual const SourceKeys& keys() const = 0;
  // Where a taken batch waits for its ack (for log messages).
  virtual std::string describe_inflight() const = 0;
  // Every ack from now on also archives the batch's messages (K:archive) when archive.on.
  void set_archive(const ArchiveSettings& archive) { archive_ = archive; }

 protected:
  ArchiveSettings archive_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_SOURCE_H_
