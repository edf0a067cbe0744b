// history_test.cc: the archive, `switchyard backfill` and `switchyard replay` against the real
// daemon, redis-server and SQLite sinks (README "History: archive, backfill, replay"): on every
// source kind, a handler added later gets exactly the archived events its routes send it, once
// even when the backfill runs twice, with its progress in `stats` and on /metrics; a dry run
// counts without writing; the README's story step by step; replay by time sends one time range
// again; the archive is trimmed by length and by age; `stats` shows the limits; usage errors name
// what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <vector>

#include "integration/fault/fault_support.h"
#include "records/dead_letter.h"
#include "support/archive.h"
#include "support/http_get.h"

namespace switchyard::test::fault {
namespace {

// The story: quotes_db (SQLite) handles quote.created from the start; quotes_new, a second
// SQLite handler of quote.created with its own file, is added later and backfilled. The daemon
// serves /metrics on metrics_port_.
class HistoryFixture {
 protected:
  explicit HistoryFixture(SourceKind kind, RedisServerOptions redis = {})
      : rig_(kind, {"flaky_sink"}, std::move(redis)), metrics_port_(pick_free_tcp_port()) {}

  RoutesYaml spec(bool with_new_handler, const std::string& archive) {
    RoutesYaml s = fault_spec("batch: 100\nreclaim_after: 1s\narchive: " + archive);
    s.extra_yaml += "\nmetrics: { listen: \"127.0.0.1:" + std::to_string(metrics_port_) + "\" }";
    s.extra_handlers = audit_handler(rig_.file("audit.jsonl"));
    s.extra_routes = "\"quote.*\": [audit]";
    if (with_new_handler) {
      s.extra_handlers += "quotes_new:\n  plugin: quote_created_sink\n  config: { database: " +
                          json_string(new_db()) + " }\n";
      s.extra_routes = "\"quote.*\": [audit, quotes_new]";
    }
    return s;
  }
  std::string new_db() const { return rig_.file("new.db"); }
  int64_t new_quotes() { return std::max<int64_t>(0, count_rows(new_db(), "quotes")); }
  int64_t audit_lines() {
    return static_cast<int64_t>(file_lines(rig_.file("audit.jsonl")).size());
  }
  std::string archive_key() const { return rig_.key() + ":archive"; }
  int64_t archived_count() { return rig_.client().command({"XLEN", archive_key()}).integer; }

  // Publishes messages and waits until the running daemon archived all of them.
  void publish_and_drain(const std::vector<std::string>& messages, SwitchyardProcess& daemon) {
    const int64_t before = archived_count();
    rig_.publish(messages);
    ASSERT_TRUE(wait_until(
        [&] {
          return archived_count() == before + static_cast<int64_t>(messages.size()) &&
                 rig_.drained();
        },
        30s, "the messages handled and archived"))
        << rig_.describe() << "\n"
        << daemon.log_tail();
  }

  // The value of one series of /metrics ("name{labels}" as rendered), or "" when absent.
  std::string metric(const std::string& series) {
    const HttpResult r = http_get(metrics_port_, "/metrics");
    const size_t at = r.body.find("\n" + series + " ");
    if (r.status != 200 || at == std::string::npos) return "";
    const size_t from = at + series.size() + 2;
    return r.body.substr(from, r.body.find('\n', from) - from);
  }

  Rig rig_;
  int metrics_port_;
};

// The list source, for what does not depend on the source kind.
class HistoryTest : public HistoryFixture, public ::testing::Test {
 protected:
  explicit HistoryTest(RedisServerOptions redis = {})
      : HistoryFixture(SourceKind::kList, std::move(redis)) {}
};

// Every source kind: its acks write the archive a backfill reads.
class BackfillTest : public ::testing::TestWithParam<SourceKind>, public HistoryFixture {
 protected:
  BackfillTest() : HistoryFixture(GetParam()) {}
};

std::vector<std::string> quotes(int64_t first, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(quote_created(first + i));
  return out;
}

TEST_P(BackfillTest, FeedsANewHandlerWhatItsRoutesSendItOnceAndADryRunOnlyCounts) {
  rig_.write_config(spec(false, "{ retention: 1d }"));
  SwitchyardProcess daemon = rig_.start();
  std::vector<std::string> day = mixed_events(2000);  // 1000 users, 1000 quotes
  day.push_back(envelope("nobody.listens", "{}"));    // dead-lettered, archived too
  publish_and_drain(day, daemon);
  EXPECT_EQ(rig_.quotes(), 1000);
  EXPECT_EQ(archived_messages(rig_.client(), archive_key()), day);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // The new handler: two lines of routes.yaml, then a restart; no producer change.
  rig_.write_config(spec(true, "{ retention: 1d }"));
  daemon = rig_.start();
  CommandResult dry =
      rig_.cli({"backfill", "--handler", "quotes_new", "--since", "1h", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_NE(dry.out.find("would send 1000 of 2001 archived messages"), std::string::npos) << dry;
  EXPECT_EQ(rig_.client().keys(rig_.key() + ":backfill:*").size(), 0u);
  EXPECT_EQ(rig_.retrying(), 0);

  const int64_t audit_before = audit_lines();
  CommandResult run = rig_.cli({"backfill", "--handler", "quotes_new", "--since", "1h"});
  EXPECT_EQ(run.exit_code, 0) << run;
  EXPECT_NE(run.out.find("sent 1000 of 2001 archived messages"), std::string::npos) << run;
  ASSERT_TRUE(wait_until([&] { return new_quotes() == 1000 && rig_.retrying() == 0; }, 30s,
                         "the backfill delivered"))
      << rig_.describe() << "\n"
      << daemon.log_tail();
  // Only quotes_new got them: audit (the other handler of quote.*) saw nothing new.
  EXPECT_EQ(audit_lines(), audit_before);
  EXPECT_EQ(rig_.dead_count(), 1);

  // stats shows the finished backfill and the archive.
  CommandResult stats = rig_.cli({"stats", "--json"});
  EXPECT_EQ(stats.exit_code, 0) << stats;
  EXPECT_NE(stats.out.find("\"quotes_new\":{\"command\":\"backfill\""), std::string::npos) << stats;
  EXPECT_NE(stats.out.find("\"done\":true,\"read\":2001,\"sent\":1000"), std::string::npos)
      << stats;
  CommandResult text = rig_.cli({"stats"});
  EXPECT_NE(text.out.find("BACKFILL handler quotes_new"), std::string::npos) << text;
  EXPECT_NE(text.out.find("archive: 2001 messages"), std::string::npos) << text;
  // And so does /metrics, from the cursor in Redis, on the sampler's cadence.
  const std::string labels = "{source=\"events\",handler=\"quotes_new\"}";
  ASSERT_TRUE(wait_until(
      [&] {
        return metric("switchyard_backfill_sent_total" + labels) == "1000" &&
               metric("switchyard_backfill_done" + labels) == "1";
      },
      10s, "the backfill series on /metrics"))
      << http_get(metrics_port_, "/metrics").body;
  EXPECT_EQ(metric("switchyard_backfill_scanned_total" + labels), "2001");
  EXPECT_EQ(metric("switchyard_backfill_progress" + labels), "1");
  EXPECT_EQ(metric("switchyard_backfill_eta_seconds" + labels), "0");

  // Again: the cursor says it was sent; nothing is enqueued twice. stats shows this run and the
  // totals of both; the counters on /metrics keep counting every run.
  CommandResult again = rig_.cli({"backfill", "--handler", "quotes_new", "--since", "1h"});
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_NE(again.out.find("sent 0 of 0 archived messages"), std::string::npos) << again;
  EXPECT_EQ(rig_.retrying(), 0);
  stats = rig_.cli({"stats", "--json"});
  EXPECT_NE(stats.out.find("\"done\":true,\"read\":0,\"sent\":0,"), std::string::npos) << stats;
  EXPECT_NE(stats.out.find("\"runs\":2,\"read_all_runs\":2001,\"sent_all_runs\":1000}"),
            std::string::npos)
      << stats;
  text = rig_.cli({"stats"});
  EXPECT_NE(text.out.find("sent 0 of 0 archived; 2 runs sent 1000 in all"), std::string::npos)
      << text;
  EXPECT_EQ(metric("switchyard_backfill_sent_total" + labels), "1000");

  // Live events now reach quotes_new too.
  publish_and_drain(quotes(1001, 10), daemon);
  EXPECT_EQ(new_quotes(), 1010);

  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

INSTANTIATE_FAULT_SUITE(BackfillTest);

TEST_F(HistoryTest, ReplayByTimeSendsOneTimeRangeAgainToOneHandler) {
  rig_.write_config(spec(false, "{ retention: 1d }"));
  SwitchyardProcess daemon = rig_.start();
  publish_and_drain(quotes(1, 50), daemon);
  // The boundary: just after the last archived message of the first range.
  const std::vector<ArchivedMessage> first = archived(rig_.client(), archive_key());
  const int64_t boundary = std::stoll(first.back().id.substr(0, first.back().id.find('-'))) + 1;
  ASSERT_TRUE(wait_until(
      [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() > boundary;
      },
      5s, "the clock to pass the boundary"));
  publish_and_drain(quotes(101, 30), daemon);
  ASSERT_EQ(audit_lines(), 80);

  CommandResult dry =
      rig_.cli({"replay", "--to-handler", "audit", "--since", iso8601(boundary), "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_NE(dry.out.find("would send 30 of 30 archived messages"), std::string::npos) << dry;
  // --until ends the range before the boundary; --event narrows it to matching events.
  dry = rig_.cli({"replay", "--to-handler", "audit", "--since", "1h", "--until", iso8601(boundary),
                  "--dry-run"});
  EXPECT_NE(dry.out.find("would send 50 of 50 archived messages"), std::string::npos) << dry;
  dry = rig_.cli(
      {"replay", "--to-handler", "audit", "--since", "1h", "--event", "user.*", "--dry-run"});
  EXPECT_NE(dry.out.find("would send 0 of 80 archived messages"), std::string::npos) << dry;
  dry = rig_.cli(
      {"replay", "--to-handler", "audit", "--since", "1h", "--event", "quote.*", "--dry-run"});
  EXPECT_NE(dry.out.find("would send 80 of 80 archived messages"), std::string::npos) << dry;
  CommandResult run = rig_.cli({"replay", "--to-handler", "audit", "--since", iso8601(boundary)});
  EXPECT_EQ(run.exit_code, 0) << run;
  ASSERT_TRUE(wait_until([&] { return audit_lines() == 110 && rig_.retrying() == 0; }, 30s,
                         "the replay delivered"))
      << rig_.describe() << "\n"
      << daemon.log_tail();
  // The 30 lines after the first 80 are the second range again: quotes 101..130.
  const std::vector<std::string> lines = file_lines(rig_.file("audit.jsonl"));
  std::set<int64_t> replayed;
  for (size_t i = 80; i < lines.size(); ++i) {
    const size_t at = lines[i].find("\"quote_id\":");
    ASSERT_NE(at, std::string::npos) << lines[i];
    replayed.insert(std::stoll(lines[i].substr(at + 11)));
  }
  std::set<int64_t> second;
  for (int64_t q = 101; q <= 130; ++q) second.insert(q);
  EXPECT_EQ(replayed, second);
  // The same replay again sends nothing; --reset sends the range again.
  EXPECT_NE(rig_.cli({"replay", "--to-handler", "audit", "--since", iso8601(boundary)})
                .out.find("sent 0 of 0"),
            std::string::npos);
  CommandResult reset =
      rig_.cli({"replay", "--to-handler", "audit", "--since", iso8601(boundary), "--reset"});
  EXPECT_NE(reset.out.find("sent 30 of 30"), std::string::npos) << reset;
  ASSERT_TRUE(wait_until([&] { return audit_lines() == 140; }, 30s, "the second replay"))
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

// The README's story ("History: archive, backfill, replay"), step by step: events have flowed
// for a day with the archive on; a new handler is added with two lines of routes.yaml and a
// reload; it backfills yesterday, then keeps up live. The producer changes nothing.
TEST_F(HistoryTest, TheReadmeStoryANewHandlerBackfillsYesterdayThenKeepsUpLive) {
  // Yesterday, as the daemon's acks archived it: 1000 events (500 quotes) handled over the last
  // 23 hours, each archive id the time it was handled.
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  const std::vector<std::string> yesterday = mixed_events(1000, 5001);
  for (size_t i = 0; i < yesterday.size(); ++i) {
    const int64_t handled_ms = now - 23 * 3600 * 1000 + static_cast<int64_t>(i) * 79'000;
    rig_.client().command(
        {"XADD", archive_key(), std::to_string(handled_ms) + "-0", "m", yesterday[i]});
  }
  // Today: the daemon, with the archive on, handles more.
  const std::string archive = "{ retention: 7d, max_len: 10000000 }";
  rig_.write_config(spec(false, archive));
  SwitchyardProcess daemon = rig_.start();
  publish_and_drain(mixed_events(200, 9001), daemon);  // 100 quotes
  EXPECT_EQ(rig_.quotes(), 100);

  // The new handler: its entry under handlers: and its route, then a reload.
  rig_.write_config(spec(true, archive));
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return daemon.log().find("reloaded ") != std::string::npos; }, 10s,
                         "the log line \"reloaded\""))
      << daemon.log_tail();

  // Feed it yesterday (the last 24 hours): yesterday's 500 quotes and today's 100.
  CommandResult dry =
      rig_.cli({"backfill", "--handler", "quotes_new", "--since", "24h", "--dry-run"});
  EXPECT_EQ(dry.exit_code, 0) << dry;
  EXPECT_NE(dry.out.find("would send 600 of 1200 archived messages"), std::string::npos) << dry;
  CommandResult run =
      rig_.cli({"backfill", "--handler", "quotes_new", "--since", "24h", "--rate", "2000/s"});
  EXPECT_EQ(run.exit_code, 0) << run;
  ASSERT_TRUE(wait_until([&] { return new_quotes() == 600 && rig_.retrying() == 0; }, 30s,
                         "yesterday in quotes_new"))
      << rig_.describe() << "\n"
      << daemon.log_tail();
  CommandResult stats = rig_.cli({"stats"});
  EXPECT_NE(stats.out.find("BACKFILL handler quotes_new"), std::string::npos) << stats;
  EXPECT_NE(stats.out.find("sent 600 of 1200 archived"), std::string::npos) << stats;

  // Then it keeps up live, next to quotes_db.
  publish_and_drain(quotes(20001, 50), daemon);
  EXPECT_EQ(new_quotes(), 650);
  EXPECT_EQ(rig_.quotes(), 150);
  EXPECT_EQ(rig_.dead_count(), 0);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

// A backfill's deliveries follow the retry and dead-letter rules of live ones: a handler that
// fails twice per message handles each on its third attempt; one that keeps failing dead-letters
// each after max_attempts (5), naming itself.
TEST_F(HistoryTest, BackfilledDeliveriesAreRetriedAndDeadLetteredLikeLiveOnes) {
  const std::string archive = "{ retention: 1d }";
  rig_.write_config(spec(false, archive));
  SwitchyardProcess daemon = rig_.start();
  publish_and_drain(quotes(1, 20), daemon);
  RoutesYaml added = spec(false, archive);
  added.extra_handlers +=
      flaky_handler(rig_.file("flaky.jsonl"), 2) +
      "doomed:\n  plugin: flaky_sink\n  config: { path: " + json_string(rig_.file("doomed.jsonl")) +
      ", fail_times: 100 }\n";
  added.extra_routes = "\"quote.*\": [audit, flaky, doomed]";
  rig_.write_config(added);
  ASSERT_TRUE(daemon.reload());
  ASSERT_TRUE(wait_until([&] { return daemon.log().find("reloaded ") != std::string::npos; }, 10s,
                         "the log line \"reloaded\""))
      << daemon.log_tail();
  for (const char* handler : {"flaky", "doomed"}) {
    CommandResult run = rig_.cli({"backfill", "--handler", handler, "--since", "1h"});
    EXPECT_NE(run.out.find("sent 20 of 20 archived messages"), std::string::npos) << run;
  }
  ASSERT_TRUE(wait_until(
      [&] {
        return file_lines(rig_.file("flaky.jsonl")).size() == 20 && rig_.dead_count() == 20 &&
               rig_.retrying() == 0;
      },
      30s, "the backfilled deliveries handled or dead-lettered"))
      << rig_.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(distinct_count(file_lines(rig_.file("flaky.jsonl"))), 20u);
  EXPECT_EQ(file_lines(rig_.file("doomed.jsonl")).size(), 0u);
  for (const DeadLetterView& d : read_dead_letters(rig_.client(), rig_.dead_key())) {
    EXPECT_EQ(d.handler.value_or(""), "doomed") << d.raw;
    EXPECT_EQ(d.attempts, 5) << d.raw;
  }
  EXPECT_EQ(audit_lines(), 20);  // audit saw each once, live
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

// `stats` and `stats --json` show each source's and handler's limits as routes.yaml sets them.
TEST_F(HistoryTest, StatsShowsTheLimitsOfSourcesAndHandlers) {
  RoutesYaml paced = fault_spec("batch: 100\nmax_rate: 2000/s");
  paced.extra_handlers = audit_handler(rig_.file("audit.jsonl")) +
                         "  max_rate: 30/m\n  max_in_flight: 2\n"
                         "  dedup: { key: /payload/quote_id, window: 24h }\n";
  paced.extra_routes = "\"quote.*\": [audit]";
  rig_.write_config(paced);
  CommandResult json = rig_.cli({"stats", "--json"});
  EXPECT_EQ(json.exit_code, 0) << json;
  EXPECT_NE(json.out.find("\"limits\":{\"max_rate\":\"2000/s\",\"handlers\":{"
                          "\"users_db\":{\"max_rate\":null,\"max_in_flight\":null,\"dedup\":null},"
                          "\"quotes_db\":{\"max_rate\":null,\"max_in_flight\":null,\"dedup\":null},"
                          "\"audit\":{\"max_rate\":\"30/m\",\"max_in_flight\":2,\"dedup\":"
                          "{\"key\":\"/payload/quote_id\",\"window_seconds\":86400}}}}"),
            std::string::npos)
      << json;
  CommandResult text = rig_.cli({"stats"});
  EXPECT_EQ(text.exit_code, 0) << text;
  EXPECT_NE(text.out.find("limits: source events max_rate 2000/s\n"), std::string::npos) << text;
  EXPECT_NE(text.out.find("limits: handler audit, max_rate 30/m per source, max_in_flight 2, "
                          "dedup /payload/quote_id for 86400s\n"),
            std::string::npos)
      << text;
}

TEST_F(HistoryTest, UsageErrorsSayWhatToDo) {
  RoutesYaml no_archive = fault_spec("batch: 100");
  rig_.write_config(no_archive);
  CommandResult r = rig_.cli({"backfill", "--handler", "quotes_db", "--since", "1h"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("no source keeps an archive"), std::string::npos) << r;
  rig_.write_config(spec(false, "{ retention: 1d }"));
  r = rig_.cli({"backfill", "--handler", "nope", "--since", "1h"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("no handler named \"nope\""), std::string::npos) << r;
  r = rig_.cli({"backfill", "--handler", "quotes_db", "--since", "yesterday"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("--since \"yesterday\""), std::string::npos) << r;
  r = rig_.cli({"backfill", "--handler", "quotes_db", "--since", "1h", "--rate", "fast"});
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_NE(r.err.find("5000/s"), std::string::npos) << r;
}

// One entry per stream node, so that the approximate trims (MAXLEN ~, MINID ~) are exact here.
class ArchiveRetentionTest : public HistoryTest {
 protected:
  ArchiveRetentionTest() : HistoryTest(node_of_one()) {}
  static RedisServerOptions node_of_one() {
    RedisServerOptions o;
    o.extra_args = {"--stream-node-max-entries", "1"};
    return o;
  }
};

TEST_F(ArchiveRetentionTest, TheArchiveIsTrimmedByLengthAndByAge) {
  rig_.write_config(spec(false, "{ retention: 1s, max_len: 50 }"));
  SwitchyardProcess daemon = rig_.start();
  const std::vector<std::string> first = quotes(1, 120);
  rig_.publish(first);
  ASSERT_TRUE(wait_until([&] { return rig_.quotes() == 120 && rig_.drained(); }, 30s,
                         "the first messages handled"))
      << daemon.log_tail();
  // By length: the newest 50.
  EXPECT_EQ(archived_messages(rig_.client(), archive_key()),
            std::vector<std::string>(first.end() - 50, first.end()));
  // By age: once they are older than 1 s, the next ack drops them.
  const std::vector<ArchivedMessage> kept = archived(rig_.client(), archive_key());
  const int64_t newest = std::stoll(kept.back().id.substr(0, kept.back().id.find('-')));
  ASSERT_TRUE(wait_until(
      [&] {
        return std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() > newest + 1100;
      },
      5s, "the archived messages to age past the retention"));
  const std::vector<std::string> second = quotes(1001, 5);
  rig_.publish(second);
  ASSERT_TRUE(wait_until([&] { return rig_.quotes() == 125 && rig_.drained(); }, 30s,
                         "the second messages handled"))
      << daemon.log_tail();
  EXPECT_EQ(archived_messages(rig_.client(), archive_key()), second);
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
}

}  // namespace
}  // namespace switchyard::test::fault
