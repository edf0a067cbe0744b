// fault_support.h: the fault tests' rig (Redis, plugins dir, routes.yaml, publishing, exact-state
// checks) for each source kind the fault suite runs against (SourceKind: list, laravel, stream,
// lease). Compiled once (fault_support.cc) into a library the fault tests link.
//
// Every per-kind difference lives here, so that the tests read the same for all four kinds:
//   kind     K (the key read)                publish (pipelined)     pending    in flight
//   list     events                          RPUSH K M               LLEN K     K:inflight:* lists
//   laravel  laravel_database_queues:events  Laravel's push script:  LLEN K     K:inflight:* lists
//                                            RPUSH K M, RPUSH K:notify 1
//   stream   events (group switchyard_fault  XADD K * message M      group lag  group pending
//            created at start "0")                                              entries list
//   lease    events (delivery: lease,        RPUSH K M               LLEN K     n of K:window (the
//            workers: 1)                                             - n        head of K taken)
// lease: one consumer is active (K:lease); the others stand by and take over when its lease
// expires. No in-flight lists, heartbeats or K:inflight registry: the window stays at the head of
// K until the ack trims it (README "Two delivery modes").
// Dead letters go to K:dead and retries to K:retry for every kind (README "Redis keys", "Laravel
#ifndef SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include "support/child_process.h"
#include "support/dead_letters.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test::fault {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// Source kinds

// The ways Switchyard reads a source (README "routes.yaml", "Laravel producers", "Streams", "Two
// delivery modes"): kList is a list with delivery: inflight (the default), kLease the same list
// with delivery: lease.
enum class SourceKind { kList, kLaravel, kStream, kLease };

// "list", "laravel", "stream", "lease".
const char* kind_name(SourceKind kind);

// How gtest prints a SourceKind (in failure messages and --gtest_list_tests).
void PrintTo(SourceKind kind, std::ostream* os);

// gtest parameter names: Suite.Test/list, Suite.Test/laravel, Suite.Test/stream, Suite.Test/lease.
std::string kind_param_name(const testing::TestParamInfo<SourceKind>& info);

inline auto all_kinds() {
  return testing::Values(SourceKind::kList, SourceKind::kLaravel, SourceKind::kStream,
                         SourceKind::kLease);
}

// INSTANTIATE_FAULT_SUITE(Suite): Suite (a TEST_P suite taking a SourceKind) for every kind.
#define INSTANTIATE_FAULT_SUITE(suite)                                      \
  INSTANTIATE_TEST_SUITE_P(, suite, ::switchyard::test::fault::all_kinds(), \
                           ::switchyard::test::fault::kind_param_name)

// The source every fault test configures is named "events" (its dead letters say so).
inline constexpr const char* kSourceName = "events";
// format: laravel: the connection prefix (Laravel's pre-2025 default); the queue is kSourceName.
inline constexpr const char* kLaravelPrefix = "laravel_database_";
// type: stream: the consumer group.
inline constexpr const char* kStreamGroup = "switchyard_fault";

// The Redis key Switchyard reads for the "events" source of `kind` (all internal keys hang off it).
std::string source_key(SourceKind kind);

// Publishes `messages` in order onto the source `key` of `kind`, as its producers do, pipelined
// and 50 messages per command (as fast as the producer side can go, so that a backlog builds up):
// list, lease: RPUSH K; laravel: Laravel's push script per message (the message onto K, then a
// token onto K:notify); stream: XADD K * message M.
// Throws std::runtime_error on Redis errors. Any connection may be used (one per thread).
void publish(SourceKind kind, const std::string& key, RedisClient& client,
             const std::vector<std::string>& messages);

// ---------------------------------------------------------------------------------------------
// Small helpers

// The number of distinct lines.
size_t distinct_count(const std::vector<std::string>& lines);

// How often `needle` occurs in `text`.
size_t occurrences(const std::string& text, const std::string& needle);

// Sum of the N in every "<prefix> N" (e.g. "reclaimed 12 in-flight") found in text.
int64_t sum_of_numbers_after(const std::string& text, const std::string& prefix);

// The warning a worker logs when its ack finds its batch gone (reclaimed by another instance while
// it was silent, or an ack whose reply was lost): the ack wrote nothing.
inline constexpr const char* kLateAckRefused = "is no longer this worker's";

// A RESP2 flat map reply (XINFO ...: key, value, key, value...) as a map.
std::map<std::string, Reply> flat_map(const Reply& r);

// A per-test random engine; the seed is printed so a failure can be replayed.
std::mt19937_64 seeded_rng();

// Redis with an AOF fsynced on every write: nothing acknowledged is lost across a restart.
RedisServerOptions durable_redis();

// The routes.yaml most fault tests use: the source tuned with source_extra ("batch: 100\n
// workers: 2\n..."), fast retries (10 ms..100 ms, max_attempts attempts), and shutdown_timeout.
RoutesYaml fault_spec(const std::string& source_extra, const std::string& shutdown_timeout = "5s",
                      int max_attempts = 5);

// handlers: entries (RoutesYaml::extra_handlers) for plugins that write a file at `path`:
// "flaky" (flaky_sink: retry fail_times times per message, then a line) and "audit" (jsonl_sink:
// a line per message).
std::string flaky_handler(const std::string& path, int fail_times);
std::string audit_handler(const std::string& path);

// Ten deliberately bad messages, each distinct: invalid JSON, JSON that is not an envelope, and
// envelopes whose event has no route (unrouted: dead_letter, the default).
std::vector<std::string> bad_messages();

// n envelopes of `event`, payload {"n": i}, distinct bytes.
std::vector<std::string> numbered(const std::string& event, int n);

// ---------------------------------------------------------------------------------------------
// The rig

// A test's world for one source kind: TempDir (config, logs, database, plugins), one redis-server,
// one client, and the kind-specific ways to publish, to read what is pending or in flight, and to
// check that nothing is left.
// Thread safety: drive it from the test's main thread; other threads publish through
// publish(client, ...) with their own RedisClient.
class Rig {
 public:
  // test_plugins: names of test plugins (tests/plugins) copied next to the bundled ones.
  explicit Rig(SourceKind kind, const std::vector<std::string>& test_plugins = {},
               RedisServerOptions redis_options = {});

  SourceKind kind() const { return kind_; }
  bool is_stream() const { return kind_ == SourceKind::kStream; }
  bool is_lease() const { return kind_ == SourceKind::kLease; }
  const TempDir& dir() const { return dir_; }
  std::string file(const std::string& name) const { return dir_.file(name); }
  RedisServer& redis() { return redis_; }
  RedisClient& client() { return *client_; }
  const std::string& db() const { return db_; }
  const std::string& config_path() const { return config_path_; }
  // K: the Redis key the source reads (a list, or the stream).
  const std::string& key() const { return key_; }
  std::string dead_key() const { return key_ + ":dead"; }
  std::string retry_key() const { return key_ + ":retry"; }
  std::string notify_key() const { return key_ + ":notify"; }
  // lease: the lease and the window (README "Redis keys").
  std::string lease_key() const { return key_ + ":lease"; }
  std::string window_key() const { return key_ + ":window"; }

  // Fills redis_url, plugins_dir, database and the source kind (type, format and prefix, group
  // and start "0" so that a backlog published before the first run is read; lease: delivery:
  // lease, and "workers: N" rewritten to "workers: 1", the only count lease allows) into spec,
  // and writes DIR/routes.yaml.
  std::string write_config(RoutesYaml spec);

  // Starts `switchyard run` on the config, output appended to DIR/<log_name>. Its consumer-name
  // lock files and pid file go to DIR/run (RUNTIME_DIRECTORY), shared by this test's daemons
  // and removed with the test.
  SwitchyardProcess start(const std::string& log_name = "switchyard.log");

  // `switchyard ARGS... -c CONFIG`.
  CommandResult cli(std::vector<std::string> args,
                    std::source_location where = std::source_location::current());

  // Publishes as the kind's producers do (see publish() above), on the rig's connection or on
  // another thread's.
  void publish(const std::vector<std::string>& messages) { publish(client(), messages); }
  void publish(RedisClient& client, const std::vector<std::string>& messages);

  int64_t users() { return count_rows(db_, "user_registrations"); }
  int64_t quotes() { return count_rows(db_, "quotes"); }
  // users + quotes, counting a missing table as 0.
  int64_t rows() { return std::max<int64_t>(0, users()) + std::max<int64_t>(0, quotes()); }

  // Messages published and not yet taken by any consumer. Lists: LLEN K. Streams: the group's
  // lag (entries not yet delivered to the group; all of them before the group exists). Laravel:
  // also samples, in the same atomic read, that K:notify stays bounded by K: at most one token
  // per message, plus one per worker (notify_slack_). A take trims one token per message it took
  // (minus the one its BLPOP consumed); a worker whose BLPOP popped a token while another worker
  // took that token's message leaves one token too many, until an idle BLPOP consumes it.
  // Lease: LLEN K minus the window at its head (n of K:window), read atomically.
  int64_t pending();

  // Messages taken and not yet acknowledged. Lists: the sum of every in-flight list
  // (K:inflight:<consumer>:<worker>). Streams: the group's pending entries list. Lease: the
  // window (n of K:window; 0 when it does not exist).
  int64_t inflight_total();
  // Messages in flight with one consumer instance (a `switchyard run` process, `<host>:<slot>`):
  // lists: in its in-flight lists; streams: pending for its group consumers `<instance>:<worker>`;
  // lease: the window, if the instance took it (by of K:window; a dead holder's window stays its
  // own until another consumer takes it over).
  int64_t inflight_of(const std::string& instance);
  // Consumer instances (`<host>:<slot>`). Lists: those with a live heartbeat (K:heartbeat:*).
  // Streams (no heartbeats): every instance with a consumer in the group, which a worker creates
  // with its first read; a dead one stays listed. Lease: the one active consumer, the holder of
  // K:lease (standbys do not show; start_instances() finds them in their logs).
  std::vector<std::string> consumers();
  // Messages handed over from silent instances to live ones, as the daemon's log counts them.
  // Lists: "reclaimed N in-flight message(s)" (housekeeping, per heartbeat expiry). Streams:
  // "claimed N pending entries" (XAUTOCLAIM of entries idle longer than reclaim_after).
  // Lease: nothing is handed over (the window stays at the head of K and the new holder takes
  // it one message at a time), so no log line counts it: always 0; see takeovers_in().
  int64_t reclaimed_in(const std::string& log) const;
  // Lease: how many times the daemon whose log this is took over the lease from another consumer
  // after standing by ("this instance (NAME) now holds the lease").
  static size_t takeovers_in(const std::string& log) {
    return occurrences(log, ") now holds the lease ");
  }

  // Lease: the consumer name in K:lease ("<consumer>|<token>"); "" when nobody holds it.
  std::string lease_holder();
  // Lease: {n, consumer} of K:window, the messages at the head of K taken and not yet acked and
  // the consumer that took them (read atomically); {0, ""} when it does not exist.
  std::pair<int64_t, std::string> lease_window();

  // Fails the test when anything still names `instance` as a holder of messages. Lists: the
  // K:inflight registry (in-flight list -> consumer). Streams: the instance's group consumers
  // hold no pending entries. Lease: the instance neither holds the lease nor a window.
  void expect_nothing_held_by(const std::string& instance);

  int64_t retrying() { return client().zcard(retry_key()); }

  // Nothing pending, scheduled for retry, or in flight; for laravel, no token left in K:notify
  // either (a running daemon's idle workers consume the stray ones, see pending()).
  bool drained();

  // The end state of a stream of `users` + `quotes` good events and at least `dead` dead letters:
  // every row in SQLite, nothing pending, retrying or in flight.
  bool all_handled(int64_t users_expected, int64_t quotes_expected, int64_t dead_at_least = 0);

  // "users U, quotes Q, pending P, in flight I, retrying R, dead D", for failure messages.
  std::string describe();

  std::vector<DeadLetterView> dead_letters();
  int64_t dead_count() { return client().llen(dead_key()); }
  // The dead letters' messages.
  std::multiset<std::string> dead_messages();

  // Asserts the end state every fault test promises, for the rig's kind:
  //   all kinds: K:retry empty; no delivery counters left behind (K:deliveries).
  //   list, laravel: K and every in-flight list empty; laravel: K:notify empty too, and within
  //     its bound (messages + one token per worker) whenever pending() looked.
  //   stream: the group exists, has delivered the last entry (lag 0, last-delivered-id equal to
  //     the stream's last-generated-id) and has no pending entries; no in-flight lists exist.
  //   lease: K empty; K:window gone (or n 0, nothing suspect); and nothing of delivery: inflight
  //     (no in-flight list, no K:inflight registry, no heartbeat): the modes do not mix.
  void expect_drained_state();

  // Fails unless K:dead holds exactly `expected` (as a multiset of messages): nothing lost,
  // nothing dead-lettered twice.
  template <typename Container>
  void expect_dead_exactly(const Container& expected) {
    EXPECT_EQ(dead_messages(), std::multiset<std::string>(expected.begin(), expected.end()));
  }

 private:
  void copy_plugin(const std::string& so);

  // The most `switchyard run` processes a fault test runs at once on one source.
  static constexpr int64_t kMaxInstances = 3;
  // XINFO GROUPS K, our group's fields; nullopt before the stream or the group exists.
  std::optional<std::map<std::string, Reply>> stream_group();
  // XINFO CONSUMERS K group: consumer name -> pending entries.
  std::vector<std::pair<std::string, int64_t>> stream_consumers();

  SourceKind kind_;
  TempDir dir_;
  RedisServer redis_;
  std::optional<RedisClient> client_;
  std::string plugins_dir_;
  std::string db_;
  std::string config_path_;
  std::string key_;
  // laravel: the allowed excess of K:notify over K (one token per worker that may run at once,
  // up to kMaxInstances instances), the largest seen, and the first time it was exceeded.
  int64_t notify_slack_ = kMaxInstances;
  int64_t max_notify_excess_ = 0;
  std::string notify_excess_;
};

// A message stream published in pieces: push(n) publishes the next n messages (fewer at the end).
// Used by tests that keep a producer going while they inject faults.
class Feed {
 public:
  Feed(Rig& rig, std::vector<std::string> messages) : rig_(rig), messages_(std::move(messages)) {}
  // Publishes the next n messages (or what is left); returns how many it published.
  size_t push(size_t n);
  size_t push_rest() { return push(messages_.size()); }
  // Adds messages at the end of the feed (not published yet).
  void append(const std::vector<std::string>& more) {
    messages_.insert(messages_.end(), more.begin(), more.end());
  }
  size_t pushed() const { return pushed_; }
  size_t size() const { return messages_.size(); }
  bool done() const { return pushed_ == messages_.size(); }

 private:
  Rig& rig_;
  std::vector<std::string> messages_;
  size_t pushed_ = 0;
};

// The consumer name a daemon logs at start ("source S: consuming K from URL as NAME (...)");
// "" before it did.
std::string consumer_name_in_log(const std::string& log);

// Starts `n` daemons on the rig's config, one at a time, each with its own log
// (switchyard-<i>.log), and waits until each shows up as a consumer (its consumer name known
// before the next one starts). names[i] is daemons[i]'s consumer instance name.
// Lease: daemons[0] holds the lease (it is the active consumer); each later one has logged that
// it stands by.
struct Instances {
  std::vector<SwitchyardProcess> daemons;
  std::vector<std::string> names;
};
void start_instances(Rig& rig, int n, Instances* out);

// The base of every fault test suite: TEST_P(Suite, Name) { Rig rig(GetParam()); ... }.
class FaultTest : public testing::TestWithParam<SourceKind> {
 protected:
  SourceKind kind() const { return GetParam(); }
};

// True when every thread of `pid` is in the stopped state ('T' in /proc/PID/task/TID/stat):
// a SIGSTOP has taken effect. False for a process that is gone.
bool all_threads_stopped(pid_t pid);

// True when a write transaction can be started on the SQLite database `path` within `wait` (then
// it is rolled back at once): nobody, a frozen instance included, holds its write lock that long.
bool database_writable(const std::string& path, std::chrono::milliseconds wait);

}  // namespace switchyard::test::fault

#endif  // SWITCHYARD_TESTS_INTEGRATION_FAULT_FAULT_SUPPORT_H_
