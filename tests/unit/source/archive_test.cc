// archive_test.cc: the backfill cursor K:backfill:<handler> (source/archive.h) against a real
// redis-server: a chunk is enqueued with the cursor's move or not at all, so a resumed or
// repeated run never enqueues a chunk twice; and its progress and ETA.
#include "source/archive.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "redis/redis_connection.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

using Deliveries = std::vector<std::pair<std::string, std::string>>;

class ArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
    RedisEndpoint endpoint;
    endpoint.is_unix = true;
    endpoint.socket_path = server_.socket_path();
    connection_.emplace(endpoint, "archive_test");
    ASSERT_TRUE(connection_->connect()) << "cannot connect to " << server_.socket_path();
  }
  BackfillCursor cursor(const std::string& handler) {
    BackfillCursor c;
    bool found = false;
    Status s = read_backfill(&*connection_, keys_, handler, &c, &found);
    EXPECT_TRUE(s) << s.message();
    EXPECT_TRUE(found) << "no cursor for " << handler;
    return c;
  }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  std::optional<RedisConnection> connection_;
  const SourceKeys keys_{"q"};
};

TEST_F(ArchiveTest, AnArchiveIdStandsForItsMillisecond) {
  EXPECT_EQ(archive_id_ms("1700000000123-4"), 1700000000123);
  EXPECT_EQ(archive_id_ms("1700000000123"), 0);
  EXPECT_EQ(archive_id_ms("x-1"), 0);
  EXPECT_EQ(archive_id_ms(""), 0);
}

TEST_F(ArchiveTest, ProgressIsTheShareOfTheTimeRangeCopiedAndTheEtaFollowsThePace) {
  BackfillCursor c;
  c.from_ms = 1000;
  c.until_ms = 2000;
  c.started_ms = 10'000;
  EXPECT_EQ(c.fraction(), 0.0);
  EXPECT_FALSE(c.eta_ms(11'000).has_value());
  c.last_id = "1250-0";
  EXPECT_DOUBLE_EQ(c.fraction(), 0.25);
  EXPECT_EQ(c.eta_ms(11'000), 3000);  // a quarter in 1 s: three quarters in 3 s
  c.done = true;
  EXPECT_EQ(c.fraction(), 1.0);
  EXPECT_FALSE(c.eta_ms(11'000).has_value());
}

TEST_F(ArchiveTest, AChunkMovesTheCursorWithItsDeliveriesOnlyFromWhereItStands) {
  BackfillCursor fresh;
  fresh.from_ms = 1000;
  fresh.until_ms = 9000;
  fresh.started_ms = 5;
  fresh.rate = 100;
  ASSERT_TRUE(start_backfill(&*connection_, keys_, "h", fresh));
  bool moved = false;
  const Deliveries first = {{"10", "m1"}, {"10", "m2"}};
  ASSERT_TRUE(enqueue_backfill_chunk(&*connection_, keys_, "h", "", "1500-0", 3, first, 7, &moved));
  EXPECT_TRUE(moved);
  // The same chunk again (a run that did not see its reply, or a second run): nothing written.
  ASSERT_TRUE(enqueue_backfill_chunk(&*connection_, keys_, "h", "", "1500-0", 3, first, 8, &moved));
  EXPECT_FALSE(moved);
  EXPECT_EQ(client_->zcard(keys_.retry()), 2);
  const Deliveries second = {{"11", "m3"}};
  ASSERT_TRUE(
      enqueue_backfill_chunk(&*connection_, keys_, "h", "1500-0", "1700-0", 1, second, 9, &moved));
  EXPECT_TRUE(moved);
  EXPECT_EQ(client_->zcard(keys_.retry()), 3);
  BackfillCursor c = cursor("h");
  EXPECT_EQ(c.last_id, "1700-0");
  EXPECT_EQ(c.scanned, 4);
  EXPECT_EQ(c.sent, 3);
  EXPECT_EQ(c.updated_ms, 9);
  EXPECT_EQ(c.from_ms, 1000);
  EXPECT_EQ(c.until_ms, 9000);
  EXPECT_EQ(c.rate, 100);
  EXPECT_FALSE(c.done);
  ASSERT_TRUE(finish_backfill(&*connection_, keys_, "h", 12));
  EXPECT_TRUE(cursor("h").done);

  // A second run starts over its own totals and keeps those of every run.
  fresh.last_id = "1700-0";
  ASSERT_TRUE(start_backfill(&*connection_, keys_, "h", fresh));
  ASSERT_TRUE(
      enqueue_backfill_chunk(&*connection_, keys_, "h", "1700-0", "1800-0", 2, second, 13, &moved));
  EXPECT_TRUE(moved);
  c = cursor("h");
  EXPECT_FALSE(c.done);
  EXPECT_EQ(c.scanned, 2);
  EXPECT_EQ(c.sent, 1);
  EXPECT_EQ(c.runs, 2);
  EXPECT_EQ(c.scanned_all, 6);
  EXPECT_EQ(c.sent_all, 4);
}

TEST_F(ArchiveTest, AChunkWithoutACursorWritesNothing) {
  bool moved = true;
  ASSERT_TRUE(
      enqueue_backfill_chunk(&*connection_, keys_, "h", "", "1500-0", 1, {{"1", "m"}}, 1, &moved));
  EXPECT_FALSE(moved);
  EXPECT_EQ(client_->zcard(keys_.retry()), 0);
}

TEST_F(ArchiveTest, ACursorKeyOfAnotherTypeIsNamedWithWhatToDo) {
  client_->command({"SET", keys_.backfill("h"), "x"});
  BackfillCursor c;
  bool found = false;
  Status s = read_backfill(&*connection_, keys_, "h", &c, &found);
  ASSERT_FALSE(s);
  EXPECT_NE(s.message().find(keys_.backfill("h")), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("DEL"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace switchyard
