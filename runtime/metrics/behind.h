// behind.h: how far behind a source is, as pure computations: rates over sliding windows of
// counter samples, the drain ETA, and quantiles of a cumulative histogram.
// Thread safety: RateWindow is not thread-safe (one owner); the free functions are pure.
#ifndef SWITCHYARD_METRICS_BEHIND_H_
#define SWITCHYARD_METRICS_BEHIND_H_

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

namespace switchyard {

// Samples of one monotonic counter (and one gauge) over time, kept for the longest window.
class RateWindow {
 public:
  // Keeps samples for `span_ms` (the longest window asked for later).
  explicit RateWindow(int64_t span_ms = 300000) : span_ms_(span_ms) {}
  // Records counter and gauge at at_ms (non-decreasing times; an older time is ignored). A counter
  // below the previous sample (a restart) starts the window afresh.
  void add(int64_t at_ms, uint64_t counter, double gauge);
  // The counter's increase per second over the last window_ms (or over what is kept, when less);
  // 0 with fewer than two samples.
  double counter_rate(int64_t window_ms) const;
  // The gauge's change per second over the same span (negative while it falls).
  double gauge_slope(int64_t window_ms) const;
  // How fast the gauge fell since its peak in the last window_ms (per second, >= 0): from the
  // latest sample holding the highest value to the last one. 0 when the peak is the last sample
  // (it holds or grows). For a backlog this is the net drain rate of what is there now: a burst
  // that arrived at once does not count as a steady arrival rate, as it would in a window's slope.
  double fall_since_peak(int64_t window_ms) const;

 private:
  struct Sample {
    int64_t at_ms;
    uint64_t counter;
    double gauge;
  };
  const Sample* window_start(int64_t window_ms) const;
  int64_t span_ms_;
  std::deque<Sample> samples_;
};

// Seconds until `pending` messages are gone when they arrive at in_rate and leave at out_rate
// (messages/s): 0 when nothing is pending, pending / (out_rate - in_rate) while the backlog
// shrinks, and +infinity when it does not shrink (it grows, holds, or nothing is taken).
double drain_eta_seconds(double pending, double in_rate, double out_rate);

// The q-quantile (0..1) of a histogram with cumulative bucket counts `cumulative` for the upper
// bounds `bounds` (ascending, same size) and `count` observations in all, interpolated linearly
// inside the bucket as Prometheus' histogram_quantile does. Observations above the last bound
// report that bound. NaN when count is 0.
double histogram_quantile(double q, const std::vector<double>& bounds,
                          const std::vector<uint64_t>& cumulative, uint64_t count);

// A figure as JSON text ("%.6g"): null for infinity (a never-draining ETA) and NaN (no data), which
// JSON cannot spell.
std::string json_number(double v);

}  // namespace switchyard

#endif  // SWITCHYARD_METRICS_BEHIND_H_
