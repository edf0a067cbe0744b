// metrics.cc: counter bookkeeping and Prometheus text rendering.
#include "metrics/metrics.h"

#include <cmath>
#include <sstream>

namespace switchyard {

void Metrics::add_received(const std::string& source, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  received_[source] += count;
}

void Metrics::add_handled(const std::string& handler, std::string_view outcome, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  handled_[{handler, std::string(outcome)}] += count;
}

void Metrics::add_dead_lettered(const std::string& source, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  dead_before_routing_[source] += count;
}

void Metrics::add_dead_letters_trimmed(const std::string& source, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  dead_trimmed_[source] += count;
}

void Metrics::observe_handler_seconds(const std::string& handler, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  Histogram& h = durations_[handler];
  for (size_t i = 0; i < kBuckets.size(); ++i)
    if (seconds <= kBuckets[i]) ++h.buckets[i];
  ++h.count;
  h.sum += seconds;
}

void Metrics::add_source_healed(const std::string& source, std::string_view what, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  healed_[{source, std::string(what)}] += count;
}

void Metrics::add_reload(std::string_view result) {
  std::lock_guard<std::mutex> lock(mutex_);
  reloads_[std::string(result)] += 1;
}

void Metrics::set_behind(const std::string& source, const SourceBehind& behind) {
  std::lock_guard<std::mutex> lock(mutex_);
  behind_[source] = behind;
}

void Metrics::set_backfills(const std::string& source,
                            std::map<std::string, BackfillProgress> handlers) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (handlers.empty())
    backfills_.erase(source);
  else
    backfills_[source] = std::move(handlers);
}

uint64_t Metrics::received(const std::string& source) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = received_.find(source);
  return it == received_.end() ? 0 : it->second;
}

std::map<std::string, Metrics::HandlerTotals> Metrics::handler_totals() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<std::string, HandlerTotals> out;
  for (const auto& [handler, h] : durations_) {
    if (!shown(handler)) continue;
    out[handler].buckets.assign(h.buckets.begin(), h.buckets.end());
    out[handler].calls = h.count;
  }
  for (const auto& [key, n] : handled_)
    if (shown(key.first)) out[key.first].handled[key.second] = n;
  for (auto& [handler, t] : out)
    if (t.buckets.empty()) t.buckets.assign(kBuckets.size(), 0);
  return out;
}

// A gauge value in the text format: +Inf for infinity, NaN for unknown.
static std::string gauge_value(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  std::ostringstream out;
  out << v;
  return out.str();
}

void Metrics::set_handlers(const std::vector<std::string>& handlers) {
  std::lock_guard<std::mutex> lock(mutex_);
  handlers_known_ = true;
  handlers_ = std::set<std::string>(handlers.begin(), handlers.end());
  auto drop = [this](auto& series, auto handler_of) {
    for (auto it = series.begin(); it != series.end();)
      it = handlers_.count(handler_of(*it)) ? std::next(it) : series.erase(it);
  };
  auto first = [](const auto& entry) -> const std::string& { return entry.first; };
  auto first_of_key = [](const auto& entry) -> const std::string& { return entry.first.first; };
  drop(handled_, first_of_key);
  drop(durations_, first);
  drop(handler_timeouts_, first);
  drop(parked_, first);
  for (auto it = paused_.begin(); it != paused_.end();)
    it = it->first.first != "handler" || handlers_.count(it->first.second) ? std::next(it)
                                                                           : paused_.erase(it);
  for (auto it = handler_stuck_.begin(); it != handler_stuck_.end();)
    it = it->second || handlers_.count(it->first) ? std::next(it) : handler_stuck_.erase(it);
  for (const std::string& h : handlers_) {
    handler_timeouts_.try_emplace(h, 0);
    handler_stuck_.try_emplace(h, false);
  }
}

void Metrics::add_handler_timeout(const std::string& handler) {
  std::lock_guard<std::mutex> lock(mutex_);
  handler_timeouts_[handler] += 1;
}

void Metrics::set_handler_stuck(const std::string& handler, bool stuck) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stuck || shown(handler))
    handler_stuck_[handler] = stuck;
  else
    handler_stuck_.erase(handler);  // removed by a reload while stuck: gone once it returns
}

void Metrics::set_paused(std::string_view label, const std::string& name, bool paused) {
  std::lock_guard<std::mutex> lock(mutex_);
  paused_[{std::string(label), name}] = paused;
}

void Metrics::add_paused_wait(const std::string& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  paused_waits_[source] += 1;
}

void Metrics::add_parked(const std::string& handler, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  parked_[handler] += count;
}

void Metrics::add_source_rate_limited_seconds(const std::string& source, double seconds) {
  std::lock_guard<std::mutex> lock(mutex_);
  source_rate_waits_[source] += seconds;
}

void Metrics::add_rate_limited(const std::string& handler, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  pace_[handler][0] += count;
}

void Metrics::add_in_flight_wait(const std::string& handler, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  pace_[handler][1] += count;
}

void Metrics::add_deduplicated(const std::string& handler, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  pace_[handler][2] += count;
}

void Metrics::add_dedup_unkeyed(const std::string& handler, uint64_t count) {
  std::lock_guard<std::mutex> lock(mutex_);
  pace_[handler][3] += count;
}

std::string Metrics::escape_label(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void Metrics::render_backfills(std::ostream& out) const {
  if (backfills_.empty()) return;
  struct Series {
    const char* name;
    const char* type;
    const char* help;
    double (*value)(const BackfillProgress&);
  };
  static const Series kSeries[] = {
      {"switchyard_backfill_sent_total", "counter",
       "Archived messages a backfill or replay enqueued for the handler, every run together.",
       [](const BackfillProgress& b) { return static_cast<double>(b.sent_all); }},
      {"switchyard_backfill_scanned_total", "counter",
       "Archive entries a backfill or replay of the handler read, every run together.",
       [](const BackfillProgress& b) { return static_cast<double>(b.scanned_all); }},
      {"switchyard_backfill_progress", "gauge",
       "Share of the latest run's time range copied, 0 to 1.",
       [](const BackfillProgress& b) { return b.progress; }},
      {"switchyard_backfill_done", "gauge", "1 once the latest run finished its range.",
       [](const BackfillProgress& b) { return b.done ? 1.0 : 0.0; }},
      {"switchyard_backfill_eta_seconds", "gauge",
       "Seconds until the latest run is done at its pace so far (0: done, NaN: unknown).",
       [](const BackfillProgress& b) { return b.eta_seconds; }},
  };
  for (const Series& series : kSeries) {
    out << "# HELP " << series.name << " " << series.help << "\n# TYPE " << series.name << " "
        << series.type << "\n";
    for (const auto& [source, handlers] : backfills_)
      for (const auto& [handler, b] : handlers)
        if (shown(handler))
          out << series.name << "{source=\"" << escape_label(source) << "\",handler=\""
              << escape_label(handler) << "\"} "
              << (series.type[0] == 'c' ? std::to_string(static_cast<uint64_t>(series.value(b)))
                                        : gauge_value(series.value(b)))
              << "\n";
  }
}

std::string Metrics::render() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::ostringstream out;
  out << "# HELP switchyard_events_received_total Messages taken from a source.\n"
         "# TYPE switchyard_events_received_total counter\n";
  for (const auto& [source, n] : received_)
    out << "switchyard_events_received_total{source=\"" << escape_label(source) << "\"} " << n
        << "\n";
  out << "# HELP switchyard_events_handled_total Messages answered by a handler, by outcome.\n"
         "# TYPE switchyard_events_handled_total counter\n";
  for (const auto& [key, n] : handled_)
    if (shown(key.first))
      out << "switchyard_events_handled_total{handler=\"" << escape_label(key.first)
          << "\",outcome=\"" << escape_label(key.second) << "\"} " << n << "\n";
  out << "# HELP switchyard_dead_letters_unrouted_total Messages dead-lettered before any "
         "handler (invalid, unrouted).\n"
         "# TYPE switchyard_dead_letters_unrouted_total counter\n";
  for (const auto& [source, n] : dead_before_routing_)
    out << "switchyard_dead_letters_unrouted_total{source=\"" << escape_label(source) << "\"} " << n
        << "\n";
  out << "# HELP switchyard_dead_letters_trimmed_total Oldest dead letters dropped to keep K:dead "
         "at the source's dead_letter_max.\n"
         "# TYPE switchyard_dead_letters_trimmed_total counter\n";
  for (const auto& [source, n] : dead_trimmed_)
    out << "switchyard_dead_letters_trimmed_total{source=\"" << escape_label(source) << "\"} " << n
        << "\n";
  out << "# HELP switchyard_handler_duration_seconds Wall time of one handle_batch call.\n"
         "# TYPE switchyard_handler_duration_seconds histogram\n";
  for (const auto& [handler, h] : durations_) {
    if (!shown(handler)) continue;
    std::string label = escape_label(handler);
    for (size_t i = 0; i < kBuckets.size(); ++i)
      out << "switchyard_handler_duration_seconds_bucket{handler=\"" << label << "\",le=\""
          << kBuckets[i] << "\"} " << h.buckets[i] << "\n";
    out << "switchyard_handler_duration_seconds_bucket{handler=\"" << label << "\",le=\"+Inf\"} "
        << h.count << "\n";
    out << "switchyard_handler_duration_seconds_sum{handler=\"" << label << "\"} " << h.sum << "\n";
    out << "switchyard_handler_duration_seconds_count{handler=\"" << label << "\"} " << h.count
        << "\n";
  }
  out << "# HELP switchyard_config_reloads_total Reloads of routes.yaml, by result.\n"
         "# TYPE switchyard_config_reloads_total counter\n";
  for (const char* result : {"success", "partial", "failure"}) {
    auto it = reloads_.find(result);
    out << "switchyard_config_reloads_total{result=\"" << result << "\"} "
        << (it == reloads_.end() ? 0 : it->second) << "\n";
  }
  out << "# HELP switchyard_source_healed_total Redis state a source found and healed "
         "(group_recreated, entry_deleted).\n"
         "# TYPE switchyard_source_healed_total counter\n";
  for (const auto& [key, n] : healed_)
    out << "switchyard_source_healed_total{source=\"" << escape_label(key.first) << "\",what=\""
        << escape_label(key.second) << "\"} " << n << "\n";
  if (!behind_.empty()) {
    out << "# HELP switchyard_source_oldest_age_seconds Age of the oldest message not yet taken "
           "(0 when none waits).\n"
           "# TYPE switchyard_source_oldest_age_seconds gauge\n";
    for (const auto& [source, b] : behind_)
      out << "switchyard_source_oldest_age_seconds{source=\"" << escape_label(source) << "\"} "
          << gauge_value(b.oldest_age_seconds) << "\n";
    out << "# HELP switchyard_source_in_rate Messages/s arriving (all producers), by window.\n"
           "# TYPE switchyard_source_in_rate gauge\n";
    for (const auto& [source, b] : behind_)
      out << "switchyard_source_in_rate{source=\"" << escape_label(source) << "\",window=\"1m\"} "
          << gauge_value(b.in_rate_1m) << "\n"
          << "switchyard_source_in_rate{source=\"" << escape_label(source) << "\",window=\"5m\"} "
          << gauge_value(b.in_rate_5m) << "\n";
    out << "# HELP switchyard_source_out_rate Messages/s taken by every running instance together, "
           "by window.\n"
           "# TYPE switchyard_source_out_rate gauge\n";
    for (const auto& [source, b] : behind_)
      out << "switchyard_source_out_rate{source=\"" << escape_label(source) << "\",window=\"1m\"} "
          << gauge_value(b.out_rate_1m) << "\n"
          << "switchyard_source_out_rate{source=\"" << escape_label(source) << "\",window=\"5m\"} "
          << gauge_value(b.out_rate_5m) << "\n";
    out << "# HELP switchyard_source_drain_eta_seconds Seconds until the pending backlog is gone "
           "at the last minute's rates (+Inf: it does not shrink).\n"
           "# TYPE switchyard_source_drain_eta_seconds gauge\n";
    for (const auto& [source, b] : behind_)
      out << "switchyard_source_drain_eta_seconds{source=\"" << escape_label(source) << "\"} "
          << gauge_value(b.drain_eta_seconds) << "\n";
  }
  out << "# HELP switchyard_handler_timeouts_total Handler calls that ran longer than their "
         "handler_timeout.\n"
         "# TYPE switchyard_handler_timeouts_total counter\n";
  for (const auto& [handler, n] : handler_timeouts_)
    if (shown(handler))
      out << "switchyard_handler_timeouts_total{handler=\"" << escape_label(handler) << "\"} " << n
          << "\n";
  out << "# HELP switchyard_handler_stuck 1 while a call of the handler runs past its "
         "handler_timeout.\n"
         "# TYPE switchyard_handler_stuck gauge\n";
  for (const auto& [handler, stuck] : handler_stuck_)
    if (stuck || shown(handler))
      out << "switchyard_handler_stuck{handler=\"" << escape_label(handler) << "\"} "
          << (stuck ? 1 : 0) << "\n";
  out << "# HELP switchyard_paused 1 while a source or a handler is paused (switchyard pause).\n"
         "# TYPE switchyard_paused gauge\n";
  for (const auto& [key, paused] : paused_)
    if (key.first != "handler" || shown(key.second))
      out << "switchyard_paused{" << key.first << "=\"" << escape_label(key.second) << "\"} "
          << (paused ? 1 : 0) << "\n";
  out << "# HELP switchyard_source_paused_waits_total Times a worker of a paused source looked and "
         "took nothing.\n"
         "# TYPE switchyard_source_paused_waits_total counter\n";
  for (const auto& [source, n] : paused_waits_)
    out << "switchyard_source_paused_waits_total{source=\"" << escape_label(source) << "\"} " << n
        << "\n";
  out << "# HELP switchyard_handler_parked_total Deliveries set aside for a paused handler.\n"
         "# TYPE switchyard_handler_parked_total counter\n";
  for (const auto& [handler, n] : parked_)
    if (shown(handler))
      out << "switchyard_handler_parked_total{handler=\"" << escape_label(handler) << "\"} " << n
          << "\n";
  out << "# HELP switchyard_source_rate_limited_seconds_total Seconds the source's workers waited "
         "for max_rate tokens.\n"
         "# TYPE switchyard_source_rate_limited_seconds_total counter\n";
  for (const auto& [source, seconds] : source_rate_waits_)
    out << "switchyard_source_rate_limited_seconds_total{source=\"" << escape_label(source)
        << "\"} " << seconds << "\n";
  render_backfills(out);
  static const char* const kPace[4][2] = {
      {"switchyard_handler_rate_limited_total",
       "Deliveries beyond the handler's max_rate, sent to wait in K:retry."},
      {"switchyard_handler_in_flight_waits_total",
       "Deliveries sent to wait in K:retry because every max_in_flight slot was held."},
      {"switchyard_handler_deduplicated_total",
       "Deliveries skipped because the handler handled their dedup key within the window."},
      {"switchyard_handler_dedup_unkeyed_total",
       "Deliveries without a string or number at the handler's dedup key, handled anyway."}};
  for (size_t i = 0; i < 4; ++i) {
    out << "# HELP " << kPace[i][0] << " " << kPace[i][1] << "\n# TYPE " << kPace[i][0]
        << " counter\n";
    for (const auto& [handler, counts] : pace_)
      if (shown(handler))
        out << kPace[i][0] << "{handler=\"" << escape_label(handler) << "\"} " << counts[i] << "\n";
  }
  return out.str();
}

}  // namespace switchyard
