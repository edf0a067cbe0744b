// events.h: deterministic envelopes and routes.yaml texts for integration tests.
#ifndef SWITCHYARD_TESTS_SUPPORT_EVENTS_H_
#define SWITCHYARD_TESTS_SUPPORT_EVENTS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace switchyard::test {

// All functions here are pure (reentrant, no I/O) and never throw except std::bad_alloc.

// `s` as a JSON string literal, quotes included (escapes ", \ and control characters).
std::string json_string(const std::string& s);

// {"event":EVENT,"payload":PAYLOAD_JSON}; payload_json is inserted verbatim.
std::string envelope(const std::string& event, const std::string& payload_json);

// {"event":"user.registered","payload":{"user_id":N,"email":"user<N>@example.com",
//  "name":"User N","created_at":"2026-05-07T10:00:00+00:00"}}
std::string user_registered(int64_t user_id);

// {"event":"quote.created","payload":{"quote_id":Q,"user_id":Q,"product_id":Q%100+1,
//  "qty":Q%10+1,"created_at":"2026-05-07T10:00:00+00:00"}}
std::string quote_created(int64_t quote_id);

// n messages alternating user_registered / quote_created, starting with user_registered: message
// i is user_registered(first_id + i/2) for even i, quote_created(first_id + i/2) for odd i. So
// there are (n+1)/2 users with ids first_id.. and n/2 quotes with ids first_id.. (distinct ids
// within each kind; equal counts when n is even).
std::vector<std::string> mixed_events(std::size_t n, int64_t first_id = 1);

// Everything routes_yaml() writes. Paths are emitted as double-quoted YAML strings.
struct RoutesYaml {
  std::string redis_url;    // redis.url, e.g. RedisServer::url()
  std::string plugins_dir;  // plugins_dir; empty: the line is omitted (binary's default)
  std::string database;     // config.database of both handlers
  std::string source_name = "events";
  std::string source_key = "events";
  // Extra lines under the source ("batch: 16\nmax_deliveries: 3"), indented for you.
  std::string source_extra;
  // Extra handler entries under handlers: ("flaky:\n  plugin: flaky\n  config: {}"), indented.
  std::string extra_handlers;
  // Extra route entries under routes: ("\"quote.*\": [flaky]"), indented for you.
  std::string extra_routes;
  // Extra top-level YAML appended verbatim ("unrouted: drop\nshutdown_timeout: 2s").
  std::string extra_yaml;
  // The source's kind. type: "list" or "stream". format: "" (omitted: raw) or "laravel"; with
  // laravel, prefix is written too (the queue is then PREFIX + "queues:" + source_key).
  // group / start: written for type stream when not empty (consumer group; "0" or "$").
  std::string source_type = "list";
  std::string source_format;
  std::string laravel_prefix = "laravel_database_";
  std::string stream_group;
  std::string stream_start;
};

// A version-1 routes.yaml (README "routes.yaml"):
//   version: 1
//   redis: {url: URL}
//   plugins_dir: DIR
//   sources: {NAME: {type: TYPE, key: KEY, [format: laravel, prefix: P,] [group: G, start: S,]
//                    <source_extra>}}
//   handlers: users_db (plugin user_registered_sink) and quotes_db (plugin quote_created_sink),
//             both with config {database: DB}; <extra_handlers>
//   routes: user.registered: [users_db], quote.created: [quotes_db], <extra_routes>
//   <extra_yaml>
// Write it with TempDir::write("routes.yaml", routes_yaml(...)).
std::string routes_yaml(const RoutesYaml& spec);
// Shorthand for the common case; the source is named after its key.
std::string routes_yaml(const std::string& redis_url, const std::string& plugins_dir,
                        const std::string& database_path, const std::string& source_key = "events",
                        const std::string& extra_yaml = "");

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_EVENTS_H_
