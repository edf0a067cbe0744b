// support_test.cc: self-test of tests/support (real redis-server, real child processes, SQLite).
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "support/child_process.h"
#include "support/dead_letters.h"
#include "support/events.h"
#include "support/http_get.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/terminal_text.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------- RedisServer + RedisClient

TEST(SupportRedisServerTest, StartsOnItsOwnUnixSocket) {
  RedisServer redis;
  redis.start();
  EXPECT_TRUE(redis.is_running());
  EXPECT_EQ(redis.url(), "unix://" + redis.socket_path());
  EXPECT_TRUE(std::filesystem::exists(redis.socket_path()));
  RedisClient client = redis.client();
  EXPECT_TRUE(client.ping());
  EXPECT_EQ(client.command({"CONFIG", "GET", "appendonly"}).elements.at(1).str, "no");
  EXPECT_EQ(client.command({"CONFIG", "GET", "port"}).elements.at(1).str, "0");
  EXPECT_THROW(redis.tcp_url(), std::logic_error);
  redis.stop();
  EXPECT_FALSE(redis.is_running());
}

TEST(SupportRedisServerTest, PipelinedPushOfTenThousandMessages) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  const std::vector<std::string> messages = mixed_events(10'000);
  EXPECT_EQ(client.rpush_many("events", messages), 10'000);
  EXPECT_EQ(client.llen("events"), 10'000);
  EXPECT_EQ(client.lrange("events"), messages);
  // Several values per RPUSH, a chunk boundary not aligned with 1000 commands.
  EXPECT_EQ(client.rpush_many("batched", messages, 7), 10'000);
  EXPECT_EQ(client.lrange("batched"), messages);
  EXPECT_EQ(client.rpush_many("empty", {}), 0);
}

TEST(SupportRedisServerTest, ClientIsBinarySafe) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  const std::string key("bin\0key", 7);
  const std::vector<std::string> values = {std::string("a\0b", 3), "line\r\nbreak",
                                           std::string("\xff\xfe\x00", 3), ""};
  client.rpush_many(key, values);
  EXPECT_EQ(client.lrange(key), values);
  EXPECT_EQ(client.keys("bin*"), std::vector<std::string>{key});
  EXPECT_EQ(client.command({"LINDEX", key, "0"}).str, values[0]);
}

TEST(SupportRedisServerTest, AppendOnlyDataSurvivesRestart) {
  RedisServerOptions options;
  options.appendonly = true;
  RedisServer redis(options);
  redis.start();
  RedisClient client = redis.client();
  ASSERT_EQ(client.rpush_many("events", mixed_events(10'000)), 10'000);
  const std::string socket = redis.socket_path();
  redis.restart();
  EXPECT_EQ(redis.socket_path(), socket);
  // The old connection died with the old server: one failed PING drops it, the next reconnects.
  ASSERT_TRUE(wait_until([&] { return client.ping(); }, 5s, "the client to reconnect"));
  EXPECT_EQ(client.llen("events"), 10'000);
  EXPECT_EQ(client.lrange("events", 0, 0).at(0), user_registered(1));
}

TEST(SupportRedisServerTest, WithoutAppendOnlyRestartStartsEmpty) {
  RedisServer redis;
  redis.start();
  redis.client().rpush("events", "x");
  redis.restart();
  EXPECT_EQ(redis.client().llen("events"), 0);
}

TEST(SupportRedisServerTest, Kill9WithFsyncAlwaysLosesNothing) {
  RedisServerOptions options;
  options.appendonly = true;
  options.extra_args = {"--appendfsync", "always"};
  RedisServer redis(options);
  redis.start();
  ASSERT_EQ(redis.client().rpush_many("events", mixed_events(1000)), 1000);
  redis.kill9();
  EXPECT_FALSE(redis.is_running());
  redis.start();
  EXPECT_EQ(redis.client().llen("events"), 1000);
}

TEST(SupportRedisServerTest, ListensOnTcpWhenAsked) {
  RedisServerOptions options;
  options.tcp = true;
  RedisServer redis(options);
  redis.start();
  ASSERT_GT(redis.port(), 0);
  EXPECT_EQ(redis.tcp_url(), "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0");
  RedisClient tcp("127.0.0.1", redis.port());
  EXPECT_TRUE(tcp.ping());
  const int port = redis.port();
  redis.restart();
  EXPECT_EQ(redis.port(), port);
  EXPECT_TRUE(RedisClient("127.0.0.1", port).ping());
}

TEST(SupportRedisServerTest, StartFailureReportsTheLog) {
  RedisServerOptions options;
  options.extra_args = {"--no-such-directive", "1"};
  RedisServer redis(options);
  try {
    redis.start();
    FAIL() << "start() should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("exited"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("no-such-directive"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(redis.is_running());
}

TEST(SupportRedisClientTest, ScanDelZcardFlushallAndErrors) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  std::vector<std::string> expected;
  for (int i = 0; i < 2500; ++i) {
    client.command({"SET", "k:" + std::to_string(i), "v"});
    expected.push_back("k:" + std::to_string(i));
  }
  client.command({"SET", "other", "v"});
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(client.keys("k:*"), expected);
  EXPECT_EQ(client.keys().size(), 2501u);
  EXPECT_EQ(client.del("other"), 1);
  EXPECT_EQ(client.del("other"), 0);
  client.command({"ZADD", "z", "1", "a", "2", "b"});
  EXPECT_EQ(client.zcard("z"), 2);
  // Error replies: command() throws naming the command, try_command() returns them.
  try {
    client.llen("z");
    FAIL() << "LLEN on a zset should throw";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("LLEN"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("WRONGTYPE"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(client.try_command({"LLEN", "z"}).is_error());
  EXPECT_THROW(client.rpush_many("z", {"a", "b"}), std::runtime_error);
  EXPECT_TRUE(client.ping());  // the connection survived the error replies
  EXPECT_TRUE(client.command({"GET", "missing"}).is_nil());
  client.flushall();
  EXPECT_TRUE(client.keys().empty());
}

TEST(SupportRedisClientTest, PingIsFalseWhileServerIsDown) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  redis.kill9();
  EXPECT_FALSE(client.ping());
  EXPECT_THROW(client.llen("events"), std::runtime_error);
  redis.start();
  ASSERT_TRUE(wait_until([&] { return client.ping(); }, 5s, "PING after restart"));
}

TEST(SupportRedisClientTest, ConnectFailureNamesTheEndpoint) {
  TempDir dir;
  try {
    RedisClient client(dir.file("nothing.sock"), 500ms);
    FAIL() << "connect should have thrown";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("nothing.sock"), std::string::npos) << e.what();
  }
}

// ---------------------------------------------------------------- ChildProcess

TEST(SupportChildProcessTest, ReportsExitCode) {
  ChildProcess child;
  child.spawn({"/bin/sh", "-c", "exit 3"});
  EXPECT_EQ(child.wait_exit(5s), 3);
  EXPECT_FALSE(child.is_running());
  EXPECT_EQ(child.wait_exit(0ms), 3);  // stored once reaped
  EXPECT_FALSE(child.signal(SIGTERM));
}

TEST(SupportChildProcessTest, WaitTimesOutThenKill9) {
  ChildProcess child;
  child.spawn({"/bin/sh", "-c", "exec sleep 30"});
  EXPECT_GT(child.pid(), 0);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(child.wait_exit(50ms), std::nullopt);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_TRUE(child.is_running());
  EXPECT_EQ(child.kill9(), 128 + SIGKILL);
  EXPECT_FALSE(child.is_running());
}

TEST(SupportChildProcessTest, SignalGivesOneHundredTwentyEightPlusSignal) {
  ChildProcess child;
  child.spawn({"/bin/sh", "-c", "exec sleep 30"});
  EXPECT_TRUE(child.signal(SIGTERM));
  EXPECT_EQ(child.wait_exit(5s), 128 + SIGTERM);
}

TEST(SupportChildProcessTest, OutputFileAndEnvironment) {
  TempDir dir;
  const std::string out = dir.file("out.log");
  ChildProcess child;
  child.spawn({"sh", "-c", "echo out; echo err >&2; echo \"$SUPPORT_TEST_VAR\""},
              {{"SUPPORT_TEST_VAR", "value with spaces"}}, out);
  ASSERT_EQ(child.wait_exit(5s), 0);
  EXPECT_EQ(read_file(out), "out\nerr\nvalue with spaces\n");
  // Appends, does not truncate.
  child.spawn({"sh", "-c", "echo again"}, {}, out);
  ASSERT_EQ(child.wait_exit(5s), 0);
  EXPECT_EQ(tail_file(out, 2), "value with spaces\nagain\n");
}

TEST(SupportChildProcessTest, UnsetEnvAndCleanSignalState) {
  ::setenv("SUPPORT_TEST_INHERITED", "leak", 1);
  RedisServer redis;  // constructing a client ignores SIGPIPE in this process...
  redis.start();
  EXPECT_TRUE(redis.client().ping());
  SpawnOptions options;
  options.unset_env = {"SUPPORT_TEST_INHERITED"};
  CommandResult r = run_command(
      {"/bin/sh", "-c", "echo \"[$SUPPORT_TEST_INHERITED]\"; grep SigIgn /proc/self/status"}, 5s,
      options);
  ::unsetenv("SUPPORT_TEST_INHERITED");
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_NE(r.out.find("[]\n"), std::string::npos) << r;
  // ...but children start with default dispositions.
  EXPECT_NE(r.out.find("SigIgn:\t0000000000000000"), std::string::npos) << r;
}

TEST(SupportChildProcessTest, MissingProgramThrows) {
  ChildProcess child;
  EXPECT_THROW(child.spawn({"/nonexistent/program"}), std::runtime_error);
  EXPECT_THROW(child.spawn({"no-such-program-switchyard-test"}), std::runtime_error);
  EXPECT_FALSE(child.is_running());
}

TEST(SupportChildProcessTest, DiesWhenTheSpawningThreadDies) {
  ChildProcess child;
  std::thread([&] { child.spawn({"/bin/sh", "-c", "exec sleep 30"}); }).join();
  EXPECT_EQ(child.wait_exit(5s), 128 + SIGKILL);  // PR_SET_PDEATHSIG
}

TEST(SupportChildProcessTest, MoveKeepsOwnership) {
  ChildProcess a;
  a.spawn({"/bin/sh", "-c", "exec sleep 30"});
  const pid_t pid = a.pid();
  ChildProcess b = std::move(a);
  EXPECT_EQ(b.pid(), pid);
  EXPECT_FALSE(a.is_running());  // NOLINT(bugprone-use-after-move): moved-from is empty
  EXPECT_TRUE(b.is_running());
  ChildProcess c;
  c.spawn({"/bin/sh", "-c", "exec sleep 30"});
  c = std::move(b);  // kills c's own child first
  EXPECT_EQ(c.pid(), pid);
  EXPECT_EQ(c.kill9(), 128 + SIGKILL);
}

TEST(SupportChildProcessTest, RunCommandCapturesStdoutStderrAndStdin) {
  CommandResult r = run_command(
      {"/bin/sh", "-c", "printf 'a\\000b'; echo problem >&2; cat; exit 4"}, 5s, {}, "from stdin\n");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_EQ(r.out, std::string("a\0bfrom stdin\n", 14));
  EXPECT_EQ(r.err, "problem\n");
}

// ---------------------------------------------------------------- wait_until

TEST(SupportWaitTest, WaitUntilReturnsOnceTheConditionHolds) {
  int calls = 0;
  EXPECT_TRUE(wait_until([&] { return ++calls >= 3; }, 5s, "three calls"));
  EXPECT_EQ(calls, 3);
  // Exceptions count as "not yet".
  int attempts = 0;
  EXPECT_TRUE(wait_until(
      [&] {
        if (++attempts < 3) throw std::runtime_error("not yet");
        return true;
      },
      5s, "no more exceptions"));
  // Waiting on another thread's progress.
  std::atomic<bool> flag{false};
  std::thread t([&] { flag = true; });
  EXPECT_TRUE(wait_until([&] { return flag.load(); }, 5s, "the flag"));
  t.join();
}

TEST(SupportWaitTest, WaitForReturnsAStatusAndWaitOrThrowThrowsIt) {
  int calls = 0;
  WaitStatus held = wait_for([&] { return ++calls >= 2; }, 5s, "two calls");
  EXPECT_TRUE(held.ok);
  EXPECT_EQ(held.message, "");
  WaitStatus timed_out =
      wait_for([]() -> bool { throw std::runtime_error("redis is down"); }, 20ms, "the impossible");
  EXPECT_FALSE(timed_out);
  EXPECT_EQ(timed_out.message,
            "timed out after 20 ms waiting for the impossible (last error: redis is down)");
  EXPECT_NO_THROW(wait_or_throw([] { return true; }, 1s, "at once"));
  try {
    wait_or_throw([] { return false; }, 10ms, "never");
    ADD_FAILURE() << "wait_or_throw did not throw";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "timed out after 10 ms waiting for never");
  }
}

// ---------------------------------------------------------------- dead letters, HTTP, terminal

TEST(SupportDeadLettersTest, ReadsExactBytesWithTheRuntimesDecoderAndNamesABadElement) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  DeadLetter letter;
  letter.message = "not UTF-8: \xff\xfe";
  letter.source = "events";
  letter.handler = "quotes_db";
  letter.reason = "handler answered fail";
  letter.attempts = 3;
  client.rpush("events:dead", encode_dead_letter(letter));
  letter.handler.reset();
  letter.message = "{}";
  client.rpush("events:dead", encode_dead_letter(letter));
  std::vector<DeadLetterView> letters = read_dead_letters(client, "events:dead");
  ASSERT_EQ(letters.size(), 2u);
  EXPECT_EQ(letters[0].message, "not UTF-8: \xff\xfe");  // from message_base64
  EXPECT_EQ(letters[0].handler, std::optional<std::string>("quotes_db"));
  EXPECT_EQ(letters[0].attempts, 3);
  EXPECT_NE(letters[0].raw.find("message_base64"), std::string::npos) << letters[0].raw;
  EXPECT_FALSE(letters[1].handler.has_value());

  client.rpush("events:dead", "[\"not a dead letter\"]");
  try {
    read_dead_letters(client, "events:dead");
    ADD_FAILURE() << "a bad element was read";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()).rfind("events:dead[2]: not a dead letter (", 0), 0u)
        << e.what();
  }
}

TEST(SupportHttpGetTest, NoServerIsAStatusNotAnException) {
  const HttpResult r = http_get(pick_free_tcp_port(), "/healthz");
  EXPECT_EQ(r.status, -1);
  EXPECT_EQ(r.body, "");
  EXPECT_NE(r.error, "");
}

TEST(SupportTerminalTextTest, FindsEveryKindOfControlAndOnlyThose) {
  using namespace std::string_literals;
  const size_t none = std::string::npos;
  EXPECT_EQ(terminal_control_at("plain caf\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80\n", true), none);
  EXPECT_EQ(terminal_control_at("line\n", false), 4u);
  EXPECT_EQ(terminal_control_at("a\x1b[2J", true), 1u);
  EXPECT_EQ(terminal_control_at("ab\x7f", true), 2u);
  EXPECT_EQ(terminal_control_at("nul "s + '\0', true), 4u);
  EXPECT_EQ(terminal_control_at("csi \xc2\x9b", true), 4u);                  // U+009B as UTF-8
  EXPECT_EQ(terminal_control_at("raw \x9b", true), 4u);                      // 8-bit CSI, not UTF-8
  EXPECT_EQ(terminal_control_at("\xe2\x82\xac \xff \xc0\xaf", true), none);  // bad UTF-8, no C1
  EXPECT_EQ(terminal_control_at("\xc2\xa0 nbsp", true), none);  // U+00A0 is not a control
}

// ---------------------------------------------------------------- SQLite

TEST(SupportSqliteTest, CountsRowsWhileAWriterHoldsTheWalDatabase) {
  TempDir dir;
  const std::string path = dir.file("analytics.db");
  EXPECT_EQ(count_rows(path, "quotes"), -1);  // no file
  sqlite3* writer = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &writer), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(writer,
                         "PRAGMA journal_mode=WAL;"
                         "CREATE TABLE quotes(quote_id INTEGER PRIMARY KEY, qty INTEGER);"
                         "INSERT INTO quotes VALUES (1, 5), (2, 7), (3, 9);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(count_rows(path, "quotes"), 3);
  EXPECT_EQ(count_rows(path, "user_registrations"), -1);  // no table
  EXPECT_EQ(query_int(path, "SELECT sum(qty) FROM quotes"), 21);
  EXPECT_THROW(query_int(path, "SELECT qty FROM quotes WHERE quote_id = 99"), std::runtime_error);
  EXPECT_THROW(query_int(path, "SELECT nonsense FROM"), std::runtime_error);
  ASSERT_EQ(sqlite3_exec(writer, "INSERT INTO quotes VALUES (4, 1);", nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(count_rows(path, "quotes"), 4);
  sqlite3_close(writer);  // checkpoints and removes -wal/-shm
  EXPECT_EQ(count_rows(path, "quotes"), 4);
  EXPECT_THROW(query_int(dir.file("missing.db"), "SELECT 1"), std::runtime_error);
}

// ---------------------------------------------------------------- events

TEST(SupportEventsTest, EnvelopesAreExact) {
  EXPECT_EQ(user_registered(7),
            R"({"event":"user.registered","payload":{"user_id":7,"email":"user7@example.com",)"
            R"("name":"User 7","created_at":"2026-05-07T10:00:00+00:00"}})");
  EXPECT_EQ(quote_created(123),
            R"({"event":"quote.created","payload":{"quote_id":123,"user_id":123,)"
            R"("product_id":24,"qty":4,"created_at":"2026-05-07T10:00:00+00:00"}})");
  EXPECT_EQ(envelope("a\"b", "{}"), R"({"event":"a\"b","payload":{}})");
  const auto mixed = mixed_events(5, 10);
  ASSERT_EQ(mixed.size(), 5u);
  EXPECT_EQ(mixed[0], user_registered(10));
  EXPECT_EQ(mixed[1], quote_created(10));
  EXPECT_EQ(mixed[4], user_registered(12));
}

TEST(SupportEventsTest, RoutesYamlHasTheSpecShape) {
  RoutesYaml spec;
  spec.redis_url = "unix:///tmp/x/redis.sock";
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = "/tmp/x/analytics.db";
  spec.source_key = "test:events";
  spec.source_extra = "batch: 16\nmax_deliveries: 3";
  spec.extra_handlers = "audit:\n  plugin: jsonl_sink\n  config: { path: /tmp/x/a.jsonl }";
  spec.extra_routes = "\"*\": [audit]";
  spec.extra_yaml = "unrouted: drop";
  YAML::Node y = YAML::Load(routes_yaml(spec));
  EXPECT_EQ(y["version"].as<int>(), 1);
  EXPECT_EQ(y["redis"]["url"].as<std::string>(), spec.redis_url);
  EXPECT_EQ(y["plugins_dir"].as<std::string>(), SWITCHYARD_PLUGIN_DIR);
  EXPECT_EQ(y["sources"]["events"]["key"].as<std::string>(), "test:events");
  EXPECT_EQ(y["sources"]["events"]["type"].as<std::string>(), "list");
  EXPECT_EQ(y["sources"]["events"]["batch"].as<int>(), 16);
  EXPECT_EQ(y["handlers"]["users_db"]["plugin"].as<std::string>(), "user_registered_sink");
  EXPECT_EQ(y["handlers"]["quotes_db"]["config"]["database"].as<std::string>(), spec.database);
  EXPECT_EQ(y["handlers"]["audit"]["plugin"].as<std::string>(), "jsonl_sink");
  EXPECT_EQ(y["routes"]["user.registered"][0].as<std::string>(), "users_db");
  EXPECT_EQ(y["routes"]["quote.created"][0].as<std::string>(), "quotes_db");
  EXPECT_EQ(y["routes"]["*"][0].as<std::string>(), "audit");
  EXPECT_EQ(y["unrouted"].as<std::string>(), "drop");

  YAML::Node simple = YAML::Load(routes_yaml("unix:///r.sock", "", "/d.db", "analytics"));
  EXPECT_FALSE(simple["plugins_dir"]);
  EXPECT_EQ(simple["sources"]["analytics"]["key"].as<std::string>(), "analytics");
}

// ---------------------------------------------------------------- SwitchyardProcess

TEST(SupportSwitchyardProcessTest, ExecCapturesTheBinarysOutput) {
  if (!std::filesystem::exists(SwitchyardProcess::binary())) {
    GTEST_SKIP() << SwitchyardProcess::binary() << " is not built";
  }
  CommandResult r = SwitchyardProcess::exec({"version"}, 10s);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_FALSE(r.out.empty()) << r;
}

}  // namespace
}  // namespace switchyard::test
