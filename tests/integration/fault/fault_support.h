// fault_support.h: the fault tests' rig: Redis, plugins dir, routes.yaml, exact-state checks.
#ifndef SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_

#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test::fault {

using namespace std::chrono_literals;

// One element of K:dead, decoded (SPEC section 4).
struct DeadLetterView {
  std::string raw;
  std::string message;
  std::optional<std::string> handler;  // null: failed before routing (or crashed the process)
  std::string reason;
  int attempts = -1;
  std::string source;
  std::string failed_at;
  std::string instance;
};

// Decodes one K:dead element; a malformed one fails the test (and returns what it could read).
inline DeadLetterView decode_dead_letter_json(const std::string& raw) {
  DeadLetterView d;
  d.raw = raw;
  rapidjson::Document doc;
  doc.Parse(raw.data(), raw.size());
  if (doc.HasParseError() || !doc.IsObject()) {
    ADD_FAILURE() << "K:dead element is not a JSON object: " << raw;
    return d;
  }
  auto str = [&](const char* key, std::string* out) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd() || !it->value.IsString()) {
      ADD_FAILURE() << "K:dead element has no string \"" << key << "\": " << raw;
      return;
    }
    out->assign(it->value.GetString(), it->value.GetStringLength());
  };
  str("message", &d.message);
  str("source", &d.source);
  str("reason", &d.reason);
  str("failed_at", &d.failed_at);
  str("instance", &d.instance);
  auto h = doc.FindMember("handler");
  if (h == doc.MemberEnd()) {
    ADD_FAILURE() << "K:dead element has no \"handler\": " << raw;
  } else if (h->value.IsString()) {
    d.handler = std::string(h->value.GetString(), h->value.GetStringLength());
  } else if (!h->value.IsNull()) {
    ADD_FAILURE() << "K:dead \"handler\" is neither a string nor null: " << raw;
  }
  auto a = doc.FindMember("attempts");
  if (a == doc.MemberEnd() || !a->value.IsInt()) {
    ADD_FAILURE() << "K:dead element has no integer \"attempts\": " << raw;
  } else {
    d.attempts = a->value.GetInt();
  }
  return d;
}

// The lines of a file (without '\n'); empty when it does not exist.
inline std::vector<std::string> file_lines(const std::string& path) {
  std::string text = read_file(path);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

inline size_t distinct_count(const std::vector<std::string>& lines) {
  return std::set<std::string>(lines.begin(), lines.end()).size();
}

// How often `needle` occurs in `text`.
inline size_t occurrences(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

// Sum of the N in every "<prefix> N" (e.g. "reclaimed 12 in-flight") found in text.
inline int64_t sum_of_numbers_after(const std::string& text, const std::string& prefix) {
  int64_t sum = 0;
  for (size_t pos = text.find(prefix); pos != std::string::npos;
       pos = text.find(prefix, pos + prefix.size())) {
    sum += std::strtoll(text.c_str() + pos + prefix.size(), nullptr, 10);
  }
  return sum;
}

// A test's world: TempDir (config, logs, database, plugins), one redis-server, one client.
// Thread safety: drive it from the test's main thread; make extra RedisClients for other threads.
class Rig {
 public:
  // test_plugins: names of test plugins (tests/plugins) copied next to the bundled ones.
  explicit Rig(const std::vector<std::string>& test_plugins = {},
               RedisServerOptions redis_options = {})
      : redis_(std::move(redis_options)) {
    namespace fs = std::filesystem;
    plugins_dir_ = dir_.file("plugins");
    fs::create_directories(plugins_dir_);
    fs::create_directories(dir_.file("run"));
    for (const char* p : {"user_registered_sink", "quote_created_sink", "jsonl_sink"})
      copy_plugin(std::string(SWITCHYARD_PLUGIN_DIR) + "/" + p + ".so");
    for (const auto& p : test_plugins)
      copy_plugin(std::string(SWITCHYARD_TEST_PLUGIN_DIR) + "/" + p + ".so");
    db_ = dir_.file("analytics.db");
    redis_.start();
    client_.emplace(redis_.client());
  }

  const TempDir& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  RedisServer& redis() { return redis_; }
  RedisClient& client() { return *client_; }
  const std::string& db() const { return db_; }
  const std::string& config_path() const { return config_path_; }
  const std::string& key() const { return key_; }

  // Fills redis_url, plugins_dir and database into spec and writes DIR/routes.yaml.
  std::string write_config(RoutesYaml spec) {
    spec.redis_url = redis_.url();
    spec.plugins_dir = plugins_dir_;
    spec.database = db_;
    key_ = spec.source_key;
    config_path_ = dir_.write("routes.yaml", routes_yaml(spec));
    return config_path_;
  }

  // Starts `switchyard run` on the config, output appended to DIR/<log_name>. Its consumer-name
  // lock files and pid file go to DIR/run (RUNTIME_DIRECTORY), shared by this test's daemons
  // and removed with the test.
  SwitchyardProcess start(const std::string& log_name = "switchyard.log") {
    return SwitchyardProcess::run(config_path_, dir_.file(log_name), {},
                                  {{"RUNTIME_DIRECTORY", dir_.file("run")}});
  }

  // `switchyard ARGS... -c CONFIG`.
  CommandResult cli(std::vector<std::string> args,
                    std::source_location where = std::source_location::current()) {
    args.push_back("-c");
    args.push_back(config_path_);
    return SwitchyardProcess::exec(args, 30s, {}, "", where);
  }

  int64_t users() { return count_rows(db_, "user_registrations"); }
  int64_t quotes() { return count_rows(db_, "quotes"); }
  // users + quotes, counting a missing table as 0.
  int64_t rows() { return std::max<int64_t>(0, users()) + std::max<int64_t>(0, quotes()); }

  // Every in-flight list of the source (K:inflight:<consumer>:<worker>).
  std::vector<std::string> inflight_lists() { return client().keys(key_ + ":inflight:*"); }
  int64_t inflight_total() {
    int64_t n = 0;
    for (const auto& k : inflight_lists()) n += client().llen(k);
    return n;
  }
  // In-flight messages in the lists of one consumer.
  int64_t inflight_of(const std::string& consumer) {
    int64_t n = 0;
    for (const auto& k : client().keys(key_ + ":inflight:" + consumer + ":*"))
      n += client().llen(k);
    return n;
  }
  // Consumer names with a live heartbeat.
  std::vector<std::string> live_consumers() {
    std::vector<std::string> out;
    const std::string prefix = key_ + ":heartbeat:";
    for (const auto& k : client().keys(prefix + "*")) out.push_back(k.substr(prefix.size()));
    return out;
  }

  // Nothing pending, scheduled for retry, or in flight.
  bool drained() {
    return client().llen(key_) == 0 && client().zcard(key_ + ":retry") == 0 &&
           inflight_total() == 0;
  }

  std::vector<DeadLetterView> dead_letters() {
    std::vector<DeadLetterView> out;
    for (const auto& raw : client().lrange(key_ + ":dead"))
      out.push_back(decode_dead_letter_json(raw));
    return out;
  }
  int64_t dead_count() { return client().llen(key_ + ":dead"); }

  // Asserts the end state every fault test promises: K, K:retry and every in-flight list empty,
  // no delivery counters left behind.
  void expect_drained_state() {
    EXPECT_EQ(client().llen(key_), 0) << "pending messages left in " << key_;
    EXPECT_EQ(client().zcard(key_ + ":retry"), 0) << "retries left in " << key_ << ":retry";
    for (const auto& k : inflight_lists())
      EXPECT_EQ(client().llen(k), 0) << "messages left in flight in " << k;
    EXPECT_EQ(client().command({"EXISTS", key_ + ":deliveries"}).integer, 0)
        << "delivery counters left behind: "
        << client().command({"HGETALL", key_ + ":deliveries"}).describe();
  }

 private:
  void copy_plugin(const std::string& so) {
    namespace fs = std::filesystem;
    fs::copy_file(so, fs::path(plugins_dir_) / fs::path(so).filename(),
                  fs::copy_options::overwrite_existing);
  }

  TempDir dir_;
  RedisServer redis_;
  std::optional<RedisClient> client_;
  std::string plugins_dir_;
  std::string db_;
  std::string config_path_;
  std::string key_ = "events";
};

// Ten deliberately bad messages, each distinct: invalid JSON, JSON that is not an envelope, and
// envelopes whose event has no route (unrouted: dead_letter, the default).
inline std::vector<std::string> bad_messages() {
  std::vector<std::string> bad;
  for (int i = 0; i < 4; ++i) bad.push_back("{not json #" + std::to_string(i));
  bad.push_back("[\"an array, not an object\"]");
  bad.push_back("{\"event\":\"no.payload\",\"n\":1}");
  bad.push_back("{\"event\":\"\",\"payload\":{}}");
  for (int i = 0; i < 3; ++i)
    bad.push_back(envelope("nobody.listens", "{\"n\":" + std::to_string(i) + "}"));
  return bad;
}

// A per-test random engine; the seed is printed so a failure can be replayed.
inline std::mt19937_64 seeded_rng() {
  uint64_t seed = std::random_device{}();
  if (const char* s = std::getenv("SWITCHYARD_FAULT_SEED")) seed = std::strtoull(s, nullptr, 10);
  std::cout << "[ fault    ] random seed " << seed << " (set SWITCHYARD_FAULT_SEED to replay)\n";
  return std::mt19937_64(seed);
}

}  // namespace switchyard::test::fault

#endif  // SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
