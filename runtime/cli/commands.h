// commands.h: the `switchyard` subcommands (README "Command line"), each a function returning the
// exit code: 0 success, 1 runtime failure, 2 usage or configuration error. Thread safety: called
// once from main.
#ifndef SWITCHYARD_CLI_COMMANDS_H_
#define SWITCHYARD_CLI_COMMANDS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "redis/redis_url.h"
#include "util/status.h"

namespace switchyard {

// Options every command shares.
struct CommonOptions {
  std::string config_path;  // -c/--config; else $SWITCHYARD_CONFIG, ./routes.yaml, /etc/...
  std::string redis_url;    // --redis; else $SWITCHYARD_REDIS_URL, else redis.url
  std::string plugins_dir;  // --plugins-dir; else plugins_dir, else the binary's default
};

// What every command needs: the loaded config and the Redis endpoint (with its password).
struct Loaded {
  std::shared_ptr<Config> config;
  RedisEndpoint endpoint;
  std::string plugins_dir;
};

// Loads the config and resolves the endpoint (need_redis false: leaves the endpoint empty and
// reads no password file, for commands that never talk to Redis). On failure returns 2 and either
// stores the error in *error (when given) or prints it to stderr.
int load_common(const CommonOptions& options, Loaded* loaded, Status* error = nullptr,
                bool need_redis = true);

struct RunOptions {
  std::string instance;  // --instance
  std::string pid_file;  // --pid-file; default: default_pid_file(config) (daemon/pid_file.h)
  bool watch = false;    // --watch: reload when routes.yaml or a .so in the plugins dir changes
};

int reload_command(const CommonOptions& common, const std::string& pid_file);
int run_command(const CommonOptions& common, const RunOptions& options);
// connect (`check --connect`): also asks every handler's plugin to verify its external
// resources (plugin.h's probe) and requires Redis to be reachable; exit 1 on any problem.
int check_command(const CommonOptions& common, bool connect = false);
// `check --route EVENT [--source S]`: the handlers one event reaches, the contract that applies
// and where it would be dead-lettered. Reads routes.yaml only: loads no plugin, touches no Redis.
int check_route_command(const CommonOptions& common, const std::string& event,
                        const std::string& source);

// `switchyard test FILE`: route tests (README "Route tests"). Exit 0 when every case passes, 1
// when one fails (expected and got per case, with its FILE:LINE:COL), 2 for a bad test file or
// routes.yaml (FILE:LINE:COL).
struct TestOptions {
  std::string file;  // the test file (routes.test.yaml)
};
int test_command(const CommonOptions& common, const TestOptions& options);
// Prints every routes.yaml key (config_keys.h): path, type, default, meaning. Reads no file.
int print_keys_command();

struct PublishOptions {
  std::string source;  // --source; default the first source
  std::string event;
  std::string payload = "{}";
  std::string file;     // --file F or - : JSON lines pushed as-is
  bool stream = false;  // --stream: XADD (field "message") even if the source is a list
};
int publish_command(const CommonOptions& common, const PublishOptions& options);

struct DlqOptions {
  std::string action;            // list | show | replay | purge
  std::vector<std::string> ids;  // only these letters (ids or unique prefixes, see `dlq list`)
  std::string source;
  std::string handler;     // "-" or "null": failed before routing
  std::string event;       // fnmatch(3) glob on the message's event
  std::string reason;      // substring of the reason
  std::string since;       // ISO 8601 time or a duration ago ("2h")
  std::string before;      // same
  std::string older_than;  // a duration: failed before now minus it
  long limit = -1;         // -1 = all (list shows 20 by default)
  bool json = false;       // one JSON document on stdout
  bool dry_run = false;    // replay/purge: print what would be done, change nothing
  bool yes = false;        // replay/purge of every letter without asking
};
int dlq_command(const CommonOptions& common, const DlqOptions& options);

struct StatsOptions {
  std::string source;
  bool json = false;
  bool watch = false;     // --watch: redraw every interval with rates
  double interval = 1.0;  // seconds
};
int stats_command(const CommonOptions& common, const StatsOptions& options);

// `switchyard tap`: prints the envelopes the running daemon samples while someone taps (README
// "switchyard tap"), until --limit of them were printed or it is interrupted.
struct TapOptions {
  std::string event;   // --event GLOB (fnmatch(3)); empty: every event
  std::string source;  // --source; empty: every source
  long limit = -1;     // --limit N: exit after N events; -1: never
};
int tap_command(const CommonOptions& common, const TapOptions& options);

struct TopOptions {
  std::string source;         // --source: only this source
  std::string sort = "name";  // --sort: name | backlog | age | rate | errors | p99
  double interval = 1.0;      // --interval seconds between refreshes
};
// Full-screen live view until q; one plain-text frame when stdout is not a terminal.
int top_command(const CommonOptions& common, const TopOptions& options);

struct PauseOptions {
  bool resume = false;  // resume instead of pause
  std::string source;   // SOURCE: pause the source (with --handler: only in that source)
  std::string handler;  // --handler: pause the handler
};
// Sets (or clears) the pause in K:paused; an unknown source or handler is a usage error (2).
int pause_command(const CommonOptions& common, const PauseOptions& options);

// `switchyard backfill --handler H` and `switchyard replay --to-handler H` (README "History:
// archive, backfill, replay"): copies the archived messages of a time range that routes send to
// H, in chunks paced by rate, into each archived source's K:retry as deliveries to H alone; the
// running daemon delivers them. Its cursor (K:backfill:H) makes it resumable and keeps a range
// from being sent twice. Exit 0 done, 1 Redis failure or another run moved the cursor, 2 usage.
struct BackfillOptions {
  std::string verb = "backfill";  // backfill | replay (same work, named in output and cursor)
  std::string handler;
  std::string since;            // required: ISO 8601 or a duration ago
  std::string until;            // default: now
  std::string event;            // fnmatch(3) glob; empty: every event routed to the handler
  std::string rate = "5000/s";  // deliveries per second enqueued
  std::string source;           // only this source (default: every source with archive:)
  bool dry_run = false;         // count what would be sent; write nothing
  bool reset = false;           // forget the handler's cursor: send the range again
};
int backfill_command(const CommonOptions& common, const BackfillOptions& options);
struct ConsoleCommandOptions {
  std::string listen = "127.0.0.1:8080";  // --listen host:port (port 0: any free port)
};
// `switchyard console`: serves the web console (README "Web console") from this process, reading
// everything from Redis, until SIGINT/SIGTERM. Prints its address on stdout; exit 2 when the
// address cannot be bound or ui.token_file cannot be read.
int console_command(const CommonOptions& common, const ConsoleCommandOptions& options);

// "switchyard VERSION (BUILD_TYPE build, plugin ABI N)", without a newline: what `version` and
// `--version` print. Thread safety: reentrant.
std::string version_text();
// Prints version_text(); returns 0.
int version_command();

// The "Examples:" block shown under `switchyard COMMAND --help` ("" for the top-level help);
// empty for a command without examples. Thread safety: reentrant.
std::string help_examples(const std::string& command);

}  // namespace switchyard

#endif  // SWITCHYARD_CLI_COMMANDS_H_
