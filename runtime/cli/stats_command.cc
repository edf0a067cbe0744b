// stats_command.cc: `switchyard stats`: per source, pending, in flight (per consumer), retrying and
// dead; `--watch` redraws it with rates for operators.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <thread>

#include "cli/behind_view.h"
#include "cli/commands.h"
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

// `s` as a JSON string literal: names come from routes.yaml and Redis (consumer and group names
// anyone with access to the keys can set) and may hold any byte.
std::string json_quote(const std::string& s) {
  std::string out = "\"";
  append_escaped(s, EscapeStyle::kJson, &out);
  return out + "\"";
}

struct ConsumerStats {
  long long inflight = 0;
  bool alive = false;
};

struct GroupStats {  // streams: one consumer group
  std::string name;
  long long pending = 0, lag = -1;  // lag -1: Redis cannot tell
  struct Consumer {
    std::string name;
    long long pending = 0, idle_ms = 0;
  };
  std::vector<Consumer> consumers;
};

struct SourceStats {
  std::string name;
  std::string key;
  long long pending = 0, inflight = 0, retrying = 0, dead = 0;
  std::map<std::string, ConsumerStats> consumers;
  bool stream = false;
  std::vector<GroupStats> groups;
  std::map<std::string, std::string> alerts;        // K:alerts: code -> "<ISO time> <text>"
  std::map<std::string, std::string> paused;        // K:paused: field -> "<ISO time> by <who>"
  long long archived = -1;                          // XLEN K:archive; -1: archive off
  std::map<std::string, BackfillCursor> backfills;  // handler -> K:backfill:<handler>
};

int64_t unix_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads a flat [field, value, ...] reply into a map of owned strings/integers (as text).
std::map<std::string, std::string> fields_of(const redisReply* r) {
  std::map<std::string, std::string> out;
  if (r->type != REDIS_REPLY_ARRAY) return out;
  for (size_t i = 0; i + 1 < r->elements; i += 2) {
    const redisReply* v = r->element[i + 1];
    std::string value = v->type == REDIS_REPLY_INTEGER ? std::to_string(v->integer)
                        : v->type == REDIS_REPLY_NIL   ? "-1"
                                                       : std::string(v->str ? v->str : "", v->len);
    out[std::string(r->element[i]->str, r->element[i]->len)] = value;
  }
  return out;
}

Status collect_stream(RedisConnection& connection, const SourceConfig& source, SourceStats* st) {
  st->stream = true;
  Reply groups;
  Status s = connection.command({"XINFO", "GROUPS", source.key}, &groups);
  if (!s) return s;
  if (groups->type != REDIS_REPLY_ARRAY) return Status::ok();  // no stream yet
  for (size_t g = 0; g < groups->elements; ++g) {
    auto f = fields_of(groups->element[g]);
    GroupStats gs;
    gs.name = f["name"];
    gs.pending = std::stoll(f["pending"].empty() ? "0" : f["pending"]);
    gs.lag = std::stoll(f["lag"].empty() ? "-1" : f["lag"]);
    Reply consumers;
    s = connection.command_ok({"XINFO", "CONSUMERS", source.key, gs.name}, &consumers);
    if (!s) return s;
    for (size_t c = 0; c < consumers->elements; ++c) {
      auto cf = fields_of(consumers->element[c]);
      gs.consumers.push_back({cf["name"], std::stoll(cf["pending"].empty() ? "0" : cf["pending"]),
                              std::stoll(cf["idle"].empty() ? "0" : cf["idle"])});
    }
    if (gs.name == source.group) {
      st->pending = gs.lag < 0 ? 0 : gs.lag;
      st->inflight = gs.pending;
    }
    st->groups.push_back(std::move(gs));
  }
  return Status::ok();
}

Status collect(RedisConnection& connection, const Config& config, const std::string& only,
               std::vector<SourceStats>* out) {
  out->clear();
  Status status;
  auto integer = [&](std::vector<std::string_view> argv) -> long long {
    Reply reply;
    Status s = connection.command_ok(argv, &reply);
    if (!s) {
      status = s;
      return 0;
    }
    return reply->type == REDIS_REPLY_INTEGER ? reply->integer : 0;
  };
  for (const auto& source : config.sources) {
    if (!only.empty() && source.name != only) continue;
    SourceKeys keys(source.key);
    SourceStats st;
    st.name = source.name;
    st.key = source.key;
    st.dead = integer({"LLEN", keys.dead()});
    st.retrying = integer({"ZCARD", keys.retry()});
    Reply alerts;
    Status a = connection.command({"HGETALL", keys.alerts()}, &alerts);
    if (!a) return a;
    if (alerts->type == REDIS_REPLY_ERROR) {
      st.alerts["alerts_unreadable"] = keys.alerts() + " cannot be read (" +
                                       std::string(alerts->str, alerts->len) +
                                       "); DEL it so that Switchyard can record alerts again";
    } else {
      st.alerts = fields_of(alerts.get());
    }
    Reply paused;
    if (connection.command({"HGETALL", paused_key(source.key)}, &paused))
      st.paused = fields_of(paused.get());
    if (source.archive) st.archived = integer({"XLEN", keys.archive()});
    for (const HandlerConfig& h : config.handlers) {
      BackfillCursor cursor;
      bool found = false;
      Status b = read_backfill(&connection, keys, h.name, &cursor, &found);
      if (!b) st.alerts["backfill_unreadable_" + h.name] = b.message();
      if (found) st.backfills[h.name] = cursor;
    }
    if (source.type == SourceType::kStream) {
      Status s = collect_stream(connection, source, &st);
      if (!s) return s;
      out->push_back(std::move(st));
      continue;
    }
    st.pending = integer({"LLEN", keys.pending});
    st.dead = integer({"LLEN", keys.dead()});
    st.retrying = integer({"ZCARD", keys.retry()});
    Reply owners;
    Status s = connection.command_ok({"HGETALL", keys.owners()}, &owners);
    if (!s) return s;
    for (size_t i = 0; i + 1 < owners->elements; i += 2) {
      std::string list(owners->element[i]->str, owners->element[i]->len);
      std::string consumer(owners->element[i + 1]->str, owners->element[i + 1]->len);
      long long n = integer({"LLEN", list});
      st.consumers[consumer].inflight += n;
      st.consumers[consumer].alive = integer({"EXISTS", keys.heartbeat(consumer)}) == 1;
      st.inflight += n;
    }
    if (source.delivery == Delivery::kLease) {
      // The lease window is still at the head of K: in flight, held by the lease's consumer.
      Reply window, holder;
      s = connection.command_ok({"HGET", keys.window(), "n"}, &window);
      if (s) s = connection.command_ok({"GET", keys.lease()}, &holder);
      if (!s) return s;
      long long n = window->type == REDIS_REPLY_STRING ? std::atoll(window->str) : 0;
      n = std::clamp(n, 0LL, st.pending);
      st.pending -= n;
      st.inflight += n;
      if (holder->type == REDIS_REPLY_STRING) {
        std::string consumer(holder->str, holder->len);
        consumer = consumer.substr(0, consumer.find('|'));  // the name, not the run's token
        st.consumers[consumer].inflight += n;
        st.consumers[consumer].alive = true;  // the lease expires with its holder
      }
    }
    if (!status) return status;
    out->push_back(std::move(st));
  }
  return Status::ok();
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
    std::cout << "},\"archived\":" << st.archived << ",\"backfills\":{";
    const int64_t now = unix_ms();
    for (auto it = st.backfills.begin(); it != st.backfills.end(); ++it) {
      const BackfillCursor& c = it->second;
      const auto eta = c.eta_ms(now);
      std::cout << (it == st.backfills.begin() ? "" : ",") << json_quote(it->first)
                << ":{\"command\":" << json_quote(c.verb)
                << ",\"from\":" << json_quote(iso8601(c.from_ms))
                << ",\"until\":" << json_quote(iso8601(c.until_ms))
                << ",\"done\":" << (c.done ? "true" : "false") << ",\"read\":" << c.scanned
                << ",\"sent\":" << c.sent << ",\"progress\":" << c.fraction()
                << ",\"eta_seconds\":" << (eta ? std::to_string(*eta / 1000) : "null")
                << ",\"updated\":" << json_quote(iso8601(c.updated_ms)) << "}";
    }
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

// One line per alert of the source (see source/source_alerts.h), per paused thing, for the
// archive and per backfill or replay.
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
  if (st.archived >= 0) std::cout << "  archive: " << st.archived << " messages\n";
  const int64_t now = unix_ms();
  for (const auto& [handler, c] : st.backfills) {
    std::cout << "  " << (c.verb == "replay" ? "REPLAY" : "BACKFILL") << " handler "
              << printable(handler) << " (" << iso8601(c.from_ms) << " to " << iso8601(c.until_ms)
              << "): ";
    if (c.done) {
      std::cout << "done at " << iso8601(c.updated_ms) << ", sent " << c.sent << " of " << c.scanned
                << " archived\n";
      continue;
    }
    const auto eta = c.eta_ms(now);
    std::cout << static_cast<int>(c.fraction() * 100) << "%, sent " << c.sent << " of " << c.scanned
              << " read, ETA " << (eta ? std::to_string(*eta / 1000) + "s" : std::string("unknown"))
              << ", last moved " << iso8601(c.updated_ms) << "\n";
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

// One line per source or handler with a max_rate, max_in_flight or dedup (README "Pace and
// dedup"), as routes.yaml configures them.
void print_limits(const Config& config) {
  for (const SourceConfig& s : config.sources)
    if (s.max_rate.limited())
      std::cout << "limits: source " << printable(s.name) << " max_rate " << rate_text(s.max_rate)
                << "\n";
  for (const HandlerConfig& h : config.handlers) {
    std::string parts;
    if (h.max_rate.limited()) parts += ", max_rate " + rate_text(h.max_rate) + " per source";
    if (h.max_in_flight > 0) parts += ", max_in_flight " + std::to_string(h.max_in_flight);
    if (!h.dedup.key.empty())
      parts += ", dedup " + printable(h.dedup.key) + " for " +
               std::to_string(h.dedup.window.count() / 1000) + "s";
    if (!parts.empty()) std::cout << "limits: handler " << printable(h.name) << parts << "\n";
  }
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
    s = collect(connection, *loaded.config, options.source, &stats);
    std::map<std::string, SourceBehindView> behind;
    std::vector<HandlerView> handlers;
    if (s) s = read_behind(connection, *loaded.config, &behind, &handlers);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    options.json ? print_json(stats, behind, handlers) : print_text(stats, behind, handlers);
    if (!options.json) print_limits(*loaded.config);
    return 0;
  }
  // --watch: redraw until interrupted; rates are the change per second since the last draw
  // (pending falls as Switchyard drains and rises as producers push).
  std::map<std::string, SourceStats> previous;
  auto last = std::chrono::steady_clock::now();
  auto interval = std::chrono::duration<double>(options.interval > 0.05 ? options.interval : 1.0);
  while (true) {
    if (!connection.connected()) connection.connect();
    s = collect(connection, *loaded.config, options.source, &stats);
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
