// backfill_command.cc: `switchyard backfill` and `switchyard replay` (one implementation): feeds
// archived messages of a time range to one handler through the running daemon's retry schedule.
#include <fnmatch.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <thread>

#include "cli/commands.h"
#include "console/dead_letters.h"
#include "dispatch/dispatcher.h"
#include "dispatch/pipeline.h"
#include "records/dead_letter.h"
#include "records/retry_entry.h"
#include "redis/redis_connection.h"
#include "source/archive.h"
#include "util/escape.h"

namespace switchyard {
namespace {

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// "5000/s" or "5000": deliveries per second, > 0.
bool parse_rate(const std::string& text, int64_t* out) {
  std::string_view s = text;
  if (s.size() > 2 && s.substr(s.size() - 2) == "/s") s.remove_suffix(2);
  int64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n <= 0) return false;
  *out = n;
  return true;
}

std::string iso(int64_t ms) { return iso8601(ms); }

// What one source's run did.
struct Totals {
  int64_t scanned = 0;  // archive entries read
  int64_t sent = 0;     // of them routed to the handler (and matching --event)
};

class Backfill {
 public:
  Backfill(const BackfillOptions& options, const Pipeline& routing, int handler,
           RedisConnection* connection, int64_t rate)
      : options_(options),
        routing_(routing),
        handler_(handler),
        connection_(connection),
        rate_(rate) {}

  // Runs the range [from_ms, until_ms) of source's archive; 0, or the exit code of a failure.
  int run(const SourceConfig& source, int64_t from_ms, int64_t until_ms);

 private:
  // Reads the next chunk after `after` ("" from from_ms) up to until_ms: the deliveries to
  // enqueue (score, member) and the last id read ("" when the range is exhausted).
  Status next_chunk(const SourceKeys& keys, Dispatcher& dispatcher, const std::string& after,
                    int64_t from_ms, int64_t until_ms, size_t count,
                    std::vector<std::pair<std::string, std::string>>* deliveries, std::string* last,
                    int64_t* scanned);
  bool wanted(Dispatcher& dispatcher, std::string_view message);

  const BackfillOptions& options_;
  const Pipeline& routing_;
  int handler_;
  RedisConnection* connection_;
  int64_t rate_;
  std::string event_;  // the running range's --event (a resumed run keeps its own)
  std::vector<int> matched_;
};

bool Backfill::wanted(Dispatcher& dispatcher, std::string_view message) {
  Envelope envelope;
  std::string reason;
  int attempts = 1;
  matched_.clear();
  if (dispatcher.route(routing_, message, {}, 0, &envelope, &matched_, &reason, &attempts) !=
      Dispatcher::Route::kHandlers)
    return false;
  if (std::find(matched_.begin(), matched_.end(), handler_) == matched_.end()) return false;
  if (event_.empty()) return true;
  const std::string event(envelope.event);
  return fnmatch(event_.c_str(), event.c_str(), 0) == 0;
}

Status Backfill::next_chunk(const SourceKeys& keys, Dispatcher& dispatcher,
                            const std::string& after, int64_t from_ms, int64_t until_ms,
                            size_t count,
                            std::vector<std::pair<std::string, std::string>>* deliveries,
                            std::string* last, int64_t* scanned) {
  deliveries->clear();
  last->clear();
  *scanned = 0;
  const std::string start = after.empty() ? std::to_string(from_ms) : "(" + after;
  const std::string end = std::to_string(until_ms - 1), n = std::to_string(count);
  Reply reply;
  Status s = connection_->command_ok({"XRANGE", keys.archive(), start, end, "COUNT", n}, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY) return Status::ok();
  const std::string score = std::to_string(now_ms());
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2) continue;
    *last = std::string(e->element[0]->str, e->element[0]->len);
    ++*scanned;
    const redisReply* fields = e->element[1];
    for (size_t f = 0; f + 1 < fields->elements; f += 2) {
      if (std::string_view(fields->element[f]->str, fields->element[f]->len) != "m") continue;
      const std::string_view message(fields->element[f + 1]->str, fields->element[f + 1]->len);
      if (!wanted(dispatcher, message)) break;
      RetryEntry entry;
      entry.attempt = 1;
      entry.first_failed_ms = now_ms();
      entry.handler = options_.handler;
      entry.message = std::string(message);
      deliveries->emplace_back(score, encode_retry_entry(entry));
      break;
    }
  }
  return Status::ok();
}

int Backfill::run(const SourceConfig& source, int64_t from_ms, int64_t until_ms) {
  const SourceKeys keys(source.key);
  const std::string& h = options_.handler;
  const std::string cursor_key = keys.backfill(h);
  BackfillCursor cursor;
  bool found = false;
  Status s = read_backfill(connection_, keys, h, &cursor, &found);
  if (!s) {
    std::cerr << "switchyard: source " << source.name << ": " << s.message() << "\n";
    return 1;
  }
  std::string after;  // the archive id to continue after ("" : from from_ms)
  int64_t sent_before = 0, scanned_before = 0;
  if (options_.reset) found = false;
  const bool resume = found && !cursor.done;
  if (resume) {
    // A run that stopped (killed, interrupted, Redis gone): continue it, with its own range.
    from_ms = cursor.from_ms;
    until_ms = cursor.until_ms;
    after = cursor.last_id;
    sent_before = cursor.sent;
    scanned_before = cursor.scanned;
    std::cout << "source " << source.name << ": resuming the " << cursor.verb << " of " << h << " ("
              << iso(from_ms) << " to " << iso(until_ms) << ", " << cursor.sent
              << " sent so far) after archive id " << (after.empty() ? "-" : after) << "\n";
  } else if (found && archive_id_ms(cursor.last_id) >= from_ms) {
    // What an earlier run sent is not sent again (--reset sends it again).
    after = cursor.last_id;
    std::cout << "source " << source.name << ": the " << cursor.verb << " of " << h << " of "
              << iso(cursor.updated_ms) << " sent up to archive id " << after
              << " already; starting after it (--reset sends it again)\n";
  }
  event_ = resume ? cursor.event : options_.event;
  if (!options_.dry_run && !resume) {
    BackfillCursor fresh;
    fresh.verb = options_.verb;
    fresh.from_ms = from_ms;
    fresh.until_ms = until_ms;
    fresh.event = event_;
    fresh.last_id = after;
    fresh.started_ms = now_ms();
    fresh.rate = rate_;
    s = start_backfill(connection_, keys, h, fresh);
    if (!s) {
      std::cerr << "switchyard: source " << source.name << ": " << s.message() << "\n";
      return 1;
    }
  }
  Dispatcher dispatcher(source, "switchyard-" + options_.verb, nullptr, now_ms);
  const size_t chunk = static_cast<size_t>(std::clamp<int64_t>(rate_ / 10, 1, 1000));
  const auto paced_from = std::chrono::steady_clock::now();
  Totals totals;
  std::vector<std::pair<std::string, std::string>> deliveries;
  std::string last;
  while (true) {
    int64_t scanned = 0;
    s = next_chunk(keys, dispatcher, after, from_ms, until_ms, chunk, &deliveries, &last, &scanned);
    if (!s) {
      std::cerr << "switchyard: source " << source.name << ": " << s.message() << "\n";
      return 1;
    }
    if (last.empty()) break;
    if (!options_.dry_run) {
      bool moved = false;
      s = enqueue_backfill_chunk(connection_, keys, h, after, last, scanned, deliveries, now_ms(),
                                 &moved);
      if (!s) {
        std::cerr << "switchyard: source " << source.name << ": " << s.message()
                  << "; run the same command again to resume\n";
        return 1;
      }
      if (!moved) {
        std::cerr << "switchyard: source " << source.name << ": " << cursor_key
                  << " moved under this run (another backfill or replay of " << h
                  << " is running, or it was deleted); stopped. `switchyard stats` shows it\n";
        return 1;
      }
    }
    totals.scanned += scanned;
    totals.sent += static_cast<int64_t>(deliveries.size());
    after = last;
    // Pace: the deliveries so far take sent / rate seconds.
    const auto due = paced_from + std::chrono::milliseconds(totals.sent * 1000 / rate_);
    if (!options_.dry_run) std::this_thread::sleep_until(due);
  }
  if (!options_.dry_run) {
    s = finish_backfill(connection_, keys, h, now_ms());
    if (!s) {
      std::cerr << "switchyard: source " << source.name << ": " << s.message() << "\n";
      return 1;
    }
  }
  std::cout << "source " << source.name << ": " << (options_.dry_run ? "would send " : "sent ")
            << totals.sent + sent_before << " of " << totals.scanned + scanned_before
            << " archived messages (" << iso(from_ms) << " to " << iso(until_ms) << ") to " << h
            << (options_.dry_run ? ""
                                 : " via " + keys.retry() + "; the running daemon delivers them")
            << "\n";
  return 0;
}

}  // namespace

int backfill_command(const CommonOptions& common, const BackfillOptions& options) {
  const std::string verb = options.verb;
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const Config& config = *loaded.config;
  if (!config.find_handler(options.handler)) {
    std::string names;
    for (const HandlerConfig& h : config.handlers) names += (names.empty() ? "" : ", ") + h.name;
    std::cerr << "switchyard: " << verb << ": no handler named \"" << printable(options.handler)
              << "\" in " << config.path << "; its handlers are: " << names << "\n";
    return 2;
  }
  const int64_t now = now_ms();
  int64_t since = 0, until = now, rate = 0;
  if (!parse_time_option(options.since, now, &since)) {
    std::cerr << "switchyard: " << verb << " --since \"" << printable(options.since)
              << "\" is neither a duration ago (24h, 30m, 7d) nor an ISO 8601 time\n";
    return 2;
  }
  if (!options.until.empty() && !parse_time_option(options.until, now, &until)) {
    std::cerr << "switchyard: " << verb << " --until \"" << printable(options.until)
              << "\" is neither a duration ago (1h) nor an ISO 8601 time\n";
    return 2;
  }
  until = std::min(until, now);
  if (since >= until) {
    std::cerr << "switchyard: " << verb << ": --since " << iso(since) << " is not before --until "
              << iso(until) << "\n";
    return 2;
  }
  if (!parse_rate(options.rate, &rate)) {
    std::cerr << "switchyard: " << verb << " --rate \"" << printable(options.rate)
              << "\" is not a positive rate such as 5000/s\n";
    return 2;
  }
  std::vector<const SourceConfig*> sources;
  for (const SourceConfig& s : config.sources) {
    if (!options.source.empty() && s.name != options.source) continue;
    if (!s.archive && !options.source.empty()) {
      std::cerr << "switchyard: " << verb << ": source " << s.name << " keeps no archive; add "
                << "archive: { retention: 7d } to it in " << config.path
                << " (only messages handled from then on can be sent again)\n";
      return 2;
    }
    if (s.archive) sources.push_back(&s);
  }
  if (sources.empty()) {
    std::cerr << "switchyard: " << verb << ": "
              << (options.source.empty() ? "no source keeps an archive"
                                         : "no source named \"" + printable(options.source) + "\"")
              << " in " << config.path
              << "; add archive: { retention: 7d } to a source (see README, History)\n";
    return 2;
  }
  std::shared_ptr<const Pipeline> routing;
  if (Status s = build_routing_only(loaded.config, &routing); !s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 2;
  }
  RedisConnection connection(loaded.endpoint, "switchyard:" + verb);
  if (Status s = connection.connect(); !s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  Backfill backfill(options, *routing, routing->handler_index(options.handler), &connection, rate);
  for (const SourceConfig* source : sources)
    if (int rc = backfill.run(*source, since, until)) return rc;
  return 0;
}

}  // namespace switchyard
