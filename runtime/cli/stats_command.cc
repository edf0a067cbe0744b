// stats_command.cc: `switchyard stats`: per source, pending, in flight (per consumer), retrying and
// dead; `--watch` redraws it with rates for operators.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "cli/commands.h"
#include "console/behind_view.h"
#include "console/source_stats.h"
#include "dispatch/pause.h"
#include "redis/redis_connection.h"
#include "source/behind_sampler.h"
#include "source/list_source.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// `s` as a JSON string literal: names come from routes.yaml and Redis (consumer and group names
// anyone with access to the keys can set) and may hold any byte.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  append_escaped(s, EscapeStyle::kJson, &out);
  return out + "\"";
}

// The "behind" and "handlers" members of a source's JSON object (README "How far behind").
void print_behind_json(const SourceBehindView& b, const std::vector<HandlerView>& handlers) {
  std::cout << ",\"behind\":{\"reported\":" << (b.reported ? "true" : "false")
            << ",\"instances\":" << b.instances
            << ",\"oldest_age_seconds\":" << json_number(b.oldest_age_seconds)
            << ",\"in_rate\":{\"1m\":" << json_number(b.in_1m) << ",\"5m\":" << json_number(b.in_5m)
            << "},\"out_rate\":{\"1m\":" << json_number(b.out_1m)
            << ",\"5m\":" << json_number(b.out_5m)
            << "},\"drain_eta_seconds\":" << json_number(b.drain_eta_seconds) << "}";
  std::cout << ",\"handlers\":{";
  for (size_t i = 0; i < handlers.size(); ++i) {
    const HandlerView& h = handlers[i];
    std::cout << (i ? "," : "") << json_quote(h.name) << ":{\"calls_1m\":" << h.calls
              << ",\"rates_1m\":{";
    bool first = true;
    for (const auto& [outcome, rate] : h.rates) {
      std::cout << (first ? "" : ",") << json_quote(outcome) << ":" << json_number(rate);
      first = false;
    }
    std::cout << "},\"p50_seconds\":" << json_number(h.p50_seconds)
              << ",\"p99_seconds\":" << json_number(h.p99_seconds) << "}";
  }
  std::cout << "}";
}

void print_json(const std::vector<SourceStats>& stats,
                const std::map<std::string, SourceBehindView>& behind,
                const std::vector<HandlerView>& handlers) {
  std::cout << "{";
  for (size_t i = 0; i < stats.size(); ++i) {
    const auto& st = stats[i];
    std::cout << (i ? "," : "") << json_quote(st.name) << ":{\"key\":" << json_quote(st.key)
              << ",\"pending\":" << st.pending << ",\"inflight\":" << st.inflight
              << ",\"retrying\":" << st.retrying << ",\"dead\":" << st.dead << ",\"alerts\":{";
    bool first_alert = true;
    for (const auto& [code, text] : st.alerts) {
      std::cout << (first_alert ? "" : ",") << json_quote(code) << ":" << json_quote(text);
      first_alert = false;
    }
    std::cout << "},\"paused\":{";
    for (auto it = st.paused.begin(); it != st.paused.end(); ++it)
      std::cout << (it == st.paused.begin() ? "" : ",") << json_quote(it->first) << ":"
                << json_quote(it->second);
    std::cout << "}";
    auto b = behind.find(st.name);
    print_behind_json(b == behind.end() ? SourceBehindView{} : b->second, handlers);
    if (st.stream) {
      std::cout << ",\"groups\":{";
      for (size_t g = 0; g < st.groups.size(); ++g) {
        const auto& gs = st.groups[g];
        std::cout << (g ? "," : "") << json_quote(gs.name) << ":{\"pending\":" << gs.pending
                  << ",\"lag\":" << gs.lag << ",\"consumers\":{";
        for (size_t c = 0; c < gs.consumers.size(); ++c)
          std::cout << (c ? "," : "") << json_quote(gs.consumers[c].name)
                    << ":{\"pending\":" << gs.consumers[c].pending
                    << ",\"idle_ms\":" << gs.consumers[c].idle_ms << "}";
        std::cout << "}}";
      }
      std::cout << "}}";
      continue;
    }
    std::cout << ",\"consumers\":{";
    bool first = true;
    for (const auto& [c, cs] : st.consumers) {
      std::cout << (first ? "" : ",") << json_quote(c) << ":{\"inflight\":" << cs.inflight
                << ",\"alive\":" << (cs.alive ? "true" : "false") << "}";
      first = false;
    }
    std::cout << "}}";
  }
  std::cout << "}\n";
}

// One line per alert of the source (see source/source_alerts.h), and per paused thing.
void print_alerts(const SourceStats& st) {
  for (const auto& [code, text] : st.alerts)
    std::cout << "  ALERT " << printable(code) << ": " << printable(text) << "\n";
  for (const auto& [field, since] : st.paused) {
    const bool handler = field.rfind(kPausedHandlerPrefix, 0) == 0;
    const std::string name = handler ? field.substr(kPausedHandlerPrefix.size()) : st.name;
    std::cout << "  PAUSED " << (handler ? "handler " : "source ") << printable(name) << " since "
              << printable(since) << " (switchyard resume " << (handler ? "--handler " : "")
              << printable(name) << ")\n";
  }
}

// One line: how far behind the source is, or that no running instance reports it.
void print_behind(const SourceStats& st, const std::map<std::string, SourceBehindView>& behind) {
  auto it = behind.find(st.name);
  if (it == behind.end() || !it->second.reported) {
    std::cout << "  behind: unknown (no running instance reported in the last "
              << kSnapshotStaleMs / 1000 << " s)\n";
    return;
  }
  const SourceBehindView& b = it->second;
  std::cout << std::fixed << std::setprecision(1) << "  behind: oldest "
            << human_seconds(b.oldest_age_seconds) << ", in " << b.in_1m << "/s (5m " << b.in_5m
            << "/s), out " << b.out_1m << "/s (5m " << b.out_5m << "/s), drain ETA "
            << human_seconds(b.drain_eta_seconds) << ", " << b.instances << " instance(s)\n";
  std::cout.unsetf(std::ios::floatfield);
}

// One line per handler: last minute's rates and latency quantiles.
void print_handlers(const std::vector<HandlerView>& handlers) {
  for (const HandlerView& h : handlers)
    std::cout << std::fixed << std::setprecision(1) << "handler " << printable(h.name) << ": ok "
              << h.rate("ok") << "/s, errors " << h.error_rate() << "/s (retry " << h.rate("retry")
              << ", reject " << h.rate("reject") << ", dead " << h.rate("dead_letter") << "), p50 "
              << human_latency(h.p50_seconds) << ", p99 " << human_latency(h.p99_seconds)
              << " (last minute)\n";
  std::cout.unsetf(std::ios::floatfield);
}

void print_text(const std::vector<SourceStats>& stats,
                const std::map<std::string, SourceBehindView>& behind,
                const std::vector<HandlerView>& handlers) {
  for (const auto& st : stats) {
    if (st.stream) {
      std::cout << printable(st.name) << " (stream " << printable(st.key) << "): retrying "
                << st.retrying << ", dead " << st.dead << "\n";
      print_behind(st, behind);
      print_alerts(st);
      for (const auto& g : st.groups) {
        std::cout << "  group " << printable(g.name) << ": pending " << g.pending << ", lag "
                  << (g.lag < 0 ? std::string("unknown") : std::to_string(g.lag)) << "\n";
        for (const auto& c : g.consumers)
          std::cout << "    consumer " << printable(c.name) << ": pending " << c.pending
                    << ", idle " << c.idle_ms << " ms\n";
      }
      continue;
    }
    std::cout << printable(st.name) << " (" << printable(st.key) << "): pending " << st.pending
              << ", in flight " << st.inflight << ", retrying " << st.retrying << ", dead "
              << st.dead << "\n";
    print_behind(st, behind);
    print_alerts(st);
    for (const auto& [c, cs] : st.consumers) {
      std::cout << "  consumer " << printable(c) << ": in flight " << cs.inflight
                << (cs.alive ? "" : " (silent: reclaimed after reclaim_after)") << "\n";
    }
  }
  print_handlers(handlers);
}

}  // namespace

int stats_command(const CommonOptions& common, const StatsOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  RedisConnection connection(loaded.endpoint, "switchyard:stats");
  Status s = connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  std::vector<SourceStats> stats;
  if (!options.watch) {
    s = collect_source_stats(connection, *loaded.config, options.source, &stats);
    std::map<std::string, SourceBehindView> behind;
    std::vector<HandlerView> handlers;
    if (s) s = read_behind(connection, *loaded.config, &behind, &handlers);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    options.json ? print_json(stats, behind, handlers) : print_text(stats, behind, handlers);
    return 0;
  }
  // --watch: redraw until interrupted; rates are the change per second since the last draw
  // (pending falls as Switchyard drains and rises as producers push).
  std::map<std::string, SourceStats> previous;
  auto last = std::chrono::steady_clock::now();
  auto interval = std::chrono::duration<double>(options.interval > 0.05 ? options.interval : 1.0);
  while (true) {
    if (!connection.connected()) connection.connect();
    s = collect_source_stats(connection, *loaded.config, options.source, &stats);
    auto now = std::chrono::steady_clock::now();
    double seconds = std::chrono::duration<double>(now - last).count();
    last = now;
    std::cout << "\x1b[H\x1b[2J"
              << "switchyard stats  " << loaded.endpoint.redacted() << "  every "
              << interval.count() << "s  (Ctrl-C to quit)\n\n";
    if (!s) {
      std::cout << "Redis unreachable: " << printable(s.message()) << "\n";
    } else {
      std::cout << std::left << std::setw(20) << "source" << std::right << std::setw(12)
                << "pending" << std::setw(12) << "pending/s" << std::setw(10) << "inflight"
                << std::setw(10) << "retrying" << std::setw(10) << "dead" << std::setw(10)
                << "dead/s"
                << "\n";
      for (const auto& st : stats) {
        auto prev = previous.find(st.name);
        double pending_rate = 0, dead_rate = 0;
        if (prev != previous.end() && seconds > 0) {
          pending_rate = static_cast<double>(st.pending - prev->second.pending) / seconds;
          dead_rate = static_cast<double>(st.dead - prev->second.dead) / seconds;
        }
        std::cout << std::left << std::setw(20) << printable(st.name) << std::right << std::setw(12)
                  << st.pending << std::setw(12) << std::fixed << std::setprecision(0)
                  << pending_rate << std::setw(10) << st.inflight << std::setw(10) << st.retrying
                  << std::setw(10) << st.dead << std::setw(10) << dead_rate << "\n";
        for (const auto& [c, cs] : st.consumers)
          std::cout << "    " << c << ": in flight " << cs.inflight << (cs.alive ? "" : " (silent)")
                    << "\n";
        print_alerts(st);
        previous[st.name] = st;
      }
    }
    std::cout.flush();
    std::this_thread::sleep_for(interval);
  }
}

}  // namespace switchyard
