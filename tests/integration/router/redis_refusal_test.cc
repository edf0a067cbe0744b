// redis_refusal_test.cc: a connected Redis that answers with an error (maxmemory reached under
// noeviction) is logged once as a refusal naming the key and what to do, never as unreachable;
// its end is logged once; nothing is lost and the daemon keeps its connections.
#include <algorithm>
#include <set>
#include <sstream>

#include "router_fixture.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// The log lines of text that contain needle.
std::vector<std::string> lines_with(const std::string& text, const std::string& needle) {
  std::vector<std::string> found;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.find(needle) != std::string::npos) found.push_back(line);
  return found;
}

// The ids of the daemon's long-lived connections (CLIENT LIST): housekeeping
// (name=switchyard:housekeeping) and the workers' (name=switchyard:CONSUMER:INDEX).
std::set<std::string> daemon_client_ids(RedisClient& client) {
  std::set<std::string> ids;
  std::istringstream in(client.command({"CLIENT", "LIST"}).str);
  for (std::string line; std::getline(in, line);) {
    const size_t name_at = line.find("name=switchyard:");
    if (name_at == std::string::npos) continue;
    const std::string name = line.substr(name_at + 5, line.find(' ', name_at) - name_at - 5);
    if (name != "switchyard:housekeeping" && std::count(name.begin(), name.end(), ':') < 2)
      continue;
    const size_t at = line.find("id=");
    ids.insert(line.substr(at + 3, line.find(' ', at) - at - 3));
  }
  return ids;
}

TEST_F(RouterTest, RedisAtMaxmemoryIsARefusalLoggedOnceThenItsEndOnce) {
  constexpr int64_t kEvents = 2'000;
  // Redis full before the daemon starts: more than maxmemory in use, nothing may be evicted. The
  // producer's events are in before the limit (its own RPUSH would be refused too).
  client().rpush_many(kKey, mixed_events(kEvents));
  client().command({"SET", "filler", std::string(2u << 20, 'x')});
  client().command({"CONFIG", "SET", "maxmemory-policy", "noeviction"});
  client().command({"CONFIG", "SET", "maxmemory", "1mb"});
  start_daemon(write_config(base_spec()));
  ASSERT_TRUE(wait_until([&] { return !lines_with(daemon_.log(), "OOM").empty(); }, 20s,
                         "the daemon to log Redis' OOM refusal"))
      << daemon_.log_tail();
  std::set<std::string> connections;
  ASSERT_TRUE(wait_until(
      [&] {
        connections = daemon_client_ids(client());
        return connections.size() == 2;  // housekeeping and the one worker
      },
      20s, "the daemon's housekeeping and worker connections"))
      << client().command({"CLIENT", "LIST"}).str;
  EXPECT_TRUE(daemon_.is_running()) << daemon_.log_tail();

  client().command({"CONFIG", "SET", "maxmemory", "0"});
  ASSERT_TRUE(wait_drained(60s, "every event handled once Redis accepts writes"));
  EXPECT_EQ(rows("user_registrations"), kEvents / 2);
  EXPECT_EQ(rows("quotes"), kEvents / 2);
  EXPECT_EQ(client().llen(std::string(kKey) + ":dead"), 0) << diagnostics();
  ASSERT_TRUE(wait_until([&] { return !lines_with(daemon_.log(), "accepts writes again").empty(); },
                         20s, "the end of the refusal to be logged"))
      << daemon_.log_tail();
  // The connections were kept: a refusal is an answer, not an outage.
  for (const std::string& id : connections)
    EXPECT_TRUE(daemon_client_ids(client()).count(id)) << "connection " << id << " was dropped";

  const std::string log = daemon_.log();
  const std::vector<std::string> refused = lines_with(log, "OOM");
  ASSERT_EQ(refused.size(), 1u) << log;
  EXPECT_NE(refused[0].find("refuses writes"), std::string::npos) << refused[0];
  EXPECT_NE(refused[0].find("events"), std::string::npos) << "names no key: " << refused[0];
  EXPECT_NE(refused[0].find("CONFIG SET maxmemory"), std::string::npos)
      << "says nothing to do: " << refused[0];
  EXPECT_EQ(lines_with(log, "accepts writes again").size(), 1u) << log;
  EXPECT_EQ(lines_with(log, "unreachable").size(), 0u) << log;
  EXPECT_EQ(lines_with(log, "reachable again").size(), 0u) << log;
}

}  // namespace
}  // namespace switchyard::test
