// main.cpp: the `switchyard` command line (CLI11): run, check, test, publish, dlq, stats, top,
// tap, pause, resume, console, version; --version, and examples under each command's --help.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <sstream>

#include "cli/commands.h"
#include "redis/redis_url.h"

int main(int argc, char** argv) {
  using namespace switchyard;
  // `run` serves SIGTERM/SIGINT/SIGHUP itself (sigtimedwait); block them before anything else so
  // a signal that arrives during start-up is handled, not fatal. Other commands unblock them.
  sigset_t served;
  sigemptyset(&served);
  sigaddset(&served, SIGTERM);
  sigaddset(&served, SIGINT);
  sigaddset(&served, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &served, nullptr);
  // Every command may hold the Redis password in memory: no core dump may carry it to disk, and
  // no other process of the same user may read this one's memory (ptrace, /proc/PID/mem).
  const rlimit no_core = {0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  CLI::App app{"Switchyard: routes JSON events from Redis to handler plugins (.so)."};
  app.require_subcommand(1);
  app.set_help_all_flag("--help-all", "Show help for every command");
  app.set_version_flag(
      "--version", [] { return version_text(); },
      "Print the version, build type and plugin ABI version");

  CommonOptions common;
  auto add_common = [&](CLI::App* cmd) {
    cmd->add_option("-c,--config", common.config_path,
                    "routes.yaml (default: $SWITCHYARD_CONFIG, "
                    "/etc/switchyard/routes.yaml)");
    cmd->add_option("--redis", common.redis_url,
                    "Redis URL, overrides redis.url (also $SWITCHYARD_REDIS_URL)");
    cmd->add_option("--plugins-dir", common.plugins_dir, "Directory of handler plugins (.so)");
  };

  RunOptions run_options;
  auto* run = app.add_subcommand("run",
                                 "Consume, route and dispatch until SIGTERM/SIGINT; "
                                 "SIGHUP reloads routes.yaml");
  add_common(run);
  run->add_option("--instance", run_options.instance,
                  "Consumer name of this process (default: hostname:slot)");
  run->add_option("--pid-file", run_options.pid_file,
                  "Where to write the pid (default: $RUNTIME_DIRECTORY, $XDG_RUNTIME_DIR or (root) "
                  "/run/switchyard, "
                  "named after the config path)");
  run->add_flag("--watch", run_options.watch,
                "Also reload when routes.yaml or a .so in the plugins directory changes (inotify)");

  std::string reload_pid_file;
  auto* reload = app.add_subcommand("reload",
                                    "Tell the running instance for this config to "
                                    "reload routes.yaml (SIGHUP via its pid file)");
  add_common(reload);
  reload->add_option("--pid-file", reload_pid_file, "The pid file `run` wrote");

  auto* check = app.add_subcommand(
      "check", "Validate routes.yaml, load every plugin with its config, print the routing table");
  add_common(check);
  bool print_keys = false;
  check->add_flag("--print-keys", print_keys,
                  "Print every routes.yaml key with its type, default and meaning; read no file");
  bool check_connect = false;
  check->add_flag("--connect", check_connect,
                  "Also connect: each plugin verifies its database/table/columns; exit 1 on any "
                  "problem");
  std::string route_event, route_source;
  check->add_option("--route", route_event,
                    "Print the handlers EVENT would reach and the contract that applies, e.g. "
                    "check --route quote.created");
  check->add_option("--source", route_source, "With --route: the source (default: the first)");

  TestOptions test_options;
  auto* test = app.add_subcommand(
      "test",
      "Route tests: feed each case of FILE through decoding, contracts and routing (no Redis; "
      "plugins only with call: true) and check the handlers or dead-letter reason, e.g. "
      "switchyard test routes.test.yaml -c routes.yaml; exit 0 pass, 1 fail, 2 bad file");
  add_common(test);
  test->add_option("file", test_options.file, "The test file (routes.test.yaml)")->required();

  PublishOptions publish_options;
  auto* publish = app.add_subcommand("publish",
                                     "Push one envelope (or a file of JSON lines) "
                                     "onto a source's Redis key");
  add_common(publish);
  publish->add_option("event", publish_options.event, "Event name, e.g. quote.created");
  publish->add_option("payload", publish_options.payload, "Payload JSON object (default {})");
  publish->add_option("--file", publish_options.file,
                      "Push each line of FILE (or - for stdin) "
                      "as-is");
  publish->add_option("--source", publish_options.source, "Source name (default: the first)");
  publish->add_flag("--stream", publish_options.stream,
                    "XADD to the key as a stream entry (field message); automatic for "
                    "type: stream sources");

  DlqOptions dlq_options;
  auto* dlq = app.add_subcommand("dlq", "Inspect and replay dead letters (K:dead)");
  add_common(dlq);
  dlq->add_option("action", dlq_options.action, "list | show | replay | purge")
      ->required()
      ->check(CLI::IsMember({"list", "show", "replay", "purge"}));
  dlq->add_option("ids", dlq_options.ids,
                  "Only these dead letters: ids as `dlq list` shows them (6 or more digits)");
  dlq->add_option("--source", dlq_options.source, "Source name (default: the first)");
  dlq->add_option("--handler", dlq_options.handler,
                  "Only dead letters of this handler ('-' for those that failed before routing)");
  dlq->add_option("--event", dlq_options.event, "Only events matching this glob, e.g. 'quote.*'");
  dlq->add_option("--reason", dlq_options.reason, "Only reasons containing this text");
  dlq->add_option("--since", dlq_options.since,
                  "Only letters that failed at or after this time (ISO 8601, or ago: 2h, 7d)");
  dlq->add_option("--before", dlq_options.before,
                  "Only letters that failed before this time (ISO 8601, or ago: 2h, 7d)");
  dlq->add_option("--older-than", dlq_options.older_than,
                  "Only letters that failed longer ago than this (30m, 2h, 7d)");
  dlq->add_option("--limit", dlq_options.limit,
                  "At most this many (list: the newest, default 20; replay/purge: the oldest)");
  dlq->add_flag("--json", dlq_options.json, "Print one JSON document");
  dlq->add_flag("--dry-run", dlq_options.dry_run,
                "replay/purge: print what would be done, change nothing");
  dlq->add_flag("-y,--yes", dlq_options.yes,
                "replay/purge of every letter (no id or filter) without asking");

  StatsOptions stats_options;
  auto* stats = app.add_subcommand("stats", "Per source: pending, in flight, retrying, dead");
  add_common(stats);
  stats->add_option("--source", stats_options.source, "Only this source");
  stats->add_flag("--json", stats_options.json, "Print JSON");
  stats->add_flag("--watch", stats_options.watch, "Redraw every --interval seconds, with rates");
  stats->add_option("--interval", stats_options.interval, "Seconds between redraws (default 1)");

  TapOptions tap_options;
  auto* tap = app.add_subcommand(
      "tap",
      "Print live events as the running daemon handles them (sampled, at most 100/s per "
      "source), e.g. switchyard tap --event 'quote.*' --limit 10");
  add_common(tap);
  tap->add_option("--event", tap_options.event, "Only events matching GLOB (fnmatch(3))");
  tap->add_option("--source", tap_options.source, "Only this source (default: every source)");
  tap->add_option("--limit", tap_options.limit, "Exit after N events")
      ->check(CLI::NonNegativeNumber);

  TopOptions top_options;
  auto* top = app.add_subcommand(
      "top",
      "Live full-screen view: per source backlog, age, rates, drain ETA; per handler "
      "rates, errors, p50/p99 (s: sort, q: quit; plain text when not a terminal)");
  add_common(top);
  top->add_option("--source", top_options.source, "Only this source");
  top->add_option("--sort", top_options.sort, "name | backlog | age | rate | errors | p99");
  top->add_option("--interval", top_options.interval, "Seconds between refreshes (default 1)");

  PauseOptions pause_options;
  auto* pause = app.add_subcommand("pause",
                                   "Pause a source (takes nothing) or a handler (its deliveries "
                                   "wait) in every running instance, without a restart");
  auto* resume = app.add_subcommand("resume", "Resume a paused source or handler");
  for (auto* cmd : {pause, resume}) {
    add_common(cmd);
    cmd->add_option("source", pause_options.source,
                    "Source name (with --handler: only for this source)");
    cmd->add_option("--handler", pause_options.handler, "Handler name: pause or resume it");
  }

  BackfillOptions backfill_options;
  auto* backfill = app.add_subcommand(
      "backfill", "Feed archived events of a time range to one handler (K:archive -> K:retry)");
  auto* replay = app.add_subcommand(
      "replay", "Send archived events of a time range again to one handler, e.g. after a fix");
  for (auto* cmd : {backfill, replay}) {
    add_common(cmd);
    const bool is_replay = cmd == replay;
    cmd->add_option(is_replay ? "--to-handler" : "--handler", backfill_options.handler,
                    "The handler to feed")
        ->required();
    cmd->add_option("--since", backfill_options.since,
                    "Events handled at or after this (ISO 8601, or ago: 24h, 7d)")
        ->required();
    cmd->add_option("--until", backfill_options.until,
                    "Events handled before this (ISO 8601, or ago; default: now)");
    cmd->add_option("--event", backfill_options.event, "Only events matching this glob");
    cmd->add_option("--rate", backfill_options.rate, "Deliveries per second (default 5000/s)");
    cmd->add_option("--source", backfill_options.source,
                    "Only this source (default: every source with archive:)");
    cmd->add_flag("--dry-run", backfill_options.dry_run, "Count what would be sent; send nothing");
    cmd->add_flag("--reset", backfill_options.reset,
                  "Forget the handler's cursor: send a range an earlier run sent again");
  }
  ConsoleCommandOptions console_options;
  auto* console = app.add_subcommand(
      "console", "Serve the web console from this host, reading every instance's state from Redis");
  add_common(console);
  console->add_option("--listen", console_options.listen,
                      "host:port to serve on (default 127.0.0.1:8080)");

  auto* version =
      app.add_subcommand("version", "Print the version, build type and plugin ABI version");

  app.footer(help_examples(""));
  for (CLI::App* command : app.get_subcommands({}))
    command->footer(help_examples(command->get_name()));
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11 quotes the arguments it did not expect: a mistyped option next to --redis URL would
    // print the URL's password. Redact every word of the error before it is shown.
    std::ostringstream error;
    int rc = app.exit(e, std::cout, error);
    std::cerr << redact_redis_urls_in(error.str());
    return rc == 0 ? 0 : 2;
  }
  if (*run) return run_command(common, run_options);
  pthread_sigmask(SIG_UNBLOCK, &served, nullptr);
  if (*reload) return reload_command(common, reload_pid_file);
  if (*check) {
    if (print_keys) return print_keys_command();
    if (check->count("--route")) return check_route_command(common, route_event, route_source);
    return check_command(common, check_connect);
  }
  if (*test) return test_command(common, test_options);
  if (*publish) return publish_command(common, publish_options);
  if (*dlq) return dlq_command(common, dlq_options);
  if (*stats) return stats_command(common, stats_options);
  if (*tap) return tap_command(common, tap_options);
  if (*top) return top_command(common, top_options);
  if (*pause || *resume) {
    pause_options.resume = resume->parsed();
    return pause_command(common, pause_options);
  }
  if (*backfill || *replay) {
    backfill_options.verb = replay->parsed() ? "replay" : "backfill";
    return backfill_command(common, backfill_options);
  }
  if (*console) return console_command(common, console_options);
  if (*version) return version_command();
  return 2;
}
