// metrics.h: the process's counters and histograms, rendered in the Prometheus text format.
// Thread safety: every member is thread-safe; workers update, the HTTP thread renders.
#ifndef SWITCHYARD_METRICS_METRICS_H_
#define SWITCHYARD_METRICS_METRICS_H_

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <ostream>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard {

class Metrics {
 public:
  // Messages taken from a source (before decoding).
  void add_received(const std::string& source, uint64_t count);
  // Messages a handler answered, by outcome: ok | retry | reject | dead_letter (gave up).
  void add_handled(const std::string& handler, std::string_view outcome, uint64_t count);
  // Messages dead-lettered before reaching a handler (decode errors, no route).
  void add_dead_lettered(const std::string& source, uint64_t count);
  // Dead letters the daemon trimmed from the head of K:dead (the oldest) to keep it at the
  // source's dead_letter_max.
  void add_dead_letters_trimmed(const std::string& source, uint64_t count);
  // One handle_batch call's wall time.
  void observe_handler_seconds(const std::string& handler, double seconds);
  // Redis state a source found and healed, by what: group_recreated (a stream's consumer group
  // was gone), entry_deleted (a stream entry deleted before its ack, dead-lettered).
  void add_source_healed(const std::string& source, std::string_view what, uint64_t count);
  // A reload attempt: result "success", "partial" (applied, but some settings need a restart)
  // or "failure".
  void add_reload(std::string_view result);
  // The handlers of the running config (at start and after each reload): each gets its timeouts
  // counter and stuck gauge at 0 at once, and every series labelled with a handler not in
  // `handlers` is dropped (counts that arrive for it later, from a batch still finishing, are not
  // rendered), except a stuck gauge at 1: it stays until that call returns.
  void set_handlers(const std::vector<std::string>& handlers);
  // Stuck-handler watchdog: a call that ran past its handler_timeout counts once
  // (add_handler_timeout), and the gauge is 1 while such a call is still running
  // (set_handler_stuck).
  void add_handler_timeout(const std::string& handler);
  void set_handler_stuck(const std::string& handler, bool stuck);
  // Pause and resume: switchyard_paused{source} or {handler} is 1 while paused; a worker of a
  // paused source counts each look that took nothing (about ten a second); a paused handler counts
  // the deliveries parked for it instead of a call.
  void set_paused(std::string_view label, const std::string& name, bool paused);
  void add_paused_wait(const std::string& source);
  void add_parked(const std::string& handler, uint64_t count);
  // Pace and dedup: seconds a source's workers waited for max_rate tokens; deliveries a handler's
  // max_rate sent to K:retry to wait for tokens; deliveries sent there because every
  // max_in_flight slot was held; deliveries skipped as duplicates; deliveries without a usable
  // dedup key (handled anyway).
  void add_source_rate_limited_seconds(const std::string& source, double seconds);
  void add_rate_limited(const std::string& handler, uint64_t count);
  void add_in_flight_wait(const std::string& handler, uint64_t count);
  void add_deduplicated(const std::string& handler, uint64_t count);
  void add_dedup_unkeyed(const std::string& handler, uint64_t count);

  // How far behind a source is (README "How far behind"), set by the daemon's sampler every few
  // seconds and rendered as the switchyard_source_* gauges. drain_eta_seconds may be +infinity.
  struct SourceBehind {
    double oldest_age_seconds = 0;
    double in_rate_1m = 0, in_rate_5m = 0, out_rate_1m = 0, out_rate_5m = 0;
    double drain_eta_seconds = 0;
  };
  void set_behind(const std::string& source, const SourceBehind& behind);
  // A backfill or replay of one handler from one source's archive (README "History: archive,
  // backfill, replay"), as its cursor in Redis says, set by the daemon's sampler with every
  // cursor of the source at once (a cursor not in the set is dropped). Every instance reads and
  // renders the same figures. eta_seconds is NaN when unknown, 0 when done.
  struct BackfillProgress {
    uint64_t scanned_all = 0, sent_all = 0;  // every run together
    double progress = 0;                     // the latest run, 0..1
    bool done = false;
    double eta_seconds = 0;
  };
  void set_backfills(const std::string& source, std::map<std::string, BackfillProgress> handlers);
  // Messages taken from `source` so far (the received counter).
  uint64_t received(const std::string& source) const;
  // One handler's counters: cumulative duration buckets (bounds: duration_bounds()), calls, and
  // answered messages by outcome.
  struct HandlerTotals {
    std::vector<uint64_t> buckets;
    uint64_t calls = 0;
    std::map<std::string, uint64_t> handled;
  };
  std::map<std::string, HandlerTotals> handler_totals() const;
  // The upper bounds of switchyard_handler_duration_seconds' buckets (seconds, ascending).
  static std::vector<double> duration_bounds() { return {kBuckets.begin(), kBuckets.end()}; }

  // The counters and histograms as Prometheus text exposition (format 0.0.4).
  std::string render() const;

  // Escapes a label value for the text format (\, " and newline).
  static std::string escape_label(std::string_view value);

 private:
  static constexpr std::array<double, 14> kBuckets = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> buckets{};
    uint64_t count = 0;
    double sum = 0;
  };

  // The switchyard_backfill_* series (under mutex_).
  void render_backfills(std::ostream& out) const;
  // A series labelled with handler h is rendered (under mutex_).
  bool shown(const std::string& handler) const {
    return !handlers_known_ || handlers_.count(handler) > 0;
  }

  mutable std::mutex mutex_;
  bool handlers_known_ = false;  // set_handlers was called
  std::set<std::string> handlers_;
  std::map<std::string, uint64_t> received_;                         // source
  std::map<std::pair<std::string, std::string>, uint64_t> handled_;  // handler, outcome
  std::map<std::string, uint64_t> dead_before_routing_;              // source
  std::map<std::string, uint64_t> dead_trimmed_;                     // source
  std::map<std::string, Histogram> durations_;                       // handler
  std::map<std::string, uint64_t> reloads_;                          // result
  std::map<std::pair<std::string, std::string>, uint64_t> healed_;   // source, what
  std::map<std::string, SourceBehind> behind_;                       // source
  std::map<std::string, uint64_t> handler_timeouts_;                 // handler
  std::map<std::string, bool> handler_stuck_;                        // handler
  std::map<std::pair<std::string, std::string>, bool> paused_;       // label (source|handler), name
  std::map<std::string, uint64_t> paused_waits_;                     // source
  std::map<std::string, uint64_t> parked_;                           // handler
  std::map<std::string, double> source_rate_waits_;                  // source
  // handler -> rate limited, in-flight waits, deduplicated, unkeyed
  std::map<std::string, std::array<uint64_t, 4>> pace_;
  // source -> handler -> its backfill's progress
  std::map<std::string, std::map<std::string, BackfillProgress>> backfills_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_METRICS_METRICS_H_
