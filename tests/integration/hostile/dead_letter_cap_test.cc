// dead_letter_cap_test.cc: K:dead stays within the source's dead_letter_max and
// dead_letter_max_age (the oldest trimmed, counted in switchyard_dead_letters_trimmed_total), and
// an oversize message's dead letter keeps only its first 4 KiB, its length and its SHA-256.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "hostile_support.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kKey = "events";
constexpr const char* kDead = "events:dead";

// The value of the sample `name` in a Prometheus text page, or -1.
long long sample_value(const std::string& page, const std::string& name) {
  const size_t at = page.find("\n" + name + " ");
  if (at == std::string::npos) return -1;
  return std::stoll(page.substr(at + name.size() + 2));
}

TEST(DeadLetterCap, KeepsTheNewestDeadLetterMaxAndCountsTheTrimmed) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  TempDir dir;
  const int port = pick_free_tcp_port();
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = dir.file("analytics.db");
  spec.source_name = kKey;
  spec.source_key = kKey;
  spec.source_extra = "dead_letter_max: 10\nreclaim_after: 1s\n";
  spec.extra_yaml = "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));

  std::vector<std::string> bad;
  for (int i = 0; i < 25; ++i) bad.push_back("not json #" + std::to_string(i));
  ASSERT_EQ(client.rpush_many(kKey, bad), 25);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("daemon.log"));
  const std::string metric = "switchyard_dead_letters_trimmed_total{source=\"events\"}";
  std::string page;
  ASSERT_TRUE(wait_until(
      [&] {
        page = http_get(port, "/metrics").body;
        return client.llen(kKey) == 0 && client.llen(kDead) == 10 &&
               sample_value(page, metric) == 15;
      },
      60s, "K:dead trimmed to dead_letter_max with 15 counted"))
      << daemon.log_tail() << "\n"
      << page;
  // The newest ten stay, oldest first.
  const std::vector<std::string> left = client.lrange(kDead);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(read_dead_letter(left[i]).message, bad[15 + i]);
  EXPECT_NE(daemon.log_tail().find("dropped the"), std::string::npos) << daemon.log_tail();
  const auto stopped = daemon.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

TEST(DeadLetterCap, DropsLettersOlderThanDeadLetterMaxAge) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  TempDir dir;
  const int port = pick_free_tcp_port();
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = dir.file("analytics.db");
  spec.source_name = kKey;
  spec.source_key = kKey;
  spec.source_extra = "dead_letter_max_age: 1h\nreclaim_after: 1s\n";
  spec.extra_yaml = "metrics: {listen: \"127.0.0.1:" + std::to_string(port) + "\"}\n";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  std::vector<std::string> letters;
  for (int64_t age_minutes : {180, 61, 1}) {
    DeadLetter d;
    d.message = user_registered(age_minutes);
    d.source = kKey;
    d.reason = "aged " + std::to_string(age_minutes) + " minutes";
    d.failed_at = iso8601(now - age_minutes * 60 * 1000);
    letters.push_back(encode_dead_letter(d));
  }
  client.rpush_many(kDead, letters);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("daemon.log"));
  const std::string metric = "switchyard_dead_letters_trimmed_total{source=\"events\"}";
  std::string page;
  ASSERT_TRUE(wait_until(
      [&] {
        page = http_get(port, "/metrics").body;
        return client.llen(kDead) == 1 && sample_value(page, metric) == 2;
      },
      60s, "the two letters older than an hour dropped and counted"))
      << daemon.log_tail() << "\n"
      << page;
  EXPECT_EQ(client.lrange(kDead), std::vector<std::string>{letters[2]});
  const auto stopped = daemon.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

TEST(DeadLetterCap, AnOversizeMessageKeepsOnlyItsPrefixLengthAndSha256) {
  RedisServer redis;
  redis.start();
  RedisClient client = redis.client();
  TempDir dir;
  RoutesYaml spec;
  spec.redis_url = redis.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = dir.file("analytics.db");
  spec.source_name = kKey;
  spec.source_key = kKey;
  spec.extra_yaml = "limits: {max_message_bytes: 65536, max_depth: 64}\n";
  const std::string config = dir.write("routes.yaml", routes_yaml(spec));
  // 1 MiB of control characters: 6 MiB once JSON-escaped, were it stored whole.
  const std::string message = user_registered(1).substr(0, 30) + std::string(1 << 20, '\x01');
  ASSERT_EQ(client.rpush(kKey, message), 1);
  SwitchyardProcess daemon = SwitchyardProcess::run(config, dir.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return client.llen(kDead) == 1; }, 30s, "the dead letter"))
      << daemon.log_tail();
  const std::string raw = client.lrange(kDead).at(0);
  EXPECT_LT(raw.size(), 4096u * 6 + 1024u) << "the whole message was stored";
  const DeadLetterView d = read_dead_letter(raw);
  EXPECT_EQ(d.message, message.substr(0, 4096));
  EXPECT_EQ(d.message_bytes, message.size());
  EXPECT_EQ(d.message_sha256, sha256_hex_of(message));
  EXPECT_NE(d.reason.find("over the limit of 65536"), std::string::npos) << d.reason;
}

}  // namespace
}  // namespace switchyard::test
