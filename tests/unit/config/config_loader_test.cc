// config_loader_test.cc: routes.yaml parsing and every validation error, with exact positions.
#include "config/config_loader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "support/temp_dir.h"

namespace switchyard {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

// Loads yaml as "routes.yaml" from /etc/switchyard.
Status load(const std::string& yaml, Config* config) {
  return load_config_from_string(yaml, "routes.yaml", "/etc/switchyard", config);
}

// The error message loading yaml gives; fails the test when it loads.
std::string error_of(const std::string& yaml) {
  Config config;
  Status status = load(yaml, &config);
  EXPECT_FALSE(status.is_ok()) << "loaded without error:\n" << yaml;
  return status.message();
}

TEST(ConfigLoaderTest, FullConfigParsesEveryField) {
  const std::string yaml = R"(version: 1
redis:
  url: redis://app@127.0.0.1:6380/2
  password_file: secrets/redis.password
plugins_dir: plugins
sources:
  analytics:
    type: list
    key: analytics_in
    format: raw
    batch: 128
    workers: 4
    max_deliveries: 3
    reclaim_after: 45s
  jobs:
    key: default
    format: laravel
    prefix: laravel_database_
    cluster_hash_tag: true
  events:
    type: stream
    key: events
    group: routers
    start: 0
handlers:
  users_db:
    plugin: user_registered_sink
    config: { database: /var/lib/switchyard/analytics.db }
  audit.log:
    plugin: jsonl_sink
routes:
  user.registered: [users_db, audit.log]
  "quote.*": audit.log
unrouted: drop
retry: { max_attempts: 7, initial_backoff: 250ms, max_backoff: 1m }
shutdown_timeout: 15s
limits: { max_message_bytes: 2048, max_depth: 32 }
contracts:
  quote.created: schemas/quote.created.json
  user.registered: /srv/schemas/user.json
metrics: { listen: 127.0.0.1:9464 }
logging: { level: debug, format: json }
)";
  Config c;
  Status status = load(yaml, &c);
  ASSERT_TRUE(status.is_ok()) << status.message();

  EXPECT_EQ(c.path, "routes.yaml");
  EXPECT_EQ(c.dir, "/etc/switchyard");
  EXPECT_EQ(c.version, 1);
  EXPECT_EQ(c.redis.url, "redis://app@127.0.0.1:6380/2");
  EXPECT_EQ(c.redis.password_file, "/etc/switchyard/secrets/redis.password");
  EXPECT_EQ(c.redis.mark.str(), "routes.yaml:3:8");
  EXPECT_EQ(c.plugins_dir, "/etc/switchyard/plugins");

  ASSERT_EQ(c.sources.size(), 3u);
  const SourceConfig& a = c.sources[0];
  EXPECT_EQ(a.name, "analytics");
  EXPECT_EQ(a.type, SourceType::kList);
  EXPECT_EQ(a.key, "analytics_in");
  EXPECT_EQ(a.format, SourceFormat::kRaw);
  EXPECT_EQ(a.batch, 128);
  EXPECT_EQ(a.workers, 4);
  EXPECT_EQ(a.max_deliveries, 3);
  EXPECT_EQ(a.reclaim_after, Millis(45000));
  EXPECT_EQ(a.mark.str(), "routes.yaml:7:3");
  const SourceConfig& jobs = c.sources[1];
  EXPECT_EQ(jobs.name, "jobs");
  EXPECT_EQ(jobs.queue, "default");
  EXPECT_EQ(jobs.key, "laravel_database_queues:{default}");  // the list it really reads
  EXPECT_EQ(jobs.format, SourceFormat::kLaravel);
  EXPECT_EQ(jobs.prefix, "laravel_database_");
  EXPECT_TRUE(jobs.cluster_hash_tag);
  EXPECT_EQ(jobs.batch, 256);  // default
  const SourceConfig& events = c.sources[2];
  EXPECT_EQ(events.type, SourceType::kStream);
  EXPECT_EQ(events.group, "routers");
  EXPECT_EQ(events.start, "0");

  ASSERT_EQ(c.handlers.size(), 2u);
  const HandlerConfig& users = c.handlers[0];
  EXPECT_EQ(users.name, "users_db");
  EXPECT_EQ(users.plugin, "user_registered_sink");
  EXPECT_EQ(users.config_json, R"({"database":"/var/lib/switchyard/analytics.db"})");
  ASSERT_EQ(users.config_keys.size(), 1u);
  EXPECT_EQ(users.config_keys[0].name, "database");
  EXPECT_EQ(users.config_keys[0].mark.str(), "routes.yaml:28:15");
  EXPECT_EQ(users.mark.str(), "routes.yaml:26:3");
  EXPECT_EQ(users.plugin_mark.str(), "routes.yaml:27:13");
  EXPECT_EQ(c.handlers[1].name, "audit.log");
  EXPECT_EQ(c.handlers[1].config_json, "{}");
  EXPECT_TRUE(c.handlers[1].config_keys.empty());
  EXPECT_EQ(c.find_handler("audit.log"), &c.handlers[1]);

  ASSERT_EQ(c.routes.size(), 2u);
  EXPECT_EQ(c.routes[0].pattern, "user.registered");
  EXPECT_EQ(c.routes[0].handlers, (std::vector<std::string>{"users_db", "audit.log"}));
  EXPECT_EQ(c.routes[0].mark.str(), "routes.yaml:32:3");
  EXPECT_EQ(c.routes[1].pattern, "quote.*");
  EXPECT_EQ(c.routes[1].handlers, (std::vector<std::string>{"audit.log"}));

  EXPECT_EQ(c.unrouted, Unrouted::kDrop);
  EXPECT_EQ(c.retry.max_attempts, 7);
  EXPECT_EQ(c.retry.initial_backoff, Millis(250));
  EXPECT_EQ(c.retry.max_backoff, Millis(60000));
  EXPECT_EQ(c.shutdown_timeout, Millis(15000));
  EXPECT_EQ(c.limits.max_message_bytes, 2048u);
  EXPECT_EQ(c.limits.max_depth, 32);
  EXPECT_EQ(c.contracts.size(), 2u);
  EXPECT_EQ(c.contracts["quote.created"], "/etc/switchyard/schemas/quote.created.json");
  EXPECT_EQ(c.contracts["user.registered"], "/srv/schemas/user.json");
  EXPECT_EQ(c.contract_marks["quote.created"].str(), "routes.yaml:39:18");
  EXPECT_EQ(c.metrics.listen, "127.0.0.1:9464");
  EXPECT_EQ(c.logging.level, "debug");
  EXPECT_EQ(c.logging.format, "json");
}

TEST(ConfigLoaderTest, MinimalConfigUsesDefaults) {
  Config c;
  Status status = load(R"(version: 1
sources:
  analytics:
)",
                       &c);
  ASSERT_TRUE(status.is_ok()) << status.message();
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].name, "analytics");
  EXPECT_EQ(c.sources[0].key, "analytics");  // defaults to the name
  EXPECT_EQ(c.sources[0].type, SourceType::kList);
  EXPECT_EQ(c.sources[0].format, SourceFormat::kRaw);
  EXPECT_EQ(c.sources[0].batch, 256);
  EXPECT_EQ(c.sources[0].workers, 1);
  EXPECT_EQ(c.sources[0].max_deliveries, 5);
  EXPECT_EQ(c.sources[0].reclaim_after, Millis(30000));
  EXPECT_EQ(c.sources[0].dead_letter_max, 100000);
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.redis.password_file, "");
  EXPECT_EQ(c.plugins_dir, "");  // empty: the binary applies its default
  EXPECT_TRUE(c.handlers.empty());
  EXPECT_TRUE(c.routes.empty());
  EXPECT_EQ(c.unrouted, Unrouted::kDeadLetter);
  EXPECT_EQ(c.retry.max_attempts, 5);
  EXPECT_EQ(c.retry.initial_backoff, Millis(100));
  EXPECT_EQ(c.retry.max_backoff, Millis(30000));
  EXPECT_EQ(c.shutdown_timeout, Millis(10000));
  EXPECT_EQ(c.limits.max_message_bytes, 1048576u);
  EXPECT_EQ(c.limits.max_depth, 64);
  EXPECT_TRUE(c.contracts.empty());
  EXPECT_EQ(c.metrics.listen, "");
  EXPECT_EQ(c.logging.level, "info");
  EXPECT_EQ(c.logging.format, "text");
}

TEST(ConfigLoaderTest, UnknownTopLevelKey) {
  EXPECT_EQ(
      error_of(R"(version: 1
sources:
  analytics: {}
handler:
  users_db: { plugin: user_registered_sink }
)"),
      "routes.yaml:4:1: unknown key \"handler\" at the top level (expected one of: "
      "version, redis, plugins_dir, sources, handlers, routes, unrouted, retry, "
      "shutdown_timeout, limits, contracts, metrics, ui, logging); did you mean \"handlers\"?");
}

TEST(ConfigLoaderTest, ArchiveIsOffUnlessGivenAndTakesItsKeys) {
  Config c;
  ASSERT_TRUE(
      load("version: 1\nsources: {a: {}, b: {archive: {retention: 2h, max_len: 500}}, "
           "c: {archive: {}}}\n",
           &c));
  EXPECT_FALSE(c.sources.at(0).archive);
  EXPECT_TRUE(c.sources.at(1).archive);
  EXPECT_EQ(c.sources.at(1).archive_retention, Millis(2 * 3600 * 1000));
  EXPECT_EQ(c.sources.at(1).archive_max_len, 500);
  EXPECT_TRUE(c.sources.at(2).archive);
  EXPECT_EQ(c.sources.at(2).archive_retention, Millis(7LL * 24 * 3600 * 1000));
  EXPECT_EQ(c.sources.at(2).archive_max_len, 10000000);
  EXPECT_EQ(error_of("version: 1\nsources: {a: {archive: {retention: 7d, maxlen: 5}}}\n"),
            "routes.yaml:2:40: unknown key \"maxlen\" in sources.a.archive (expected one of: "
            "retention, max_len); did you mean \"max_len\"?");
}

TEST(ConfigLoaderTest, UnknownSourceKey) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics:
    type: list
    bacth: 10
)"),
            "routes.yaml:5:5: unknown key \"bacth\" in sources.analytics (expected one of: type, "
            "key, format, prefix, cluster_hash_tag, group, start, batch, workers, "
            "handlers_at_once, max_deliveries, reclaim_after, delivery, max_rate, dead_letter_max, "
            "dead_letter_max_age, archive); "
            "did you "
            "mean \"batch\"?");
}

TEST(ConfigLoaderTest, DeadLetterMaxIsReadAndRangeChecked) {
  Config c;
  ASSERT_TRUE(load("version: 1\nsources: {analytics: {dead_letter_max: 250}}\n", &c).is_ok());
  EXPECT_EQ(c.sources[0].dead_letter_max, 250);
  for (const char* bad : {"0", "-1", "1000000001"}) {
    const std::string error =
        error_of("version: 1\nsources: {analytics: {dead_letter_max: " + std::string(bad) + "}}\n");
    EXPECT_THAT(error, StartsWith("routes.yaml:2:40: sources.analytics.dead_letter_max: ")) << bad;
    EXPECT_THAT(error, HasSubstr("1 to 1000000000")) << bad;
  }
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {dead_letter_max: lots}}\n"),
            "routes.yaml:2:40: sources.analytics.dead_letter_max: expected an integer, got "
            "\"lots\"");
}

TEST(ConfigLoaderTest, UnknownKeysInEverySection) {
  const std::string head = "version: 1\nsources: {analytics: {}}\n";
  EXPECT_THAT(error_of(head + "redis: {uri: redis://h}\n"),
              StartsWith("routes.yaml:3:9: unknown key \"uri\" in redis"));
  EXPECT_THAT(error_of(head + "handlers: {h: {plugin: p, conf: {}}}\n"),
              StartsWith("routes.yaml:3:27: unknown key \"conf\" in handlers.h"));
  EXPECT_THAT(error_of(head + "retry: {attempts: 3}\n"),
              StartsWith("routes.yaml:3:9: unknown key \"attempts\" in retry"));
  EXPECT_THAT(error_of(head + "limits: {max_bytes: 3}\n"),
              StartsWith("routes.yaml:3:10: unknown key \"max_bytes\" in limits"));
  EXPECT_THAT(error_of(head + "metrics: {port: 1}\n"),
              StartsWith("routes.yaml:3:11: unknown key \"port\" in metrics"));
  EXPECT_THAT(error_of(head + "logging: {lvl: info}\n"),
              StartsWith("routes.yaml:3:11: unknown key \"lvl\" in logging"));
}

TEST(ConfigLoaderTest, QuotedIntegerIsWrongType) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics:
    batch: "256"
)"),
            "routes.yaml:4:12: sources.analytics.batch: expected an integer, got the quoted "
            "string \"256\"; remove the quotes");
}

TEST(ConfigLoaderTest, WrongTypes) {
  EXPECT_EQ(error_of(R"(version: 1
redis:
  url: [redis://localhost]
sources: {analytics: {}}
)"),
            "routes.yaml:3:8: redis.url: expected a string, got a list");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nretry: 5\n"),
            "routes.yaml:3:8: retry: expected a map, got \"5\"");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {workers: many}}\n"),
            "routes.yaml:2:32: sources.analytics.workers: expected an integer, got \"many\"");
  EXPECT_EQ(error_of("version: 1\nsources: {j: {format: laravel, prefix: p, "
                     "cluster_hash_tag: yes}}\n"),
            "routes.yaml:2:61: sources.j.cluster_hash_tag: expected true or false, got \"yes\"");
  // An empty value is reported at its key (yaml-cpp marks the next token).
  EXPECT_EQ(error_of("version: 1\nsources:\n  analytics:\n    batch:\n"),
            "routes.yaml:4:5: sources.analytics.batch: expected an integer, got nothing");
  EXPECT_EQ(error_of("- version: 1\n"),
            "routes.yaml:1:1: expected a map at the top level (version: 1, sources: ...), got a "
            "list");
}

TEST(ConfigLoaderTest, BadValues) {
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {type: lsit}}\n"),
            "routes.yaml:2:29: sources.analytics.type: \"lsit\" is not valid; use list or stream; "
            "did you mean \"list\"?");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {batch: 0}}\n"),
            "routes.yaml:2:30: sources.analytics.batch: 0 is out of range; use 1 to 10000");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {workers: 65}}\n"),
            "routes.yaml:2:32: sources.analytics.workers: 65 is out of range; use 1 to 64");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nlimits: {max_message_bytes: 100}\n"),
            "routes.yaml:3:29: limits.max_message_bytes: 100 is out of range; use 1024 to "
            "536870912");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nretry: {max_attempts: 0}\n"),
            "routes.yaml:3:23: retry.max_attempts: 0 is out of range; use 1 or more");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nunrouted: dead-letter\n"),
            "routes.yaml:3:11: unrouted: \"dead-letter\" is not valid; use dead_letter or drop; "
            "did you mean \"dead_letter\"?");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nlogging: {level: warning}\n"),
            "routes.yaml:3:18: logging.level: \"warning\" is not valid; use trace, debug, info, "
            "warn or error");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nmetrics: {listen: 9464}\n"),
            "routes.yaml:3:19: metrics.listen: \"9464\" is not host:port; write e.g. "
            "127.0.0.1:9464");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nredis: {url: http://h}\n"),
            "routes.yaml:3:14: redis.url: \"http://h\" is not a Redis URL; use "
            "redis://[user@]host[:port][/db] or unix:///path/redis.sock");
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {}}\nredis: {url: "
                     "\"redis://u:secret@h:6379\"}\n"),
            "routes.yaml:3:14: redis.url: the URL \"redis://u:***@h:6379\" contains a password; "
            "put the password alone in a file readable only by the service user and set "
            "password_file: to its path instead");
}

// Every form the connecting parser takes a password from is refused, and the error never shows it.
TEST(ConfigLoaderTest, PasswordInAnyUrlFormIsRefusedAndNeverShown) {
  for (const std::string url :
       {"redis://:hunter2@h:6379", "redis://:pa/hunter2@h", "redis://u:pa/hunter2@h/0",
        "redis://u:p@hunter2@h", "unix://u:hunter2@/run/redis.sock",
        "unix://:hunter2@/run/redis.sock?db=1", "redis://u:hunter%32@h"}) {
    const std::string error =
        error_of("version: 1\nsources: {analytics: {}}\nredis: {url: \"" + url + "\"}\n");
    EXPECT_THAT(error, HasSubstr("contains a password")) << url;
    EXPECT_THAT(error, Not(HasSubstr("hunter"))) << url;
  }
  // A user without a password is fine.
  Config config;
  EXPECT_TRUE(load("version: 1\nsources: {analytics: {}}\nredis: {url: "
                   "\"unix://sy@/run/redis.sock\"}\n",
                   &config)
                  .is_ok());
}

// A mistyped scheme is echoed in the error: without its password.
TEST(ConfigLoaderTest, MistypedUrlIsEchoedWithoutItsPassword) {
  for (const std::string url : {"redis:/u:hunter2@h", "redis//:hunter2@h", "u:hunter2@h:6379"}) {
    const std::string error =
        error_of("version: 1\nsources: {analytics: {}}\nredis: {url: \"" + url + "\"}\n");
    EXPECT_THAT(error, HasSubstr("is not a Redis URL")) << url;
    EXPECT_THAT(error, Not(HasSubstr("hunter2"))) << url;
  }
}

// `check -c` given a password file, or a routes.yaml swapped for a symlink to /etc/passwd:
// the error names the kind of node and its position, never the file's text.
TEST(ConfigLoaderTest, ErrorsNeverEchoTheFilesText) {
  EXPECT_EQ(error_of("S3cr3tPW\n"),
            "routes.yaml:1:1: expected a map at the top level (version: 1, sources: ...), got a "
            "scalar (its text is not shown); is this the right file?");
  const std::string passwd =
      "root:x:0:0:root:/root:/bin/bash\n"
      "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
      "svc:x:999:999:Secret Service Account:/home/svc:/bin/sh\n";
  for (const std::string& text : {passwd, std::string("hunter2 correct horse\n")}) {
    const std::string error = error_of(text);
    EXPECT_THAT(error, HasSubstr("got a scalar")) << error;
    for (const char* secret : {"root", "nologin", "Secret", "hunter2", "horse"})
      EXPECT_THAT(error, Not(HasSubstr(secret))) << error;
  }
  // A top-level key that does not look like a key (a line of a secret file) is not echoed.
  EXPECT_EQ(error_of("version: 1\nsources: {a: {}}\npass word=S3cr3t!PW: x\n"),
            "routes.yaml:3:1: unknown key at line 3, column 1 at the top level (expected one of: "
            "version, redis, plugins_dir, sources, handlers, routes, unrouted, retry, "
            "shutdown_timeout, limits, contracts, metrics, ui, logging)");
  // Values of the wrong kind deeper down: only short identifier-like text is echoed.
  EXPECT_THAT(error_of("version: 1\nsources: {analytics: {batch: \"S3cr3t PW!\"}}\n"),
              AllOf(HasSubstr("expected an integer, got a quoted string (not shown)"),
                    Not(HasSubstr("S3cr3t"))));
  EXPECT_THAT(error_of("version: 1\nsources: {analytics: {type: \"S3cr3t PW!\"}}\n"),
              AllOf(HasSubstr("sources.analytics.type: the value given is not valid"),
                    Not(HasSubstr("S3cr3t"))));
}

TEST(ConfigLoaderTest, BadDurations) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics: {}
retry:
  initial_backoff: 10 sec
)"),
            "routes.yaml:5:20: retry.initial_backoff: expected a duration, got a scalar (not "
            "shown); write e.g. 250ms, 30s, 5m, 1h, or a whole number of milliseconds");
  EXPECT_THAT(error_of("version: 1\nsources: {analytics: {}}\nshutdown_timeout: -5s\n"),
              StartsWith("routes.yaml:3:19: shutdown_timeout: expected a duration, got \"-5s\""));
  EXPECT_EQ(error_of("version: 1\nsources: {analytics: {reclaim_after: 500ms}}\n"),
            "routes.yaml:2:38: sources.analytics.reclaim_after: 500ms is too short; use at least "
            "1s");
  EXPECT_EQ(error_of(R"(version: 1
sources: {analytics: {}}
retry:
  initial_backoff: 5s
  max_backoff: 1s
)"),
            "routes.yaml:5:16: retry.max_backoff: max_backoff (1000ms) is less than "
            "initial_backoff (5000ms); raise max_backoff or lower initial_backoff");
}

TEST(ConfigLoaderTest, DurationsAcceptUnitsAndMilliseconds) {
  Config c;
  Status status = load(R"(version: 1
sources: {analytics: {}}
retry: { initial_backoff: 50, max_backoff: "2m" }
shutdown_timeout: 1h
)",
                       &c);
  ASSERT_TRUE(status.is_ok()) << status.message();
  EXPECT_EQ(c.retry.initial_backoff, Millis(50));
  EXPECT_EQ(c.retry.max_backoff, Millis(120000));
  EXPECT_EQ(c.shutdown_timeout, Millis(3600000));
}

TEST(ConfigLoaderTest, PaceAndDedupKeysAreReadAndChecked) {
  Config c;
  Status status = load(R"(version: 1
sources: {analytics: {max_rate: 2000/s}}
handlers:
  a: { plugin: p, max_rate: 30/m, max_in_flight: 4, dedup: { key: /payload/event_id } }
  b: { plugin: p, max_rate: 5/h, dedup: { key: "/payload/a~1b", window: 2h } }
  c: { plugin: p }
)",
                       &c);
  ASSERT_TRUE(status.is_ok()) << status.message();
  EXPECT_EQ(c.sources[0].max_rate, (Rate{2000, Millis(1000)}));
  EXPECT_EQ(c.handlers[0].max_rate, (Rate{30, Millis(60000)}));
  EXPECT_EQ(c.handlers[0].max_in_flight, 4);
  EXPECT_EQ(c.handlers[0].dedup.key, "/payload/event_id");
  EXPECT_EQ(c.handlers[0].dedup.window, Millis(24 * 3600 * 1000));
  EXPECT_EQ(c.handlers[1].max_rate, (Rate{5, Millis(3600000)}));
  EXPECT_EQ(c.handlers[1].dedup.window, Millis(2 * 3600 * 1000));
  EXPECT_FALSE(c.handlers[2].max_rate.limited());
  EXPECT_EQ(c.handlers[2].max_in_flight, 0);
  EXPECT_TRUE(c.handlers[2].dedup.key.empty());

  for (const char* bad : {"2000", "0/s", "-1/s", "10/d", "1.5/s", "/s", "1000000001/s"})
    EXPECT_THAT(
        error_of(std::string("version: 1\nsources: {analytics: {max_rate: \"") + bad + "\"}}\n"),
        StartsWith("routes.yaml:2:33: sources.analytics.max_rate: expected a rate, got "))
        << bad;
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: p, max_rate: x}}\n"),
              HasSubstr("write N/s, N/m or N/h with N a whole number from 1 to 1000000000"));
  EXPECT_THAT(
      error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: p, max_in_flight: 0}}\n"),
      StartsWith("routes.yaml:3:42: handlers.h.max_in_flight: 0 is out of range; use 1 to "
                 "10000"));
  EXPECT_EQ(error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: p, dedup: {}}}\n"),
            "routes.yaml:3:34: handlers.h.dedup: missing required key \"key\"; add key: with a "
            "JSON pointer into the envelope, e.g. key: /payload/event_id");
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\n"
                       "handlers: {h: {plugin: p, dedup: {key: payload.id}}}\n"),
              HasSubstr("handlers.h.dedup.key: is not a JSON pointer (RFC 6901)"));
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\n"
                       "handlers: {h: {plugin: p, dedup: {key: /id, window: 10ms}}}\n"),
              HasSubstr("handlers.h.dedup.window: 10ms is too short; use at least 1s"));
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\n"
                       "handlers: {h: {plugin: p, dedup: {key: /id, keys: 1}}}\n"),
              HasSubstr("keys"));
}

TEST(ConfigLoaderTest, ParseDuration) {
  Millis d;
  ASSERT_TRUE(parse_duration("250ms", &d));
  EXPECT_EQ(d, Millis(250));
  ASSERT_TRUE(parse_duration("30s", &d));
  EXPECT_EQ(d, Millis(30000));
  ASSERT_TRUE(parse_duration("5m", &d));
  EXPECT_EQ(d, Millis(300000));
  ASSERT_TRUE(parse_duration("1h", &d));
  EXPECT_EQ(d, Millis(3600000));
  ASSERT_TRUE(parse_duration("7d", &d));
  EXPECT_EQ(d, Millis(7 * 24 * 3600000LL));
  ASSERT_TRUE(parse_duration("1500", &d));
  EXPECT_EQ(d, Millis(1500));
  ASSERT_TRUE(parse_duration("0", &d));
  EXPECT_EQ(d, Millis(0));
  for (const char* bad : {"", "-5s", "+5s", "5 s", "1.5s", "5w", "d", "s", "ms", "5sec", " 5s",
                          "99999999999999999999", "9999999999999999h"})
    EXPECT_FALSE(parse_duration(bad, &d)) << bad;
}

TEST(ConfigLoaderTest, VersionMustBeOne) {
  EXPECT_EQ(error_of("version: 2\nsources: {analytics: {}}\n"),
            "routes.yaml:1:10: version: 2 is not supported; this switchyard reads version 1");
  // Checked before unknown keys: a newer file gets the version message.
  EXPECT_THAT(error_of("version: 2\nnew_thing: 1\n"), StartsWith("routes.yaml:1:10: version:"));
}

TEST(ConfigLoaderTest, MissingVersionPointsAtTheMap) {
  EXPECT_EQ(error_of(R"(# routing table
sources:
  analytics: {}
)"),
            "routes.yaml:2:1: missing required key \"version\"; add version: 1");
}

TEST(ConfigLoaderTest, MissingOrEmptySources) {
  EXPECT_THAT(error_of("version: 1\n"),
              StartsWith("routes.yaml:1:1: missing required key \"sources\""));
  EXPECT_THAT(error_of("version: 1\nsources: {}\n"),
              StartsWith("routes.yaml:2:10: sources: define at least one source"));
}

TEST(ConfigLoaderTest, EmptyFile) {
  EXPECT_EQ(error_of("# nothing yet\n"),
            "routes.yaml:1:1: the file is empty; start with version: 1 and a sources: map");
}

TEST(ConfigLoaderTest, RouteToUndefinedHandler) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics: {}
handlers:
  quotes_db: { plugin: quote_created_sink }
routes:
  user.registered: [quotes_db]
  quote.created: [quotes_db, quotes]
)"),
            "routes.yaml:8:30: route \"quote.created\" names handler \"quotes\" which is not "
            "defined under handlers: did you mean \"quotes_db\"?");
  // Routes may come before handlers in the file; a single name is accepted as well.
  EXPECT_EQ(error_of(R"(version: 1
routes:
  quote.created: archive
sources: {analytics: {}}
)"),
            "routes.yaml:3:18: route \"quote.created\" names handler \"archive\" which is not "
            "defined under handlers: define it there or fix the name");
}

TEST(ConfigLoaderTest, RouteWithoutHandlers) {
  EXPECT_EQ(error_of(R"(version: 1
sources: {analytics: {}}
routes:
  quote.created: []
)"),
            "routes.yaml:4:18: routes.quote.created: route \"quote.created\" has no handlers; "
            "list at least one, or delete the route");
  EXPECT_THAT(error_of(R"(version: 1
sources: {analytics: {}}
handlers: {h: {plugin: p}}
routes:
  quote.created: [h, h]
)"),
              StartsWith("routes.yaml:5:22: route \"quote.created\" lists handler \"h\" twice"));
}

TEST(ConfigLoaderTest, PluginMustBeAPlainName) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics: {}
handlers:
  users_db:
    plugin: plugins/user_registered_sink.so
)"),
            "routes.yaml:6:13: handlers.users_db.plugin: \"plugins/user_registered_sink.so\" is a "
            "path; give the plugin's plain name (plugin: user_registered_sink) and set "
            "plugins_dir: to the directory that holds user_registered_sink.so");
  EXPECT_EQ(error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: sink.so}}\n"),
            "routes.yaml:3:24: handlers.h.plugin: write the plugin name without \".so\": "
            "plugin: sink");
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: \"my sink\"}}\n"),
              StartsWith("routes.yaml:3:24: handlers.h.plugin: \"my sink\" is not a plugin name"));
}

TEST(ConfigLoaderTest, HandlerNeedsPluginAndAValidName) {
  EXPECT_EQ(error_of(R"(version: 1
sources: {analytics: {}}
handlers:
  users_db:
    config: { database: x.db }
)"),
            "routes.yaml:5:5: handlers.users_db: missing required key \"plugin\"; add plugin: "
            "NAME (loads PLUGINS_DIR/NAME.so)");
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nhandlers:\n  \"users db\": {plugin: p}\n"),
              StartsWith("routes.yaml:4:3: handler name \"users db\" is not valid"));
}

TEST(ConfigLoaderTest, LaravelNeedsPrefix) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  jobs:
    format: laravel
    key: default
)"),
            "routes.yaml:4:5: sources.jobs: format: laravel needs a prefix; set prefix: to the "
            "Laravel Redis prefix (config/database.php redis.options.prefix, by default "
            "\"laravel_database_\"; prefix: \"\" when there is none)");
  Config c;
  ASSERT_TRUE(load("version: 1\nsources: {jobs: {format: laravel, prefix: \"\"}}\n", &c).is_ok());
  EXPECT_EQ(c.sources[0].prefix, "");
}

TEST(ConfigLoaderTest, KeysThatDoNotApplyAreRejected) {
  EXPECT_EQ(error_of("version: 1\nsources:\n  a:\n    prefix: app_\n"),
            "routes.yaml:4:5: sources.a.prefix only applies to format: laravel; remove it or set "
            "format: laravel");
  EXPECT_EQ(error_of("version: 1\nsources:\n  a:\n    group: g\n"),
            "routes.yaml:4:5: sources.a.group only applies to type: stream; remove it or set "
            "type: stream");
  EXPECT_THAT(
      error_of("version: 1\nsources:\n  a: {type: stream, format: laravel, prefix: p}\n"),
      StartsWith("routes.yaml:3:13: sources.a.type: format: laravel reads a Laravel queue"));
}

TEST(ConfigLoaderTest, DeliveryModeLeaseIsForOneListWorker) {
  Config c;
  ASSERT_TRUE(load("version: 1\nsources: {a: {}}\n", &c).is_ok());
  EXPECT_EQ(c.sources[0].delivery, Delivery::kInflight);
  ASSERT_TRUE(load("version: 1\nsources: {a: {delivery: lease}}\n", &c).is_ok());
  EXPECT_EQ(c.sources[0].delivery, Delivery::kLease);
  ASSERT_TRUE(load("version: 1\nsources: {a: {delivery: lease, format: laravel, prefix: p_}}\n", &c)
                  .is_ok());
  EXPECT_EQ(c.sources[0].delivery, Delivery::kLease);
  EXPECT_THAT(error_of("version: 1\nsources:\n  a:\n    delivery: lease\n    workers: 2\n"),
              StartsWith("routes.yaml:5:14: sources.a.workers: delivery: lease has one active "
                         "consumer per source; set workers: 1"));
  EXPECT_THAT(error_of("version: 1\nsources:\n  a:\n    type: stream\n    delivery: lease\n"),
              StartsWith("routes.yaml:5:15: sources.a.delivery: delivery: lease applies to lists"));
  EXPECT_THAT(error_of("version: 1\nsources:\n  a: {delivery: copy}\n"), HasSubstr("delivery"));
}

TEST(ConfigLoaderTest, DuplicateKeys) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics:
    batch: 10
    workers: 2
    batch: 20
)"),
            "routes.yaml:6:5: duplicate key \"batch\" in sources.analytics (first at line 4, "
            "column 5); remove one of them");
  EXPECT_EQ(error_of("version: 1\nsources: {a: {}}\nversion: 1\n"),
            "routes.yaml:3:1: duplicate key \"version\" at the top level (first at line 1, "
            "column 1); remove one of them");
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nhandlers: {h: {plugin: p, config: {x: 1, "
                       "x: 2}}}\n"),
              StartsWith("routes.yaml:3:42: duplicate key \"x\" in handlers.h.config"));
}

TEST(ConfigLoaderTest, YamlSyntaxError) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics: type: list
)"),
            "routes.yaml:3:18: invalid YAML: illegal map value");
  EXPECT_EQ(error_of("version: 1\nsources: {a: {}}\n---\nversion: 1\n"),
            "routes.yaml:4:1: a second YAML document (after ---); routes.yaml holds exactly one");
}

TEST(ConfigLoaderTest, TwoSourcesWithTheSameKey) {
  EXPECT_EQ(error_of(R"(version: 1
sources:
  analytics: {}
  events:
    key: analytics
)"),
            "routes.yaml:5:10: source \"events\" reads Redis key \"analytics\", which is already "
            "read by source \"analytics\" (routes.yaml:3:3); give each source its own key");
  // A defaulted key is reported at the source's name.
  EXPECT_THAT(error_of("version: 1\nsources:\n  a: {key: b}\n  b: {}\n"),
              StartsWith("routes.yaml:4:3: source \"b\" reads Redis key \"b\", which is already"));
  // A key inside another source's internal key space (K:...) collides too.
  EXPECT_THAT(error_of("version: 1\nsources:\n  a: {}\n  b: {key: \"a:dead\"}\n"),
              StartsWith("routes.yaml:4:12: source \"b\" reads Redis key \"a:dead\", which "
                         "overlaps the internal keys"));
  // Laravel sources compare by the list they really read.
  EXPECT_THAT(error_of("version: 1\nsources:\n  a: {format: laravel, key: q, prefix: p_}\n"
                       "  b: {key: \"p_queues:q\"}\n"),
              StartsWith("routes.yaml:4:12: source \"b\" reads Redis key \"p_queues:q\""));
}

TEST(ConfigLoaderTest, HandlerConfigBecomesJson) {
  Config c;
  Status status = load(R"(version: 1
sources: {analytics: {}}
handlers:
  sink:
    plugin: jsonl_sink
    config:
      path: /var/log/events.jsonl
      count: 42
      negative: -7
      ratio: 0.25
      enabled: true
      disabled: false
      nothing: ~
      empty:
      code: "123"
      padded: '007'
      word: "true"
      float_one: 1.0
      hex: 0x1F
      yes_word: yes
      nested: { list: [1, "2", a, {b: null}], deep: { x: 1.5e3 } }
)",
                       &c);
  ASSERT_TRUE(status.is_ok()) << status.message();
  ASSERT_EQ(c.handlers.size(), 1u);
  EXPECT_EQ(c.handlers[0].config_json,
            R"({"path":"/var/log/events.jsonl","count":42,"negative":-7,"ratio":0.25,)"
            R"("enabled":true,"disabled":false,"nothing":null,"empty":null,"code":"123",)"
            R"("padded":"007","word":"true","float_one":1.0,"hex":"0x1F","yes_word":"yes",)"
            R"("nested":{"list":[1,"2","a",{"b":null}],"deep":{"x":1500.0}}})");
  const std::vector<ConfigKey>& keys = c.handlers[0].config_keys;
  ASSERT_EQ(keys.size(), 15u);
  EXPECT_EQ(keys[0].name, "path");
  EXPECT_EQ(keys[0].mark.str(), "routes.yaml:7:7");
  EXPECT_EQ(keys[14].name, "nested");
  EXPECT_EQ(keys[14].mark.str(), "routes.yaml:21:7");
}

TEST(ConfigLoaderTest, SelfReferentialAliasInConfigIsAnError) {
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nhandlers:\n  h:\n    plugin: p\n"
                       "    config: &loop { again: *loop }\n"),
              AllOf(StartsWith("routes.yaml:6:13: "), HasSubstr("100 levels")));
}

TEST(ConfigLoaderTest, FailureLeavesConfigUnchanged) {
  Config c;
  ASSERT_TRUE(load("version: 1\nsources: {analytics: {}}\n", &c).is_ok());
  EXPECT_FALSE(load("version: 1\nsources: {other: {batch: 0}}\n", &c).is_ok());
  ASSERT_EQ(c.sources.size(), 1u);
  EXPECT_EQ(c.sources[0].name, "analytics");
}

TEST(ConfigLoaderTest, LoadsARealFileAndResolvesPathsAgainstIt) {
  test::TempDir tmp;
  const std::string path = tmp.write("routes.yaml", R"(version: 1
plugins_dir: lib/plugins
redis: { password_file: ../secret }
sources:
  analytics: {}
contracts:
  quote.created: schemas/quote.json
)");
  Config c;
  Status status = load_config(path, &c);
  ASSERT_TRUE(status.is_ok()) << status.message();
  const std::string dir = std::filesystem::absolute(tmp.path()).lexically_normal().string();
  const std::string parent = std::filesystem::path(dir).parent_path().string();
  EXPECT_EQ(c.path, path);
  EXPECT_EQ(c.dir, dir);
  EXPECT_EQ(c.plugins_dir, dir + "/lib/plugins");
  EXPECT_EQ(c.redis.password_file, parent + "/secret");
  EXPECT_EQ(c.contracts["quote.created"], dir + "/schemas/quote.json");
  EXPECT_EQ(c.contract_marks["quote.created"].str(), path + ":7:18");

  const std::string bad = tmp.write("bad.yaml", "version: 1\nsources: {a: {batch: x}}\n");
  EXPECT_THAT(load_config(bad, &c).message(), StartsWith(bad + ":2:22: "));
}

TEST(ConfigLoaderTest, MissingFileSaysHowToPointAtOne) {
  test::TempDir tmp;
  const std::string path = tmp.file("nope.yaml");
  Config c;
  Status status = load_config(path, &c);
  EXPECT_EQ(status.message(), path +
                                  ": cannot read: No such file or directory; pass -c FILE or "
                                  "set SWITCHYARD_CONFIG");
  EXPECT_THAT(load_config(tmp.path(), &c).message(),
              HasSubstr(": cannot read: Is a directory; pass -c FILE"));
}

TEST(ConfigLoaderTest, TheConsoleIsOffAndReadOnlyByDefaultAndWritesNeedATokenFile) {
  Config c;
  ASSERT_TRUE(load("version: 1\nsources: {a: {}}\n", &c));
  EXPECT_FALSE(c.ui.enabled);
  EXPECT_FALSE(c.ui.write);
  EXPECT_EQ(c.ui.token_file, "");
  ASSERT_TRUE(
      load("version: 1\nsources: {a: {}}\nmetrics: {listen: \"127.0.0.1:9464\"}\n"
           "ui: {enabled: true, write: true, token_file: ui.token}\n",
           &c));
  EXPECT_TRUE(c.ui.enabled);
  EXPECT_TRUE(c.ui.write);
  EXPECT_EQ(c.ui.token_file.back(), 'n');
  EXPECT_EQ(c.ui.token_file.front(), '/');  // made absolute
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nui: {write: true}\n"),
              StartsWith("routes.yaml:3:5: ui: write: true needs token_file"));
  EXPECT_THAT(error_of("version: 1\nsources: {a: {}}\nui: {enabled: true}\n"),
              StartsWith("routes.yaml:3:5: ui: enabled: true serves the console on the HTTP "
                         "endpoint, which is off"));
}

}  // namespace
}  // namespace switchyard
