// pace_fixture.h: what the pace and dedup integration tests share: a private redis-server, a
// plugins directory with the sinks they use, a routes.yaml per daemon (each with its own metrics
// port) and reading a daemon's counters.
#ifndef SWITCHYARD_TESTS_INTEGRATION_PACE_PACE_FIXTURE_H_
#define SWITCHYARD_TESTS_INTEGRATION_PACE_PACE_FIXTURE_H_

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"

namespace switchyard::test::pace {

class PaceFixture : public ::testing::Test {
 protected:
  void SetUp() override;

  // Writes routes.yaml number `n` (0, 1, ...): source "events" (key events) with
  // `source_extra` lines under it, the `handlers` and `routes` maps' entries as given (indented
  // for you), reclaim_after 1s, and metrics on a port of its own (port(n)). Returns its path.
  std::string write_config(int n, const std::string& source_extra, const std::string& handlers,
                           const std::string& routes);
  // Starts daemon `n` on config n (written before) and waits until its /metrics answers.
  void start(int n);
  int port(int n) const { return ports_.at(n); }
  // The value of counter `name` with label handler or source = `label` of daemon n; 0 when
  // absent or when the daemon does not answer.
  double counter(int n, const std::string& name, const std::string& label_name,
                 const std::string& label);
  // The distinct lines of a sink's file, and all its lines.
  std::set<std::string> distinct_lines(const std::string& path) const;
  std::vector<std::string> lines(const std::string& path) const { return file_lines(path); }
  // Logs of every daemon started, for failure messages.
  std::string logs();

  RedisServer redis_;
  TempDir dir_;
  std::string plugins_;
  std::vector<int> ports_;
  std::vector<std::string> configs_;
  std::vector<SwitchyardProcess> daemons_;
};

}  // namespace switchyard::test::pace

#endif  // SWITCHYARD_TESTS_INTEGRATION_PACE_PACE_FIXTURE_H_
