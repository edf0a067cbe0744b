// dispatcher.h: what a worker does with messages once it holds them, without talking to Redis:
// decodes, checks contracts, routes, hands them to their handlers, and turns every handler's
// answer (decide_disposition) into what the worker then writes: the dead letters and retries of
// a batch's ack, or the settlements of leased retries. When a batch goes to several handlers
// (and its source's handlers_at_once is on), their calls run at once, each on its own lane
// thread (dispatch/call_lanes.h); everything else runs on the worker's thread.
// Thread safety: one Dispatcher per worker thread; not thread-safe.
#ifndef SWITCHYARD_DISPATCH_DISPATCHER_H_
#define SWITCHYARD_DISPATCH_DISPATCHER_H_

#include <algorithm>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "dispatch/call_lanes.h"
#include "dispatch/dedup.h"
#include "dispatch/disposition.h"
#include "dispatch/handler_watchdog.h"
#include "dispatch/pace.h"
#include "dispatch/pipeline.h"
#include "dispatch/tap.h"
#include "envelope/envelope.h"
#include "metrics/metrics.h"
#include "records/dead_letter.h"
#include "source/retry_schedule.h"
#include "source/source.h"
#include "switchyard/plugin.h"

namespace switchyard {

struct LogFields;

class Dispatcher {
 public:
  // source: the source the messages come from (its name, max_deliveries, format and queue);
  // instance: host:pid, written into dead letters; metrics: outlives the Dispatcher; now_ms: the
  // clock retries are scheduled by (unix ms by Redis's clock).
  Dispatcher(SourceConfig source, std::string instance, Metrics* metrics,
             std::function<int64_t()> now_ms);

  // Where one message goes, decided before any handler runs.
  enum class Route {
    kHandlers,    // to the handlers in *handlers
    kDeadLetter,  // to K:dead, with *reason
    kDrop,        // nowhere: no route matches and routes.yaml says unrouted: drop
  };

  // Decides where `message` goes: a refusal by its source (refusal, non-empty), more deliveries
  // than max_deliveries (deliveries; 0 when the source does not count them), decoding (by the
  // source's format and the pipeline's limits:), the event's contract, then its routes
  // (route_event). *envelope receives the decoded envelope (views into message or the decoder's
  // buffer, valid until the next call; event empty when it did not decode); *handlers the handler
  // indexes (into pipeline.handlers, and config->handlers); *reason and *attempts what the dead
  // letter records. Calls no handler and touches no Redis: `switchyard test` runs it as the
  // daemon does. pipeline need not have its handlers loaded.
  Route route(const Pipeline& pipeline, std::string_view message, std::string_view refusal,
              int64_t deliveries, Envelope* envelope, std::vector<int>* handlers,
              std::string* reason, int* attempts);
  // The routing part alone, for a decoded event within its contract: kHandlers with *handlers,
  // or, when no route matches, kDeadLetter with *reason or kDrop as routes.yaml's unrouted: says.
  static Route route_event(const Pipeline& pipeline, std::string_view event,
                           std::vector<int>* handlers, std::string* reason);

  // Samples what dispatch() does for `switchyard tap` while someone taps this source (tap may be
  // nullptr: never). tap outlives the Dispatcher.
  void set_tap(Tap* tap) {
    tap_ = tap;
    tap_channel_ = tap ? tap->channel(source_.name) : nullptr;
  }
  // Records every handler call in a CallWatch of watchdog (the stuck-handler watchdog): one for
  // this worker's thread, added now, and one per lane thread, added when the lane starts. null:
  // not watched. Call it before the first dispatch; watchdog must outlive the Dispatcher.
  void set_watchdog(HandlerWatchdog* watchdog);
  // The handlers paused for this source (sorted): not called; their deliveries are parked in
  // K:retry (dispatch/pause.h) without counting an attempt.
  void set_paused_handlers(std::vector<std::string> names) { paused_ = std::move(names); }
  // Pace and dedup (README "Pace and dedup"): pacer takes handlers' max_rate tokens and
  // max_in_flight call slots, dedup remembers their dedup keys. Either may be nullptr: those
  // features are off. Both outlive the Dispatcher and use this worker's connection.
  void set_pace(Pacer* pacer, DedupStore* dedup) {
    pacer_ = pacer;
    dedup_ = dedup;
  }

  // Hands `batch` to the handlers `pipeline` routes it to. *writes is cleared, then receives
  // what the batch's ack must write: a dead letter per message that reaches no handler or that
  // a handler rejected or gave up on, a retry per message a handler will run again.
  void dispatch(const Pipeline& pipeline, const TakenBatch& batch, AckWrites* writes);

  // Runs leased retries on their handlers; (*settlements)[i] (resized to leased.size()) says how
  // leased[i] ends. An entry that cannot run (malformed, over max_deliveries, its handler gone,
  // no longer decodable or within its contract) is dead-lettered; retry_key names K:retry in
  // that dead letter's reason.
  void run_retries(const Pipeline& pipeline, const std::vector<LeasedRetry>& leased,
                   const std::string& retry_key, std::vector<RetrySettlement>* settlements);

 private:
  // One handler's call for a batch (or for leased retries) and what became of it.
  struct HandlerCall {
    int handler = 0;                 // index into pipeline.handlers and config.handlers
    std::vector<sy_event>* events;   // what screen() kept for it
    std::vector<size_t>* ids;        // parallel to *events: batch (or leased) indexes
    std::vector<std::string> marks;  // screen()'s dedup keys, parallel to *events
    std::string slot;                // screen()'s call slot ("" when none)
    std::vector<sy_outcome> outcomes;
    Status flushed;
    double seconds = 0;        // how long handle_batch + flush took
    std::exception_ptr error;  // what escaped the call on its lane, rethrown by run_calls
    std::vector<Disposition> dispositions;  // parallel to *events
  };
  // Adds a call of handler h for *events (parallel *ids) to calls_, with screen()'s marks and
  // slot; reuses the storage of earlier batches.
  void add_call(int h, std::vector<sy_event>* events, std::vector<size_t>* ids);
  // Runs calls_ (call_handler): at once on lanes_ when there are several and the source's
  // handlers_at_once is on, else one after the other; then, on this thread, decides what becomes
  // of each event (decide_disposition, into each call's dispositions), counts and logs the
  // outcomes, and gives back each call's slot and dedup marks (after_call). Rethrows what
  // escaped a call.
  void run_calls(const Pipeline& pipeline);
  // Calls handle_batch then flush for one call, on any thread: touches only the call, the handler
  // (serialised by HandlerInstance) and watch (this thread's; may be null). Never throws: an
  // exception is kept in call->error.
  void call_handler(HandlerInstance& handler, const HandlerConfig& config, HandlerCall* call,
                    CallWatch* watch, const LogFields& outer) const noexcept;
  // Dead-letters a message that reaches no handler (refused by its source, over max_deliveries,
  // undecodable, against its contract, unrouted) with the batch's ack: logs it (with its event
  // when known), adds the record to *writes and counts it.
  void dead_letter_unrouted(std::string_view message, std::string_view event,
                            const std::string& reason, int attempts, AckWrites* writes);
  // Screens the deliveries bound for one handler before its call: removes from *events (and the
  // parallel *ids) the duplicates its dedup: already saw (into *duplicates), those beyond the
  // tokens of its max_rate, and all of them when its max_in_flight slots are all held (into
  // *deferred, with the due time at which each may run). marks_[k] then holds the dedup Redis
  // key of (*events)[k] ("" when none), and slot_ the call slot taken ("" when none), for
  // after_call.
  void screen(const HandlerConfig& config, std::vector<sy_event>* events, std::vector<size_t>* ids,
              std::vector<size_t>* duplicates, std::vector<std::pair<size_t, int64_t>>* deferred);
  // After the call: gives back its call slot and remembers the dedup keys (marks) of the
  // deliveries that ended done.
  void after_call(const HandlerConfig& config, HandlerCall* call);
  bool is_paused(const std::string& handler) const {
    return !paused_.empty() && std::binary_search(paused_.begin(), paused_.end(), handler);
  }
  DeadLetter letter(std::string_view message, const std::string* handler, std::string reason,
                    int attempts) const;

  SourceConfig source_;
  std::string instance_;
  Metrics* metrics_;
  std::function<int64_t()> now_ms_;
  HandlerWatchdog* watchdog_ = nullptr;
  std::vector<CallWatch*> watches_;  // watches_[lane]: that lane's (0: this worker's thread)
  std::vector<std::string> paused_;
  Pacer* pacer_ = nullptr;
  DedupStore* dedup_ = nullptr;
  std::string slot_;         // the call slot held for the current call ("" when none)
  uint64_t slot_calls_ = 0;  // makes each call's slot holder name unique
  DedupKeyReader dedup_reader_;
  std::vector<std::string> marks_;  // see screen()
  std::vector<size_t> duplicates_;
  std::vector<std::pair<size_t, int64_t>> deferred_;

  // Reused per batch: no per-message allocation in steady state.
  EnvelopeDecoder decoder_;
  std::vector<int> matched_;
  std::vector<std::vector<sy_event>> events_by_handler_;
  std::vector<std::vector<size_t>> messages_by_handler_;
  std::vector<HandlerCall> calls_;  // the first call_count_ are this batch's
  size_t call_count_ = 0;
  CallLanes lanes_;
  std::mt19937_64 rng_{std::random_device{}()};  // the jitter of retry delays
  std::deque<std::string> unescaped_names_;

  // `switchyard tap`: what became of each message of a batch, kept only while someone taps.
  struct TapSample {
    std::string event;
    std::vector<int> handlers;
    std::string_view outcome = "ok";
    std::string reason;
  };
  Tap* tap_ = nullptr;
  TapChannel* tap_channel_ = nullptr;
  std::vector<TapSample> tap_samples_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_DISPATCH_DISPATCHER_H_
