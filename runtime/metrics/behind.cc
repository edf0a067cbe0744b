// behind.cc: sliding-window rates, the drain ETA and histogram quantiles.
#include "metrics/behind.h"

#include <cmath>
#include <cstdio>
#include <limits>

namespace switchyard {

void RateWindow::add(int64_t at_ms, uint64_t counter, double gauge) {
  if (!samples_.empty() && at_ms < samples_.back().at_ms) return;
  if (!samples_.empty() && counter < samples_.back().counter) samples_.clear();
  samples_.push_back({at_ms, counter, gauge});
  while (samples_.size() > 2 && samples_.front().at_ms < at_ms - span_ms_) samples_.pop_front();
}

const RateWindow::Sample* RateWindow::window_start(int64_t window_ms) const {
  if (samples_.size() < 2) return nullptr;
  const int64_t from = samples_.back().at_ms - window_ms;
  for (const Sample& s : samples_)
    if (s.at_ms >= from) return &s == &samples_.back() ? nullptr : &s;
  return nullptr;
}

double RateWindow::counter_rate(int64_t window_ms) const {
  const Sample* start = window_start(window_ms);
  if (start == nullptr || samples_.back().at_ms == start->at_ms) return 0;
  return static_cast<double>(samples_.back().counter - start->counter) * 1000.0 /
         static_cast<double>(samples_.back().at_ms - start->at_ms);
}

double RateWindow::gauge_slope(int64_t window_ms) const {
  const Sample* start = window_start(window_ms);
  if (start == nullptr || samples_.back().at_ms == start->at_ms) return 0;
  return (samples_.back().gauge - start->gauge) * 1000.0 /
         static_cast<double>(samples_.back().at_ms - start->at_ms);
}

double RateWindow::fall_since_peak(int64_t window_ms) const {
  if (samples_.empty()) return 0;
  const int64_t from = samples_.back().at_ms - window_ms;
  const Sample* peak = nullptr;
  for (const Sample& s : samples_)
    if (s.at_ms >= from && (peak == nullptr || s.gauge >= peak->gauge)) peak = &s;
  if (peak == nullptr || peak == &samples_.back() || peak->at_ms == samples_.back().at_ms) return 0;
  return (peak->gauge - samples_.back().gauge) * 1000.0 /
         static_cast<double>(samples_.back().at_ms - peak->at_ms);
}

double drain_eta_seconds(double pending, double in_rate, double out_rate) {
  if (pending <= 0) return 0;
  const double net = out_rate - in_rate;
  if (!(net > 1e-9)) return std::numeric_limits<double>::infinity();
  return pending / net;
}

double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<uint64_t>& cumulative, uint64_t count) {
  if (count == 0 || bounds.empty() || bounds.size() != cumulative.size())
    return std::numeric_limits<double>::quiet_NaN();
  const double rank = q * static_cast<double>(count);
  uint64_t below = 0;
  double lower = 0;
  for (size_t i = 0; i < bounds.size(); ++i) {
    if (static_cast<double>(cumulative[i]) >= rank && cumulative[i] > below) {
      const double in_bucket = static_cast<double>(cumulative[i] - below);
      return lower + (bounds[i] - lower) * (rank - static_cast<double>(below)) / in_bucket;
    }
    below = cumulative[i];
    lower = bounds[i];
  }
  return bounds.back();
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

}  // namespace switchyard
