// router_fixture.h: the shared fixture of the router tests: a private redis-server, a temp dir with
// routes.yaml and the analytics DB, the real daemon, and helpers to wait for a drained source.
#ifndef SWITCHYARD_TESTS_INTEGRATION_ROUTER_ROUTER_FIXTURE_H_
#define SWITCHYARD_TESTS_INTEGRATION_ROUTER_ROUTER_FIXTURE_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"

namespace switchyard::test {

// Every test gets its own redis-server (unix socket in its own temp dir), its own temp dir for
// routes.yaml, the SQLite DB and the daemon log, and at most one daemon at a time.
// Thread safety: gtest fixtures run on the main thread only.
class RouterTest : public ::testing::Test {
 protected:
  static constexpr const char* kKey = "events";

  void SetUp() override;
  void TearDown() override;

  // A RoutesYaml for this test's Redis, the bundled plugins and this test's DB (source "events").
  RoutesYaml base_spec() const;
  // Writes routes.yaml (or `name`) into the temp dir and returns its path.
  std::string write_config(const RoutesYaml& spec, const std::string& name = "routes.yaml") const;
  // Starts `switchyard run -c config` (log in the temp dir). Returns at once.
  void start_daemon(const std::string& config_path);
  // Waits (bounded) until K is empty and no in-flight list K:inflight:* is left, i.e. every
  // message taken has been handled and acknowledged. ASSERT_TRUE it.
  bool wait_drained(std::chrono::milliseconds timeout, const std::string& what = "");
  // Blocks (bounded) until the daemon's worker is parked in BLMOVE on K (CLIENT LIST flags=b),
  // i.e. the daemon is idle and waiting for a message. ASSERT_TRUE it.
  bool wait_idle(std::chrono::milliseconds timeout);
  // The in-flight lists of K (keys matching K:inflight:*).
  std::vector<std::string> inflight_lists();
  // The elements of K:dead, each parsed with RapidJSON (ADD_FAILUREs for one that is not an
  // object), in list order.
  std::vector<rapidjson::Document> dead_letters();
  // Rows of a table in this test's DB (-1 if it does not exist yet).
  int64_t rows(const std::string& table) const;
  // Diagnostics for failure messages: the daemon log tail and K's keys.
  std::string diagnostics();

  std::string db_path() const { return dir_.file("analytics.db"); }

  RedisServer redis_;
  TempDir dir_;
  // A client of redis_, connected in SetUp (the socket exists only once the server runs).
  RedisClient& client() { return *client_; }
  std::optional<RedisClient> client_;
  SwitchyardProcess daemon_;
};

// Where the README fields of a dead letter are checked: message (verbatim), source, handler
// (nullptr: JSON null), reason contains every one of `reason_parts`, attempts, failed_at (ISO 8601
// UTC), instance (host:pid of `daemon_pid`).
void expect_dead_letter(const rapidjson::Value& letter, const std::string& message,
                        const std::string& source, const char* handler,
                        const std::vector<std::string>& reason_parts, int attempts,
                        pid_t daemon_pid);

// The message of a dead letter as raw bytes, decoded as Switchyard decodes K:dead (from
// "message_base64" when it was not UTF-8); throws std::runtime_error when it is not a dead letter.
std::string dead_message(const rapidjson::Value& letter);
// The "reason" field ("" when absent).
std::string dead_reason(const rapidjson::Value& letter);

// "LINE:COL" (1-based) of the first occurrence of `needle` in `text`; "?" when absent.
std::string line_col(const std::string& text, const std::string& needle);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_INTEGRATION_ROUTER_ROUTER_FIXTURE_H_
