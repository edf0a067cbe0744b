// router_latency_test.cc: an idle daemon blocks on K (no polling delay): a single published
// message is handled promptly. Prints the measured latency; asserts only a bounded wait.
#include <algorithm>
#include <numeric>

#include "router_fixture.h"
#include "support/sqlite_db.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

TEST_F(RouterTest, IdleDaemonHandlesASingleMessagePromptly) {
  start_daemon(write_config(base_spec()));
  // Warm up: the first message creates the table and opens the DB.
  client().rpush(kKey, user_registered(1));
  ASSERT_TRUE(wait_until([&] { return rows("user_registrations") == 1; }, 10s, "the first row"));

  std::vector<double> latencies_ms;
  for (int i = 2; i <= 6; ++i) {
    // Idle: the worker is parked in BLMOVE on K, not sleeping between polls.
    ASSERT_TRUE(wait_idle(10s));
    const auto t0 = std::chrono::steady_clock::now();
    client().rpush(kKey, user_registered(i));
    ASSERT_TRUE(wait_until([&] { return rows("user_registrations") == i; }, 5s,
                           "row " + std::to_string(i) + " visible"));
    latencies_ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(latencies_ms.begin(), latencies_ms.end());
  std::cout << "[ router    ] publish -> row visible on an idle daemon: min "
            << latencies_ms.front() << " ms, median " << latencies_ms[latencies_ms.size() / 2]
            << " ms, max " << latencies_ms.back() << " ms (" << latencies_ms.size()
            << " samples)\n";
  RecordProperty("latency_median_ms", std::to_string(latencies_ms[latencies_ms.size() / 2]));
  ASSERT_TRUE(wait_drained(5s));
  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

}  // namespace
}  // namespace switchyard::test
