// behind_sampler_test.cc: the oldest-message age of each source kind and the snapshot the
// sampler publishes to K:stats, against a private redis-server. Times are given explicitly (a
// fake clock) where the code takes them.
#include "source/behind_sampler.h"

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <memory>
#include <string>

#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "source/source.h"
#include "support/redis_server.h"

namespace switchyard {
namespace {

class BehindSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_.start();
    std::string error;
    ASSERT_TRUE(parse_redis_url(server_.url(), &endpoint_, &error)) << error;
    connection_ = std::make_unique<RedisConnection>(endpoint_, "test");
    ASSERT_TRUE(connection_->connect().is_ok());
  }
  SourceConfig list_source(const std::string& key) {
    SourceConfig source;
    source.name = key;
    source.key = key;
    return source;
  }
  double age_at(const SourceConfig& source, int64_t now_ms) {
    double age = -1;
    Status s = read_oldest_age(*connection_, source, now_ms, &age);
    EXPECT_TRUE(s.is_ok()) << s.message();
    return age;
  }

  test::RedisServer server_;
  RedisEndpoint endpoint_;
  std::unique_ptr<RedisConnection> connection_;
  test::RedisClient client() { return server_.client(); }
};

TEST_F(BehindSamplerTest, ListAgeIsTheTimeSinceTheHeadWasFirstSeen) {
  const SourceConfig source = list_source("events");
  test::RedisClient redis = client();
  EXPECT_EQ(age_at(source, 1000000), 0.0);  // nothing waits
  redis.rpush("events", "a");
  redis.rpush("events", "b");
  EXPECT_EQ(age_at(source, 1000000), 0.0);   // first seen now
  EXPECT_EQ(age_at(source, 1030000), 30.0);  // the same head, 30 s later
  // Another instance (another connection) agrees: the first sighting lives in K:stats.
  RedisConnection other(endpoint_, "other");
  ASSERT_TRUE(other.connect().is_ok());
  double age = 0;
  ASSERT_TRUE(read_oldest_age(other, source, 1045000, &age).is_ok());
  EXPECT_EQ(age, 45.0);
  // The head is taken: the next one was first seen now.
  redis.command({"LPOP", "events"});
  EXPECT_EQ(age_at(source, 1050000), 0.0);
  EXPECT_EQ(age_at(source, 1052500), 2.5);
  redis.command({"LPOP", "events"});
  EXPECT_EQ(age_at(source, 1060000), 0.0);
  EXPECT_EQ(redis.command({"HEXISTS", "events:stats", "head"}).integer, 0);
}

TEST_F(BehindSamplerTest, LeaseAgeSkipsTheTakenWindow) {
  SourceConfig source = list_source("events");
  source.delivery = Delivery::kLease;
  test::RedisClient redis = client();
  redis.rpush("events", "taken");
  redis.rpush("events", "waiting");
  redis.command({"HSET", "events:window", "n", "1"});
  EXPECT_EQ(age_at(source, 5000), 0.0);
  EXPECT_EQ(age_at(source, 9000), 4.0);
  const std::string seen = redis.command({"HGET", "events:stats", "head"}).str;
  EXPECT_EQ(seen.substr(41), "5000");
  // The window is acknowledged (trimmed): "waiting" stays the oldest, same first sighting.
  redis.command({"LPOP", "events"});
  redis.command({"HSET", "events:window", "n", "0"});
  EXPECT_EQ(age_at(source, 10000), 5.0);
}

TEST_F(BehindSamplerTest, StreamAgeIsTheFirstUndeliveredEntrysTime) {
  SourceConfig source = list_source("s");
  source.type = SourceType::kStream;
  source.group = "g";
  source.start = "0";
  test::RedisClient redis = client();
  EXPECT_EQ(age_at(source, 1000000), 0.0);  // no stream
  redis.command({"XADD", "s", "1000-0", "message", "a"});
  redis.command({"XADD", "s", "4000-0", "message", "b"});
  EXPECT_EQ(age_at(source, 10000), 9.0);  // no group yet, start 0: all of it waits
  redis.command({"XGROUP", "CREATE", "s", "g", "0"});
  EXPECT_EQ(age_at(source, 10000), 9.0);
  redis.command({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"});
  EXPECT_EQ(age_at(source, 10000), 6.0);  // 1000-0 is delivered, 4000-0 is the oldest waiting
  redis.command({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"});
  EXPECT_EQ(age_at(source, 10000), 0.0);
}

TEST_F(BehindSamplerTest, AStatsKeyOfTheWrongTypeIsNamedNotOverwritten) {
  test::RedisClient redis = client();
  redis.rpush("events", "a");
  redis.command({"SET", "events:stats", "mine"});
  double age = 0;
  Status s = read_oldest_age(*connection_, list_source("events"), 1000, &age);
  ASSERT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("events:stats is not a hash"), std::string::npos) << s.message();
  EXPECT_NE(s.message().find("DEL it"), std::string::npos) << s.message();
  EXPECT_EQ(redis.command({"GET", "events:stats"}).str, "mine");
}

TEST_F(BehindSamplerTest, PublishesASnapshotPerInstanceAndSumsTheInstancesTakeRates) {
  test::RedisClient redis = client();
  for (int i = 0; i < 10; ++i) redis.rpush("events", "m" + std::to_string(i));
  Metrics metrics;
  metrics.observe_handler_seconds("users_db", 0.003);
  metrics.add_handled("users_db", "ok", 1);
  BehindSampler sampler({list_source("events")}, {"host:1"}, &metrics);
  // Another live instance reports it takes 7/s; a long-gone one is deleted.
  int64_t now_ms = 0;
  ASSERT_TRUE(redis_time_ms(*connection_, &now_ms).is_ok());
  redis.command({"HSET", "events:stats", "instance:host:2",
                 "{\"at_ms\":" + std::to_string(now_ms) + ",\"taken_1m\":7,\"taken_5m\":7}"});
  redis.command({"HSET", "events:stats", "instance:gone",
                 "{\"at_ms\":" + std::to_string(now_ms - 120000) + ",\"taken_1m\":100}"});
  ASSERT_TRUE(sampler.sample(*connection_).is_ok());
  const std::string text = metrics.render();
  EXPECT_NE(text.find("switchyard_source_out_rate{source=\"events\",window=\"1m\"} 7\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(redis.command({"HEXISTS", "events:stats", "instance:gone"}).integer, 0);
  const std::string snapshot = redis.command({"HGET", "events:stats", "instance:host:1"}).str;
  rapidjson::Document doc;
  doc.Parse(snapshot.c_str());
  ASSERT_FALSE(doc.HasParseError()) << snapshot;
  EXPECT_EQ(doc["pending"].GetInt64(), 10) << snapshot;
  EXPECT_EQ(doc["out_1m"].GetDouble(), 7.0) << snapshot;
  // 7/s taken and as many arriving (the backlog held): it never drains at this rate.
  EXPECT_TRUE(doc["drain_eta_seconds"].IsNull()) << snapshot;
  ASSERT_TRUE(doc["handlers"].HasMember("users_db")) << snapshot;
  EXPECT_EQ(doc["handlers"]["users_db"]["buckets_1m"].Size(), Metrics::duration_bounds().size());
  sampler.withdraw(*connection_);
  EXPECT_EQ(redis.command({"HEXISTS", "events:stats", "instance:host:1"}).integer, 0);
}

// The backfills of the running handlers go into the switchyard_backfill_* series; a cursor key
// of another type is named in the error and stops nothing else: the next source is sampled.
TEST_F(BehindSamplerTest, BackfillCursorsBecomeSeriesAndABadOneStopsNothingElse) {
  test::RedisClient redis = client();
  SourceConfig bad = list_source("bad"), events = list_source("events");
  bad.archive = events.archive = true;
  redis.command({"SET", "bad:backfill:new", "x"});
  redis.command({"HSET", "events:backfill:new", "from_ms", "1000", "until_ms", "2000", "last",
                 "2000-0", "done", "1", "sent_total", "30", "scanned_total", "70", "runs", "2"});
  Metrics metrics;
  BehindSampler sampler({bad, events}, {"host:1", "host:1"}, &metrics);
  const Status s = sampler.sample(*connection_, {"old", "new"});
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find("bad:backfill:new"), std::string::npos) << s.message();
  const std::string text = metrics.render();
  const std::string labels = "{source=\"events\",handler=\"new\"} ";
  for (const std::string& series :
       {"switchyard_backfill_sent_total" + labels + "30\n",
        "switchyard_backfill_scanned_total" + labels + "70\n",
        "switchyard_backfill_progress" + labels + "1\n",
        "switchyard_backfill_done" + labels + "1\n",
        "switchyard_backfill_eta_seconds" + labels + "0\n",
        std::string("switchyard_source_oldest_age_seconds{source=\"bad\"} 0\n")})
    EXPECT_NE(text.find(series), std::string::npos) << series << "\n" << text;
  EXPECT_EQ(text.find("handler=\"old\""), std::string::npos) << text;
}

TEST_F(BehindSamplerTest, AUserLimitedToItsKeysAndDataTypesCanSample) {
  // No TIME, TYPE or EXPIRE: the daemon's ACL user needs nothing beyond the source's own types.
  test::RedisClient redis = client();
  redis.command({"ACL", "SETUSER", "limited", "on", ">pw", "~events", "~events:*", "resetchannels",
                 "+@list", "+@hash", "+@sortedset", "+@stream", "+@string", "+@scripting",
                 "+@connection", "-@dangerous"});
  for (int i = 0; i < 3; ++i) redis.rpush("events", "m" + std::to_string(i));
  RedisEndpoint limited;
  std::string error;
  ASSERT_TRUE(parse_redis_url("unix://limited:pw@" + server_.socket_path(), &limited, &error))
      << error;
  RedisConnection connection(limited, "limited");
  ASSERT_TRUE(connection.connect().is_ok());
  Metrics metrics;
  BehindSampler sampler({list_source("events")}, {"host:1"}, &metrics);
  Status s = sampler.sample(connection);
  ASSERT_TRUE(s.is_ok()) << s.message();
  EXPECT_NE(metrics.render().find("switchyard_source_oldest_age_seconds{source=\"events\"} 0\n"),
            std::string::npos)
      << metrics.render();
  EXPECT_EQ(redis.command({"HEXISTS", "events:stats", "instance:host:1"}).integer, 1);
}

}  // namespace
}  // namespace switchyard
