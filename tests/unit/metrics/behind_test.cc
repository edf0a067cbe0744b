// behind_test.cc: sliding-window rates, the drain ETA and histogram quantiles (metrics/behind.h),
// on a fake clock: every time is given explicitly.
#include "metrics/behind.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "metrics/metrics.h"

namespace switchyard {
namespace {

TEST(RateWindowTest, RatesCoverTheAskedWindowOnly) {
  RateWindow window(300000);
  EXPECT_EQ(window.counter_rate(60000), 0.0);  // no sample
  window.add(0, 0, 1000);
  EXPECT_EQ(window.counter_rate(60000), 0.0);  // one sample
  // 10/s for the first 4 minutes, then 50/s for 1 minute; pending falls 5/s in the last minute.
  for (int64_t t = 2000; t <= 240000; t += 2000) window.add(t, t / 100, 1000);
  for (int64_t t = 242000; t <= 300000; t += 2000)
    window.add(t, 2400 + (t - 240000) / 20, 1000 - (t - 240000) / 200.0);
  EXPECT_NEAR(window.counter_rate(60000), 50.0, 1e-9);
  EXPECT_NEAR(window.counter_rate(300000), (2400 + 3000) / 300.0, 1e-9);
  EXPECT_NEAR(window.gauge_slope(60000), -5.0, 1e-9);
  // With less history than the window, the rate covers what is kept.
  RateWindow young;
  young.add(1000, 0, 0);
  young.add(11000, 100, 0);
  EXPECT_NEAR(young.counter_rate(60000), 10.0, 1e-9);
}

TEST(RateWindowTest, ACounterResetStartsAfreshAndOldTimesAreIgnored) {
  RateWindow window;
  window.add(0, 500, 0);
  window.add(10000, 600, 0);
  window.add(20000, 3, 0);  // the process restarted
  EXPECT_EQ(window.counter_rate(60000), 0.0);
  window.add(30000, 103, 0);
  EXPECT_NEAR(window.counter_rate(60000), 10.0, 1e-9);
  window.add(25000, 0, 0);  // from the past: ignored
  EXPECT_NEAR(window.counter_rate(60000), 10.0, 1e-9);
}

TEST(RateWindowTest, TheFallSinceThePeakIgnoresHowTheBacklogArrived) {
  RateWindow window;
  EXPECT_EQ(window.fall_since_peak(60000), 0.0);
  window.add(0, 0, 0);
  window.add(2000, 100, 3000);  // a burst of 3000 arrived, 100 of them already taken
  EXPECT_EQ(window.fall_since_peak(60000), 0.0);  // at its peak: not falling
  window.add(4000, 1100, 2000);
  window.add(6000, 2100, 1000);
  EXPECT_NEAR(window.fall_since_peak(60000), 500.0, 1e-9);  // 2000 in 4 s
  EXPECT_GT(window.gauge_slope(60000), 0.0);  // the minute's slope still counts the burst
  window.add(8000, 2100, 1500);               // growing again: falls from the old peak, slower
  EXPECT_NEAR(window.fall_since_peak(60000), 250.0, 1e-9);
  window.add(70000, 2100, 1500);  // the peak left the window: nothing fell since
  EXPECT_EQ(window.fall_since_peak(60000), 0.0);
}

TEST(DrainEtaTest, NetDrainRateDecides) {
  EXPECT_EQ(drain_eta_seconds(0, 10, 0), 0.0);                 // nothing pending
  EXPECT_EQ(drain_eta_seconds(1000, 0, 100), 10.0);            // nothing arrives
  EXPECT_EQ(drain_eta_seconds(1000, 50, 100), 20.0);           // net 50/s
  EXPECT_TRUE(std::isinf(drain_eta_seconds(1000, 100, 100)));  // holds
  EXPECT_TRUE(std::isinf(drain_eta_seconds(1000, 150, 100)));  // grows
  EXPECT_TRUE(std::isinf(drain_eta_seconds(1000, 0, 0)));      // nothing taken
}

TEST(HistogramQuantileTest, InterpolatesInsideTheBucketLikePrometheus) {
  const std::vector<double> bounds = {0.001, 0.01, 0.1, 1};
  // 100 observations: 50 <= 1 ms, 40 in (1 ms, 10 ms], 9 in (10 ms, 100 ms], 1 above 1 s.
  const std::vector<uint64_t> cumulative = {50, 90, 99, 99};
  EXPECT_NEAR(histogram_quantile(0.5, bounds, cumulative, 100), 0.001, 1e-12);
  EXPECT_NEAR(histogram_quantile(0.7, bounds, cumulative, 100), 0.001 + 0.009 * 0.5, 1e-12);
  EXPECT_NEAR(histogram_quantile(0.99, bounds, cumulative, 100), 0.1, 1e-12);
  EXPECT_EQ(histogram_quantile(0.999, bounds, cumulative, 100), 1.0);  // beyond the last bound
  EXPECT_TRUE(std::isnan(histogram_quantile(0.5, bounds, {0, 0, 0, 0}, 0)));
  // The daemon's own buckets: every observation of 3 ms lands in (2.5 ms, 5 ms].
  Metrics metrics;
  for (int i = 0; i < 10; ++i) metrics.observe_handler_seconds("h", 0.003);
  const auto totals = metrics.handler_totals().at("h");
  const double p50 = histogram_quantile(0.5, Metrics::duration_bounds(), totals.buckets, 10);
  EXPECT_GT(p50, 0.0025);
  EXPECT_LE(p50, 0.005);
}

TEST(MetricsBehindTest, RendersTheGaugesWithInfinityForANeverDrainingBacklog) {
  Metrics metrics;
  EXPECT_EQ(metrics.render().find("switchyard_source_oldest_age_seconds"),
            std::string::npos);  // not sampled yet
  Metrics::SourceBehind b;
  b.oldest_age_seconds = 12.5;
  b.in_rate_1m = 3;
  b.out_rate_1m = 2;
  b.drain_eta_seconds = std::numeric_limits<double>::infinity();
  metrics.set_behind("analytics", b);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("switchyard_source_oldest_age_seconds{source=\"analytics\"} 12.5\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("switchyard_source_drain_eta_seconds{source=\"analytics\"} +Inf\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("switchyard_source_in_rate{source=\"analytics\",window=\"1m\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("switchyard_source_out_rate{source=\"analytics\",window=\"5m\"} 0\n"),
            std::string::npos)
      << text;
}

}  // namespace
}  // namespace switchyard
