// limits_test.cc: the daemon applies routes.yaml `limits:` and `contracts:` to what it decodes, and
// a SIGHUP reload changes them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>

#include "hostile_support.h"
#include "support/events.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kKey = "events";

std::string user(int id, const std::string& extra) {
  return "{\"event\":\"user.registered\",\"payload\":{\"user_id\":" + std::to_string(id) + extra +
         "}}";
}

class LimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    client_.emplace(redis_.client());
  }
  std::string write_config(const std::string& extra_yaml) {
    RoutesYaml spec;
    spec.redis_url = redis_.url();
    spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
    spec.database = db();
    spec.source_name = kKey;
    spec.source_key = kKey;
    spec.extra_yaml = extra_yaml;
    return dir_.write("routes.yaml", routes_yaml(spec));
  }
  std::string db() const { return dir_.file("analytics.db"); }
  // Waits until `users` rows exist, K is drained and K:dead holds `dead` letters.
  bool settle(int64_t users, int64_t dead) {
    return wait_until(
        [&] {
          if (!daemon_.is_running()) throw std::runtime_error("the daemon exited");
          return client_->llen(kKey) == 0 && count_rows(db(), "user_registrations") == users &&
                 client_->llen(std::string(kKey) + ":dead") == dead;
        },
        30s, std::to_string(users) + " users stored and " + std::to_string(dead) + " dead letters");
  }
  DeadLetterView letter(size_t index) {
    return read_dead_letter(client_->lrange(std::string(kKey) + ":dead").at(index));
  }

  RedisServer redis_;
  std::optional<RedisClient> client_;
  TempDir dir_;
  SwitchyardProcess daemon_;
};

TEST_F(LimitsTest, ConfiguredLimitsAndContractsApplyAndReloadChangesThem) {
  const std::string schema =
      json_string(std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json");
  const std::string config = write_config(
      "limits: {max_message_bytes: 2048, max_depth: 8}\ncontracts:\n  quote.created: " + schema +
      "\n");
  daemon_ = SwitchyardProcess::run(config, dir_.file("daemon.log"));

  const std::string big = user(3, ",\"name\":\"" + std::string(2900, 'n') + "\"");
  const std::string deep = user(4, ",\"x\":[[[[[[[[1]]]]]]]]");  // 10 levels with the envelope
  const std::string under = user(5, ",\"name\":\"" + std::string(1500, 'u') + "\"");
  const std::string bad_quote =
      R"({"event":"quote.created","payload":{"quote_id":1,"user_id":1,"product_id":1,"qty":"4"}})";
  client_->rpush_many(kKey, {user_registered(1), big, deep, under, bad_quote, user_registered(2)});
  ASSERT_TRUE(settle(3, 3)) << daemon_.log_tail();
  EXPECT_THAT(letter(0).reason,
              HasSubstr("message is " + std::to_string(big.size()) +
                        " bytes, over the limit of 2048 (limits.max_message_bytes)"));
  EXPECT_EQ(letter(1).reason, "nesting deeper than 8 levels (limits.max_depth)");
  EXPECT_EQ(letter(2).reason, "contract quote.created: #/qty: expected type integer, found string");
  EXPECT_FALSE(letter(2).handler.has_value()) << "a contract violation never reaches the handler";

  // Reload with the default limits and no contract: the same kinds of message now go through.
  write_config("limits: {max_message_bytes: 1048576, max_depth: 64}\n");
  ASSERT_TRUE(daemon_.reload());
  ASSERT_TRUE(wait_until([&] { return daemon_.log().find("reloaded") != std::string::npos; }, 20s,
                         "the daemon logged the reload"))
      << daemon_.log_tail();
  const std::string big_again = user(6, ",\"name\":\"" + std::string(2900, 'n') + "\"");
  const std::string deep_again = user(7, ",\"x\":[[[[[[[[1]]]]]]]]");
  client_->rpush_many(kKey, {big_again, deep_again, bad_quote});
  ASSERT_TRUE(settle(5, 4)) << daemon_.log_tail();
  // Without its contract the bad quote reaches the handler, which rejects it itself.
  EXPECT_EQ(letter(3).handler, std::optional<std::string>("quotes_db"));
  EXPECT_THAT(letter(3).reason, HasSubstr("payload.qty: expected integer"));

  const auto stopped = daemon_.stop(20s);
  ASSERT_TRUE(stopped.has_value());
  EXPECT_EQ(*stopped, 0);
}

TEST_F(LimitsTest, BadContractIsAConfigurationErrorAtStartAndKeepsTheOldOneOnReload) {
  const std::string bad = dir_.write("bad.json", R"({"type": "integr"})");
  const std::string config =
      write_config("contracts:\n  quote.created: " + json_string(bad) + "\n");
  CommandResult check = SwitchyardProcess::exec({"check", "-c", config});
  EXPECT_EQ(check.exit_code, 2) << check;
  EXPECT_THAT(check.err, HasSubstr(config + ":"));
  EXPECT_THAT(check.err,
              HasSubstr("contract quote.created: schema " + bad + " is not a valid JSON Schema"));

  SwitchyardProcess refused = SwitchyardProcess::run(config, dir_.file("refused.log"));
  const auto status = refused.wait_exit(30s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2) << refused.log_tail();

  // A running daemon keeps its contract when a reload brings a broken one.
  const std::string good =
      json_string(std::string(SWITCHYARD_SOURCE_DIR) + "/schemas/quote.created.json");
  write_config("contracts:\n  quote.created: " + good + "\n");
  daemon_ = SwitchyardProcess::run(dir_.file("routes.yaml"), dir_.file("daemon.log"));
  ASSERT_TRUE(wait_until([&] { return daemon_.log().find("consuming") != std::string::npos; }, 20s,
                         "the daemon started"))
      << daemon_.log_tail();
  write_config("contracts:\n  quote.created: " + json_string(bad) + "\n");
  ASSERT_TRUE(daemon_.reload());
  ASSERT_TRUE(wait_until([&] { return daemon_.log().find("reload failed") != std::string::npos; },
                         20s, "the reload was refused"))
      << daemon_.log_tail();
  client_->rpush_many(
      kKey, {R"({"event":"quote.created","payload":{"user_id":1,"product_id":1,"qty":1}})",
             user_registered(1)});
  ASSERT_TRUE(settle(1, 1)) << daemon_.log_tail();
  EXPECT_EQ(letter(0).reason, "contract quote.created: #/quote_id: required property is missing");
  EXPECT_TRUE(daemon_.is_running());
}

}  // namespace
}  // namespace switchyard::test
