// lease_source_test.cc: LeaseSource (delivery: lease) against a real redis-server: windows taken
// in order and trimmed on ack, the lease fencing a paused former owner, the window a dead
// consumer left taken one message at a time with delivery counts, lost replies, a head that
// changed under the window, and the refusal to mix with delivery: inflight consumers.
#include "source/lease_source.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "source/list_source.h"
#include "support/redis_server.h"
#include "support/wait.h"

namespace switchyard {
namespace {

using namespace std::chrono_literals;

// This host's current boot id, as run tokens carry it.
std::string boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string line;
  std::getline(in, line);
  return line;
}

// A run token ("<boot id>/<pid>/<start>") of a process of this boot that has exited: what a
// crashed run of a consumer name leaves in K:lease.
std::string dead_run_token(const std::string& start) {
  const pid_t child = fork();
  if (child == 0) _exit(0);
  int status = 0;
  waitpid(child, &status, 0);
  return boot_id() + "/" + std::to_string(child) + "/" + start;
}

// A run token of a live process (this test's own) with its own start time.
std::string live_run_token(const std::string& start) {
  return boot_id() + "/" + std::to_string(getpid()) + "/" + start;
}

constexpr const char* kKey = "events";

class LeaseSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    client_.emplace(server_.client());
  }

  std::unique_ptr<RedisConnection> connect() {
    RedisEndpoint endpoint;
    std::string error;
    EXPECT_TRUE(parse_redis_url(server_.url(), &endpoint, &error)) << error;
    auto connection = std::make_unique<RedisConnection>(endpoint, "test");
    Status s = connection->connect();
    EXPECT_TRUE(s.is_ok()) << s.message();
    return connection;
  }

  // A started source on its own connection (kept alive by the fixture).
  std::unique_ptr<LeaseSource> source(const std::string& consumer, const std::string& token,
                                      std::chrono::milliseconds ttl = 30s, int max_deliveries = 5) {
    connections_.push_back(connect());
    auto s = std::make_unique<LeaseSource>(connections_.back().get(), kKey, consumer, token, ttl);
    Status started = s->start(max_deliveries, "events-source");
    EXPECT_TRUE(started.is_ok()) << started.message();
    return s;
  }

  static std::vector<std::string> messages(int n, int from = 0) {
    std::vector<std::string> out;
    for (int i = from; i < from + n; ++i)
      out.push_back("{\"event\":\"e\",\"payload\":{\"n\":" + std::to_string(i) + "}}");
    return out;
  }

  static std::vector<std::string> strings(const TakenBatch& batch) {
    return {batch.messages.begin(), batch.messages.end()};
  }

  static void take(LeaseSource& s, int max, TakenBatch* batch) {
    Status st = s.take(max, 0ms, batch);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }

  static bool ack(LeaseSource& s, const TakenBatch& batch, const AckWrites& writes = {}) {
    bool owned = false;
    Status st = s.ack(batch, writes, &owned);
    EXPECT_TRUE(st.is_ok()) << st.message();
    return owned;
  }

  test::RedisClient& client() { return *client_; }

  test::RedisServer server_;
  std::optional<test::RedisClient> client_;
  std::vector<std::unique_ptr<RedisConnection>> connections_;
};

TEST_F(LeaseSourceTest, TakesWindowsInOrderAndTrimsThemOnAck) {
  auto s = source("host:0", "t1");
  const std::vector<std::string> pushed = messages(2500);
  client().rpush_many(kKey, pushed, 1000);
  std::vector<std::string> taken;
  TakenBatch batch;
  for (int round = 0; round < 3; ++round) {
    take(*s, 1000, &batch);
    // Nothing is copied: the window is still at the head of K until the ack.
    EXPECT_EQ(client().llen(kKey), 2500 - static_cast<int64_t>(taken.size()));
    std::vector<std::string> got = strings(batch);
    taken.insert(taken.end(), got.begin(), got.end());
    EXPECT_TRUE(ack(*s, batch));
  }
  EXPECT_EQ(taken, pushed);
  EXPECT_EQ(client().llen(kKey), 0);
  take(*s, 1000, &batch);
  EXPECT_TRUE(batch.messages.empty());
  EXPECT_TRUE(client().command({"EXISTS", std::string(kKey) + ":window"}).integer == 0);
  EXPECT_EQ(client().command({"GET", std::string(kKey) + ":lease"}).str, "host:0|t1");
}

TEST_F(LeaseSourceTest, AckWritesDeadLettersAndRetriesWithTheTrim) {
  auto s = source("host:0", "t1");
  client().rpush_many(kKey, messages(10), 1000);
  TakenBatch batch;
  take(*s, 1000, &batch);
  AckWrites writes;
  writes.dead_letters.push_back("{\"message\":\"x\"}");
  writes.retries.emplace_back(12345, "retry-member");
  EXPECT_TRUE(ack(*s, batch, writes));
  EXPECT_EQ(client().llen(kKey), 0);
  EXPECT_EQ(client().lrange(std::string(kKey) + ":dead"),
            std::vector<std::string>{"{\"message\":\"x\"}"});
  EXPECT_EQ(client().zcard(std::string(kKey) + ":retry"), 1);
}

TEST_F(LeaseSourceTest, AnotherConsumerStandsByUntilTheLeaseExpiresAndThePausedOwnerCannotTrim) {
  auto first = source("host-a:0", "ta", 300ms);
  auto second = source("host-b:0", "tb", 300ms);
  client().rpush_many(kKey, messages(20), 1000);
  TakenBatch a, b;
  take(*first, 5, &a);
  ASSERT_EQ(a.messages.size(), 5u);
  take(*second, 5, &b);
  EXPECT_TRUE(b.messages.empty()) << "the second consumer must stand by while the lease is held";

  // The first pauses past the lease (no renewal): the second takes over and, since the first
  // died (as far as anyone can tell) holding a window, takes that window's messages one by one.
  ASSERT_TRUE(test::wait_until(
      [&] {
        take(*second, 5, &b);
        return !b.messages.empty();
      },
      5s, "the standby to take over after the lease expired"));
  EXPECT_EQ(strings(b), messages(1));
  // The paused first owner wakes up and acks: fenced, nothing trimmed.
  EXPECT_FALSE(ack(*first, a));
  EXPECT_EQ(client().llen(kKey), 20);
  EXPECT_TRUE(ack(*second, b));
  EXPECT_EQ(client().llen(kKey), 19);
  // The first now stands by.
  take(*first, 5, &a);
  EXPECT_TRUE(a.messages.empty());
}

TEST_F(LeaseSourceTest, ARestartedConsumerTakesTheDeadWindowOneByOneThenFullWindows) {
  client().rpush_many(kKey, messages(10), 1000);
  {
    auto dead = source("host:0", dead_run_token("1"));
    TakenBatch batch;
    take(*dead, 4, &batch);
    ASSERT_EQ(batch.messages.size(), 4u);
    // Killed here: no ack.
  }
  // Same consumer name, new run: takes over at once (no wait for the lease to expire).
  auto s = source("host:0", dead_run_token("2"));
  TakenBatch batch;
  std::vector<std::string> taken;
  for (int i = 0; i < 4; ++i) {
    take(*s, 4, &batch);
    ASSERT_EQ(batch.messages.size(), 1u) << "suspect message " << i << " must travel alone";
    taken.push_back(std::string(batch.messages[0]));
    EXPECT_EQ(client().command({"HLEN", std::string(kKey) + ":deliveries"}).integer, 1);
    EXPECT_TRUE(ack(*s, batch));
  }
  EXPECT_EQ(client().command({"HLEN", std::string(kKey) + ":deliveries"}).integer, 0);
  take(*s, 4, &batch);
  EXPECT_EQ(batch.messages.size(), 4u) << "after the suspects, full windows again";
  taken.insert(taken.end(), batch.messages.begin(), batch.messages.end());
  EXPECT_TRUE(ack(*s, batch));
  EXPECT_EQ(taken, messages(8));
  EXPECT_EQ(client().llen(kKey), 2);
}

TEST_F(LeaseSourceTest, AnotherLiveRunUnderTheSameNameStandsByUntilTheLeaseExpires) {
  client().rpush_many(kKey, messages(10), 1000);
  auto first = source("host:0", live_run_token("1"), 300ms);
  TakenBatch batch;
  take(*first, 4, &batch);
  ASSERT_EQ(batch.messages.size(), 4u);
  // A second process under the same name (a cloned host) whose first run is alive: nothing.
  auto second = source("host:0", live_run_token("2"), 300ms);
  TakenBatch other;
  take(*second, 4, &other);
  EXPECT_TRUE(other.messages.empty()) << "took the live run's lease";
  EXPECT_TRUE(ack(*first, batch)) << "the live holder's ack was refused";
  const auto alert =
      client().command({"HGET", std::string(kKey) + ":alerts", "consumer_name_taken"});
  EXPECT_FALSE(alert.is_nil());
  // The first run goes silent: its lease expires and the second takes over.
  ASSERT_TRUE(test::wait_until(
      [&] {
        take(*second, 4, &other);
        return !other.messages.empty();
      },
      5s, "the second run to take over once the lease expired"));
  EXPECT_EQ(strings(other), messages(4, 4));
}

TEST_F(LeaseSourceTest, APoisonMessageGoesToTheDeadLettersAfterMaxDeliveries) {
  client().rpush_many(kKey, messages(3), 1000);
  // Each run takes the head and dies on it; max_deliveries 3.
  for (int run = 0; run < 3; ++run) {
    auto s = source("host:0", dead_run_token(std::to_string(run)), 30s, 3);
    TakenBatch batch;
    take(*s, 10, &batch);
    ASSERT_FALSE(batch.messages.empty());
    EXPECT_EQ(std::string(batch.messages[0]), messages(1)[0]);
  }
  auto s = source("host:0", "final", 30s, 3);
  TakenBatch batch;
  take(*s, 10, &batch);
  // The poison message is dead-lettered; its window neighbours are delivered one by one.
  ASSERT_EQ(strings(batch), messages(1, 1));
  std::vector<std::string> dead = client().lrange(std::string(kKey) + ":dead");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_NE(dead[0].find("exceeded max deliveries (3)"), std::string::npos) << dead[0];
  EXPECT_NE(dead[0].find("\\\"n\\\":0"), std::string::npos) << dead[0];
  EXPECT_TRUE(ack(*s, batch));
  take(*s, 10, &batch);
  EXPECT_EQ(strings(batch), messages(1, 2));
  EXPECT_TRUE(ack(*s, batch));
  EXPECT_EQ(client().llen(kKey), 0);
}

TEST_F(LeaseSourceTest, ATakeWhoseReplyWasLostReturnsTheSameWindowAgain) {
  auto s = source("host:0", "t1");
  client().rpush_many(kKey, messages(6), 1000);
  TakenBatch batch;
  take(*s, 4, &batch);
  client().rpush_many(kKey, messages(2, 6), 1000);
  Status st = s->after_lost_take("events-source");
  ASSERT_TRUE(st.is_ok());
  take(*s, 100, &batch);
  EXPECT_EQ(strings(batch), messages(4)) << "the unacknowledged window, not a bigger one";
  EXPECT_TRUE(ack(*s, batch));
  take(*s, 100, &batch);
  EXPECT_EQ(strings(batch), messages(4, 4));
}

TEST_F(LeaseSourceTest, AHeadChangedUnderTheWindowIsNeverTrimmed) {
  auto s = source("host:0", "t1");
  client().rpush_many(kKey, messages(5), 1000);
  TakenBatch batch;
  take(*s, 5, &batch);
  client().command({"LPUSH", kKey, "pushed-to-the-head"});
  EXPECT_FALSE(ack(*s, batch));
  EXPECT_EQ(client().llen(kKey), 6) << "nothing may be trimmed when the head moved";
  take(*s, 10, &batch);
  EXPECT_EQ(batch.messages.size(), 6u);
  EXPECT_EQ(std::string(batch.messages[0]), "pushed-to-the-head");
}

TEST_F(LeaseSourceTest, TheTwoDeliveryModesRefuseToMix) {
  client().rpush_many(kKey, messages(3), 1000);
  auto lease = source("host:0", "t1");
  TakenBatch batch;
  take(*lease, 10, &batch);
  ASSERT_EQ(batch.messages.size(), 3u);
  // An inflight-mode consumer is refused while the lease is held.
  connections_.push_back(connect());
  ListSource list(connections_.back().get(), kKey, "other:0", 0, "tok", 30s);
  TakenBatch other;
  Status st = list.take(10, 0ms, &other);
  EXPECT_FALSE(st.is_ok());
  EXPECT_NE(st.message().find("delivery: lease"), std::string::npos) << st.message();
  EXPECT_TRUE(ack(*lease, batch));

  // And a lease consumer stands by while inflight-mode consumers have in-flight lists.
  client().command({"DEL", std::string(kKey) + ":lease"});
  client().rpush_many(kKey, messages(3, 3), 1000);
  ASSERT_TRUE(list.take(1, 0ms, &other).is_ok());
  ASSERT_EQ(other.messages.size(), 1u);
  ASSERT_TRUE(list.heartbeat(1).is_ok());
  auto second = source("host-b:0", "t2");
  take(*second, 10, &batch);
  EXPECT_TRUE(batch.messages.empty());
}

TEST_F(LeaseSourceTest, ABlockedTakeWakesOnAPushWithoutReorderingAnything) {
  auto s = source("host:0", "t1");
  std::thread producer([this] {
    std::this_thread::sleep_for(
        50ms);  // let the take block first; the result does not depend on it
    test::RedisClient c = server_.client();
    c.rpush_many(kKey, messages(3), 1000);
  });
  TakenBatch batch;
  auto started = std::chrono::steady_clock::now();
  while (batch.messages.empty() && std::chrono::steady_clock::now() - started < 5s) {
    Status st = s->take(100, 1000ms, &batch);
    ASSERT_TRUE(st.is_ok()) << st.message();
  }
  producer.join();
  ASSERT_FALSE(batch.messages.empty());
  std::vector<std::string> got = strings(batch);
  std::vector<std::string> expected = messages(static_cast<int>(got.size()));
  EXPECT_EQ(got, expected);
}

TEST_F(LeaseSourceTest, LaravelNotifyTokensAreTrimmedWithEachFreshWindow) {
  connections_.push_back(connect());
  LeaseSource s(connections_.back().get(), kKey, "host:0", "t1", 30s);
  s.set_notify_key(std::string(kKey) + ":notify");
  ASSERT_TRUE(s.start(5, "laravel").is_ok());
  client().rpush_many(kKey, messages(10), 1000);
  client().rpush_many(std::string(kKey) + ":notify", std::vector<std::string>(10, "1"), 1000);
  TakenBatch batch;
  take(s, 6, &batch);
  EXPECT_EQ(client().llen(std::string(kKey) + ":notify"), 4);
  EXPECT_TRUE(ack(s, batch));
  take(s, 6, &batch);
  EXPECT_EQ(batch.messages.size(), 4u);
  EXPECT_EQ(client().llen(std::string(kKey) + ":notify"), 0);
}

}  // namespace
}  // namespace switchyard
