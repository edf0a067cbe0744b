// backfill_kill9_test.cc: a backfill of 100,000 archived events into a new SQLite handler gives
// exact rows while live events flow, across a SIGKILL of the backfill command and one of the
// daemon halfway (README "History: archive, backfill, replay"). Labelled heavy.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "integration/fault/fault_support.h"
#include "support/archive.h"

namespace switchyard::test::fault {
namespace {

std::vector<std::string> quotes(int64_t first, int64_t n) {
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) out.push_back(quote_created(first + i));
  return out;
}

int64_t field(RedisClient& client, const std::string& key, const std::string& name) {
  const Reply r = client.command({"HGET", key, name});
  return r.is_nil() ? 0 : std::stoll(r.str);
}

TEST(BackfillKill9Test, HundredThousandArchivedEventsReachANewHandlerExactlyWhileLiveEventsFlow) {
  constexpr int64_t kArchived = 100'000;
  constexpr int64_t kLive = 10'000;
  Rig rig(SourceKind::kList);
  const std::string new_db = rig.file("new.db");
  auto spec = [&](bool with_new_handler) {
    RoutesYaml s = fault_spec(
        "batch: 256\nworkers: 2\nreclaim_after: 1s\n"
        "archive: { retention: 1d, max_len: 1000000 }");
    if (with_new_handler) {
      s.extra_handlers = "quotes_new:\n  plugin: quote_created_sink\n  config: { database: " +
                         json_string(new_db) + " }\n";
      s.extra_routes = "\"quote.*\": [quotes_new]";
    }
    return s;
  };
  const std::string archive_key = rig.key() + ":archive";
  const std::string cursor_key = rig.key() + ":backfill:quotes_new";
  auto new_rows = [&] { return std::max<int64_t>(0, count_rows(new_db, "quotes")); };

  // A day of traffic, archived.
  rig.write_config(spec(false));
  SwitchyardProcess daemon = rig.start();
  const std::vector<std::string> day = quotes(1, kArchived);
  for (size_t at = 0; at < day.size(); at += 10'000)
    rig.publish(std::vector<std::string>(day.begin() + static_cast<long>(at),
                                         day.begin() + static_cast<long>(at + 10'000)));
  ASSERT_TRUE(wait_until(
      [&] {
        return rig.quotes() == kArchived &&
               rig.client().command({"XLEN", archive_key}).integer == kArchived;
      },
      180s, "the day's events handled and archived"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();

  // The new handler, and live traffic from now on.
  rig.write_config(spec(true));
  daemon = rig.start();
  std::atomic<bool> stop_live{false};
  RedisClient producer = rig.redis().client();
  std::thread live([&, producer = std::move(producer)]() mutable {
    const std::vector<std::string> more = quotes(200'001, kLive);
    for (size_t at = 0; at < more.size() && !stop_live; at += 250) {
      rig.publish(producer, std::vector<std::string>(more.begin() + static_cast<long>(at),
                                                     more.begin() + static_cast<long>(at + 250)));
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  struct JoinOnExit {
    std::thread& t;
    std::atomic<bool>& stop;
    ~JoinOnExit() {
      stop = true;
      if (t.joinable()) t.join();
    }
  } join_on_exit{live, stop_live};

  // The backfill, SIGKILLed once it enqueued some 40%.
  ChildProcess backfill;
  backfill.spawn({SwitchyardProcess::binary(), "backfill", "--handler", "quotes_new", "--since",
                  "1h", "--rate", "20000/s", "-c", rig.config_path()},
                 {}, rig.file("backfill-1.log"));
  ASSERT_TRUE(wait_until([&] { return field(rig.client(), cursor_key, "sent") >= 40'000; }, 60s,
                         "the backfill to enqueue 40,000"))
      << read_file(rig.file("backfill-1.log"));
  backfill.kill9();
  const int64_t sent_at_kill = field(rig.client(), cursor_key, "sent");
  EXPECT_LT(sent_at_kill, kArchived) << "the backfill finished before it could be killed";

  // The daemon, SIGKILLed while it delivers the backfill and live events.
  ASSERT_TRUE(wait_until([&] { return new_rows() >= 20'000; }, 60s, "deliveries to quotes_new"))
      << rig.describe() << "\n"
      << daemon.log_tail();
  daemon.kill9();
  daemon = rig.start("switchyard-2.log");

  // The same command again resumes where the cursor stands.
  const CommandResult resumed =
      SwitchyardProcess::exec({"backfill", "--handler", "quotes_new", "--since", "1h", "--rate",
                               "20000/s", "-c", rig.config_path()},
                              180s);
  EXPECT_EQ(resumed.exit_code, 0) << resumed;
  EXPECT_NE(resumed.out.find("resuming the backfill of quotes_new"), std::string::npos) << resumed;

  live.join();
  ASSERT_TRUE(wait_until(
      [&] {
        return new_rows() == kArchived + kLive && rig.quotes() == kArchived + kLive &&
               rig.drained();
      },
      180s, "every archived and live event in the new handler's table"))
      << rig.describe() << ", new " << new_rows() << "\n"
      << daemon.log_tail();
  EXPECT_EQ(daemon.stop(10s), 0) << daemon.log_tail();
  EXPECT_EQ(rig.dead_count(), 0);

  // Every archive entry of the range was read once and enqueued once: the cursor moved with
  // each chunk, in the same script, across the kill.
  const int64_t until_ms = field(rig.client(), cursor_key, "until_ms");
  int64_t in_range = 0;
  for (const ArchivedMessage& m : archived(rig.client(), archive_key))
    if (std::stoll(m.id.substr(0, m.id.find('-'))) < until_ms) ++in_range;
  EXPECT_GE(in_range, kArchived);
  EXPECT_EQ(field(rig.client(), cursor_key, "scanned"), in_range);
  EXPECT_EQ(field(rig.client(), cursor_key, "sent"), in_range);
  EXPECT_EQ(field(rig.client(), cursor_key, "done"), 1);
}

}  // namespace
}  // namespace switchyard::test::fault
