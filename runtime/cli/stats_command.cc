// stats_command.cc: `switchyard stats`: per source, pending, in flight (per consumer), retrying,
// dead, how far behind, and each handler's rates and latency; `--watch` redraws the same frame.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>
#include <thread>

#include "cli/commands.h"
#include "console/behind_view.h"
#include "console/source_stats.h"
#include "dispatch/pace.h"
#include "dispatch/pause.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/archive.h"
#include "source/behind_sampler.h"
#include "source/list_source.h"
#include "util/escape.h"

namespace switchyard {
namespace {

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// `s` as a JSON string literal: names come from routes.yaml and Redis (consumer and group names
// anyone with access to the keys can set) and may hold any byte.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  append_escaped(s, EscapeStyle::kJson, &out);
  return out + "\"";
}

// The "behind" and "handlers" members of a source's JSON object (README "How far behind").
void print_behind_json(std::ostream& out, const SourceBehindView& b,
                       const std::vector<HandlerView>& handlers) {
  out << ",\"behind\":{\"reported\":" << (b.reported ? "true" : "false")
      << ",\"instances\":" << b.instances
      << ",\"sampled_seconds_ago\":" << json_number(b.sampled_seconds_ago)
      << ",\"sampled_pending\":" << b.pending
      << ",\"oldest_age_seconds\":" << json_number(b.oldest_age_seconds)
      << ",\"in_rate\":{\"1m\":" << json_number(b.in_1m) << ",\"5m\":" << json_number(b.in_5m)
      << "},\"out_rate\":{\"1m\":" << json_number(b.out_1m) << ",\"5m\":" << json_number(b.out_5m)
      << "},\"drain_eta_seconds\":" << json_number(b.drain_eta_seconds) << "}";
  out << ",\"handlers\":{";
  for (size_t i = 0; i < handlers.size(); ++i) {
    const HandlerView& h = handlers[i];
    out << (i ? "," : "") << json_quote(h.name) << ":{\"calls_1m\":" << h.calls
        << ",\"rates_1m\":{";
    bool first = true;
    for (const auto& [outcome, rate] : h.rates) {
      out << (first ? "" : ",") << json_quote(outcome) << ":" << json_number(rate);
      first = false;
    }
    out << "},\"p50_seconds\":" << json_number(h.p50_seconds)
        << ",\"p99_seconds\":" << json_number(h.p99_seconds) << "}";
  }
  out << "}";
}

// `max_rate` as JSON: "2000/s", or null when unlimited.
std::string json_rate(const Rate& rate) {
  return rate.limited() ? json_quote(rate_text(rate)) : "null";
}

// The "limits" member of a source's JSON object (README "Pace and dedup"): the source's
// max_rate and every handler's max_rate (its bucket for this source), max_in_flight and dedup,
// null where routes.yaml sets none. Routes are shared by all sources, so every handler is listed.
void print_limits_json(std::ostream& out, const Config& config, const std::string& source) {
  const SourceConfig* s = nullptr;
  for (const SourceConfig& c : config.sources)
    if (c.name == source) s = &c;
  out << ",\"limits\":{\"max_rate\":" << (s ? json_rate(s->max_rate) : "null") << ",\"handlers\":{";
  for (size_t i = 0; i < config.handlers.size(); ++i) {
    const HandlerConfig& h = config.handlers[i];
    out << (i ? "," : "") << json_quote(h.name) << ":{\"max_rate\":" << json_rate(h.max_rate)
        << ",\"max_in_flight\":"
        << (h.max_in_flight > 0 ? std::to_string(h.max_in_flight) : std::string("null"))
        << ",\"dedup\":";
    if (h.dedup.key.empty())
      out << "null";
    else
      out << "{\"key\":" << json_quote(h.dedup.key)
          << ",\"window_seconds\":" << json_number(h.dedup.window.count() / 1000.0) << "}";
    out << "}";
  }
  out << "}}";
}

void print_json(std::ostream& out, const std::vector<SourceStats>& stats,
                const std::map<std::string, SourceBehindView>& behind,
                const std::vector<HandlerView>& handlers, const Config& config) {
  out << "{";
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& st = stats[i];
    out << (i ? "," : "") << json_quote(st.name) << ":{\"key\":" << json_quote(st.key)
        << ",\"pending\":" << st.pending << ",\"inflight\":" << st.inflight
        << ",\"retrying\":" << st.retrying << ",\"dead\":" << st.dead << ",\"alerts\":{";
    bool first_alert = true;
    for (const auto& [code, text] : st.alerts) {
      out << (first_alert ? "" : ",") << json_quote(code) << ":" << json_quote(text);
      first_alert = false;
    }
    out << "},\"paused\":{";
    for (auto it = st.paused.begin(); it != st.paused.end(); ++it)
      out << (it == st.paused.begin() ? "" : ",") << json_quote(it->first) << ":"
          << json_quote(it->second);
    out << "},\"archived\":" << st.archived << ",\"backfills\":{";
    const int64_t now = unix_ms();
    for (auto it = st.backfills.begin(); it != st.backfills.end(); ++it) {
      const BackfillCursor& c = it->second;
      const auto eta = c.eta_ms(now);
      out << (it == st.backfills.begin() ? "" : ",") << json_quote(it->first)
          << ":{\"command\":" << json_quote(c.verb)
          << ",\"from\":" << json_quote(iso8601(c.from_ms))
          << ",\"until\":" << json_quote(iso8601(c.until_ms))
          << ",\"done\":" << (c.done ? "true" : "false") << ",\"read\":" << c.scanned
          << ",\"sent\":" << c.sent << ",\"progress\":" << c.fraction()
          << ",\"eta_seconds\":" << (eta ? std::to_string(*eta / 1000) : "null")
          << ",\"updated\":" << json_quote(iso8601(c.updated_ms)) << ",\"runs\":" << c.runs
          << ",\"read_all_runs\":" << c.scanned_all << ",\"sent_all_runs\":" << c.sent_all << "}";
    }
    out << "}";
    print_limits_json(out, config, st.name);
    auto b = behind.find(st.name);
    print_behind_json(out, b == behind.end() ? SourceBehindView{} : b->second, handlers);
    if (st.stream) {
      out << ",\"groups\":{";
      for (size_t g = 0; g < st.groups.size(); ++g) {
        const auto& gs = st.groups[g];
        out << (g ? "," : "") << json_quote(gs.name) << ":{\"pending\":" << gs.pending
            << ",\"lag\":" << gs.lag << ",\"consumers\":{";
        for (size_t c = 0; c < gs.consumers.size(); ++c)
          out << (c ? "," : "") << json_quote(gs.consumers[c].name)
              << ":{\"pending\":" << gs.consumers[c].pending
              << ",\"idle_ms\":" << gs.consumers[c].idle_ms << "}";
        out << "}}";
      }
      out << "}}";
      continue;
    }
    out << ",\"consumers\":{";
    bool first = true;
    for (const auto& [c, cs] : st.consumers) {
      out << (first ? "" : ",") << json_quote(c) << ":{\"inflight\":" << cs.inflight
          << ",\"alive\":" << (cs.alive ? "true" : "false") << "}";
      first = false;
    }
    out << "}}";
  }
  out << "}\n";
}

// One line per alert of the source (see source/source_alerts.h), per paused thing, for the
// archive and per backfill or replay.
void print_alerts(std::ostream& out, const SourceStats& st) {
  for (const auto& [code, text] : st.alerts)
    out << "  ALERT " << printable(code) << ": " << printable(text) << "\n";
  for (const auto& [field, since] : st.paused) {
    const bool handler = field.rfind(kPausedHandlerPrefix, 0) == 0;
    const std::string name = handler ? field.substr(kPausedHandlerPrefix.size()) : st.name;
    out << "  PAUSED " << (handler ? "handler " : "source ") << printable(name) << " since "
        << printable(since) << " (switchyard resume " << (handler ? "--handler " : "")
        << printable(name) << ")\n";
  }
  if (st.archived >= 0) out << "  archive: " << st.archived << " messages\n";
  const int64_t now = unix_ms();
  for (const auto& [handler, c] : st.backfills) {
    out << "  " << (c.verb == "replay" ? "REPLAY" : "BACKFILL") << " handler " << printable(handler)
        << " (" << iso8601(c.from_ms) << " to " << iso8601(c.until_ms) << "): ";
    const std::string all_runs = c.runs > 1 ? "; " + std::to_string(c.runs) + " runs sent " +
                                                  std::to_string(c.sent_all) + " in all"
                                            : "";
    if (c.done) {
      out << "done at " << iso8601(c.updated_ms) << ", sent " << c.sent << " of " << c.scanned
          << " archived" << all_runs << "\n";
      continue;
    }
    const auto eta = c.eta_ms(now);
    out << static_cast<int>(c.fraction() * 100) << "%, sent " << c.sent << " of " << c.scanned
        << " read, ETA " << (eta ? std::to_string(*eta / 1000) + "s" : std::string("unknown"))
        << ", last moved " << iso8601(c.updated_ms) << all_runs << "\n";
  }
}

// Whether the sampled ETA speaks of the backlog there is now: not when the sample saw none and
// messages have arrived since (it would say 0 s).
bool eta_known(const SourceStats& st, const SourceBehindView& b) {
  return !(b.pending == 0 && st.pending > 0);
}

// One line: how far behind the source is, or that no running instance reports it.
void print_behind(std::ostream& out, const SourceStats& st,
                  const std::map<std::string, SourceBehindView>& behind) {
  auto it = behind.find(st.name);
  if (it == behind.end() || !it->second.reported) {
    out << "  behind: unknown (no running instance reported in the last " << kSnapshotStaleMs / 1000
        << " s)\n";
    return;
  }
  const SourceBehindView& b = it->second;
  out << std::fixed << std::setprecision(1) << "  behind: oldest "
      << human_seconds(b.oldest_age_seconds) << ", in " << b.in_1m << "/s (5m " << b.in_5m
      << "/s), out " << b.out_1m << "/s (5m " << b.out_5m << "/s), drain ETA "
      << (eta_known(st, b) ? human_seconds(b.drain_eta_seconds) : "not sampled yet") << ", "
      << b.instances << " instance(s), sampled " << b.sampled_seconds_ago << " s ago\n";
  out.unsetf(std::ios::floatfield);
}

// One line per handler: last minute's rates and latency quantiles.
void print_handlers(std::ostream& out, const std::vector<HandlerView>& handlers) {
  for (const HandlerView& h : handlers)
    out << std::fixed << std::setprecision(1) << "handler " << printable(h.name) << ": ok "
        << h.rate("ok") << "/s, errors " << h.error_rate() << "/s (retry " << h.rate("retry")
        << ", reject " << h.rate("reject") << ", dead " << h.rate("dead_letter") << "), p50 "
        << human_latency(h.p50_seconds) << ", p99 " << human_latency(h.p99_seconds)
        << " (last minute)\n";
  out.unsetf(std::ios::floatfield);
}

// One line per source or handler with a max_rate, max_in_flight or dedup (README "Pace and
// dedup"), as routes.yaml configures them.
void print_limits(std::ostream& out, const Config& config) {
  for (const SourceConfig& s : config.sources)
    if (s.max_rate.limited())
      out << "limits: source " << printable(s.name) << " max_rate " << rate_text(s.max_rate)
          << "\n";
  for (const HandlerConfig& h : config.handlers) {
    std::string parts;
    if (h.max_rate.limited()) parts += ", max_rate " + rate_text(h.max_rate) + " per source";
    if (h.max_in_flight > 0) parts += ", max_in_flight " + std::to_string(h.max_in_flight);
    if (!h.dedup.key.empty())
      parts += ", dedup " + printable(h.dedup.key) + " for " +
               std::to_string(h.dedup.window.count() / 1000) + "s";
    if (!parts.empty()) out << "limits: handler " << printable(h.name) << parts << "\n";
  }
}

void print_text(std::ostream& out, const std::vector<SourceStats>& stats,
                const std::map<std::string, SourceBehindView>& behind,
                const std::vector<HandlerView>& handlers) {
  for (const auto& st : stats) {
    if (st.stream) {
      out << printable(st.name) << " (stream " << printable(st.key) << "): retrying " << st.retrying
          << ", dead " << st.dead << "\n";
      print_behind(out, st, behind);
      print_alerts(out, st);
      for (const auto& g : st.groups) {
        out << "  group " << printable(g.name) << ": pending " << g.pending << ", lag "
            << (g.lag < 0 ? std::string("unknown") : std::to_string(g.lag)) << "\n";
        for (const auto& c : g.consumers)
          out << "    consumer " << printable(c.name) << ": pending " << c.pending << ", idle "
              << c.idle_ms << " ms\n";
      }
      continue;
    }
    out << printable(st.name) << " (" << printable(st.key) << "): pending " << st.pending
        << ", in flight " << st.inflight << ", retrying " << st.retrying << ", dead " << st.dead
        << "\n";
    print_behind(out, st, behind);
    print_alerts(out, st);
    for (const auto& [c, cs] : st.consumers) {
      out << "  consumer " << printable(c) << ": in flight " << cs.inflight
          << (cs.alive ? "" : " (silent: reclaimed after reclaim_after)") << "\n";
    }
  }
  print_handlers(out, handlers);
}

}  // namespace

int stats_command(const CommonOptions& common, const StatsOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  RedisConnection connection(loaded.endpoint, "switchyard:stats");
  Status s = connection.connect();
  if (!s && !options.watch) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  // One frame: what Redis holds now and what the running instances reported.
  auto frame = [&](std::ostream& out) -> Status {
    if (!connection.connected()) {
      Status c = connection.connect();
      if (!c) return c;
    }
    std::vector<SourceStats> stats;
    std::map<std::string, SourceBehindView> behind;
    std::vector<HandlerView> handlers;
    Status f = collect_source_stats(connection, *loaded.config, options.source, &stats);
    if (f) f = read_behind(connection, *loaded.config, &behind, &handlers);
    if (!f) return f;
    options.json ? print_json(out, stats, behind, handlers, *loaded.config)
                 : print_text(out, stats, behind, handlers);
    if (!options.json) print_limits(out, *loaded.config);
    return Status::ok();
  };
  if (!options.watch) {
    std::ostringstream out;
    s = frame(out);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    std::cout << out.str();
    return 0;
  }
  // --watch: the same frame every interval until interrupted. On a terminal the screen is
  // redrawn; elsewhere (a pipe, a log) frames follow each other, and --json writes one JSON
  // document per line.
  const bool terminal = isatty(STDOUT_FILENO);
  const auto interval =
      std::chrono::duration<double>(options.interval > 0.05 ? options.interval : 1.0);
  while (true) {
    std::ostringstream out;
    s = frame(out);
    // Still connected: Redis answered with an error (a refusal, a key of another type), not an
    // outage.
    const char* what = connection.connected() ? "Redis refused: " : "Redis unreachable: ";
    if (!s) out << (options.json ? "" : what) << printable(s.message()) << "\n";
    if (!options.json) {
      const std::string header = "switchyard stats  " + loaded.endpoint.redacted() + "  every " +
                                 human_seconds(interval.count()) + "  (Ctrl-C to quit)\n\n";
      std::cout << (terminal ? "\x1b[H\x1b[2J" : "\n") << header;
    }
    if (!s && options.json)
      std::cerr << "switchyard: " << out.str();
    else
      std::cout << out.str();
    std::cout.flush();
    if (!std::cout) return 1;  // the reader went away
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace switchyard
