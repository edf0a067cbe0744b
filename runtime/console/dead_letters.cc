// dead_letters.cc: K:dead read in windows, filtered, paged, replayed and purged.
#include "console/dead_letters.h"

#include <fnmatch.h>

#include <algorithm>
#include <cctype>

#include "config/config_loader.h"
#include "console/lua/scripts.h"
#include "records/retry_entry.h"
#include "source/list_source.h"
#include "util/bounded_json.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// Its Redis scripts: console/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kReplayScript(lua::kDlqReplay);
const RedisScript kPurgeListedScript(lua::kDlqPurgeListed);

// Elements read per LRANGE: big enough to be few round trips, small enough to stay cheap.
constexpr long kWindow = 1000;

// Reads K:dead[start..stop] (non-negative indexes) into *out as decoded letters.
Status read_window(RedisConnection& connection, const std::string& dead_key, long start, long stop,
                   std::vector<Letter>* out) {
  Reply reply;
  Status s = connection.command_ok(
      {"LRANGE", dead_key, std::to_string(start), std::to_string(stop)}, &reply);
  if (!s) return s;
  if (reply->type != REDIS_REPLY_ARRAY)
    return Status::error(dead_key + " is not a list; `switchyard stats` names what to do");
  for (size_t i = 0; i < reply->elements; ++i)
    out->push_back(read_letter(std::string(reply->element[i]->str, reply->element[i]->len),
                               start + static_cast<long>(i)));
  return Status::ok();
}

Status list_length(RedisConnection& connection, const std::string& dead_key, long* n) {
  Reply reply;
  Status s = connection.command_ok({"LLEN", dead_key}, &reply);
  if (!s) return s;
  *n = reply->type == REDIS_REPLY_INTEGER ? static_cast<long>(reply->integer) : 0;
  return Status::ok();
}

}  // namespace

std::optional<std::string> event_of(const std::string& message) {
  rapidjson::Document doc;
  std::string error;
  if (parse_bounded_json(message, JsonBounds{}, &doc, &error) && doc.IsObject()) {
    auto it = doc.FindMember("event");
    if (it != doc.MemberEnd() && it->value.IsString())
      return std::string(it->value.GetString(), it->value.GetStringLength());
  }
  return std::nullopt;
}

Letter read_letter(std::string raw, long index) {
  Letter l;
  l.index = index;
  l.raw = std::move(raw);
  l.id = dead_letter_id(l.raw);
  std::string error;
  if (!decode_dead_letter(l.raw, &l.letter, &error)) {
    l.unreadable = error.empty() ? "not a dead letter" : error;
    l.letter.reason = "(unreadable: " + l.unreadable + ")";
  } else {
    l.event = event_of(l.letter.message);
    int64_t t = 0;
    if (parse_iso8601(l.letter.failed_at, &t)) l.failed_ms = t;
  }
  return l;
}

bool parse_time_option(const std::string& text, int64_t now_ms, int64_t* out) {
  Millis ago;
  if (parse_duration(text, &ago)) {
    *out = now_ms - ago.count();
    return true;
  }
  return parse_iso8601(text, out);
}

bool LetterFilters::match_id(const std::string& id) const {
  return ids.empty() || std::any_of(ids.begin(), ids.end(), [&](const std::string& prefix) {
           return id.compare(0, prefix.size(), prefix) == 0;
         });
}

bool LetterFilters::match(const Letter& l) const {
  if (!match_id(l.id)) return false;
  if (!event_glob.empty() && (!l.event || fnmatch(event_glob.c_str(), l.event->c_str(), 0) != 0))
    return false;
  if (!handler.empty()) {
    const bool before_routing = handler == "-" || handler == "null";
    if (before_routing ? l.letter.handler.has_value() : l.letter.handler != handler) return false;
  }
  if (!reason.empty() && l.letter.reason.find(reason) == std::string::npos) return false;
  if ((since || before) && !l.failed_ms) return false;
  if (since && *l.failed_ms < *since) return false;
  if (before && *l.failed_ms >= *before) return false;
  return true;
}

bool parse_letter_id(std::string text, std::string* id, std::string* error) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if (text.size() < kMinDeadLetterIdDigits || text.size() > kDeadLetterIdDigits ||
      text.find_first_not_of("0123456789abcdef") != std::string::npos) {
    *error = "\"" + printable(text) + "\" is not a dead-letter id: give " +
             std::to_string(kMinDeadLetterIdDigits) + " to " + std::to_string(kDeadLetterIdDigits) +
             " of its hex digits, as `switchyard dlq list` shows them";
    return false;
  }
  *id = std::move(text);
  return true;
}

std::string letter_json_quote(std::string_view s) {
  std::string out = "\"";
  append_escaped(s, EscapeStyle::kJson, &out);
  out += '"';
  return out;
}

std::string letter_json(const Letter& l) {
  const auto q = letter_json_quote;
  std::string out = "{\"id\":" + q(l.id);
  if (!l.unreadable.empty()) return out + ",\"unreadable\":" + q(l.unreadable) + "}";
  const DeadLetter& d = l.letter;
  out += ",\"failed_at\":" + q(d.failed_at) + ",\"source\":" + q(d.source) +
         ",\"handler\":" + (d.handler ? q(*d.handler) : "null") +
         ",\"event\":" + (l.event ? q(*l.event) : "null") +
         ",\"attempts\":" + std::to_string(d.attempts) + ",\"reason\":" + q(d.reason) +
         ",\"instance\":" + q(d.instance);
  if (d.truncated()) out += ",\"message_bytes\":" + std::to_string(d.message_bytes);
  out += ",\"replayable\":" + std::string(d.truncated() ? "false" : "true") + "}";
  return out;
}

Status read_letter_page(RedisConnection& connection, const std::string& dead_key,
                        const LetterFilters& filters, long offset, long limit, LetterPage* page,
                        long scan_limit) {
  *page = LetterPage{};
  Status s = list_length(connection, dead_key, &page->total);
  if (!s) return s;
  const long total = page->total;
  if (!filters.any()) {
    // Newest first: the page is the window ending `offset` elements before the tail.
    page->matched = total;
    const long stop = total - 1 - offset;
    if (stop < 0 || limit <= 0) return Status::ok();
    const long start = std::max(0L, stop - limit + 1);
    std::vector<Letter> window;
    s = read_window(connection, dead_key, start, stop, &window);
    if (!s) return s;
    page->letters.assign(std::make_move_iterator(window.rbegin()),
                         std::make_move_iterator(window.rend()));
    page->more = start > 0;
    return Status::ok();
  }
  long scanned = 0;
  for (long stop = total - 1; stop >= 0; stop -= kWindow) {
    if (scanned >= scan_limit) {
      page->complete = false;
      page->more = true;
      break;
    }
    const long start = std::max(0L, stop - kWindow + 1);
    std::vector<Letter> window;
    s = read_window(connection, dead_key, start, stop, &window);
    if (!s) return s;
    scanned += stop - start + 1;
    for (auto it = window.rbegin(); it != window.rend(); ++it) {
      if (!filters.match(*it)) continue;
      if (page->matched >= offset && page->matched < offset + limit)
        page->letters.push_back(std::move(*it));
      ++page->matched;
    }
  }
  if (page->matched > offset + limit) page->more = true;
  return Status::ok();
}

Status read_matching_letters(RedisConnection& connection, const std::string& dead_key,
                             const LetterFilters& filters, std::vector<Letter>* out, long* total) {
  out->clear();
  // One LRANGE: the indexes are those of one moment, which purge_head relies on.
  Reply all;
  Status s = connection.command_ok({"LRANGE", dead_key, "0", "-1"}, &all);
  if (!s) return s;
  if (all->type != REDIS_REPLY_ARRAY)
    return Status::error(dead_key + " is not a list; `switchyard stats` names what to do");
  *total = static_cast<long>(all->elements);
  for (size_t i = 0; i < all->elements; ++i) {
    std::string raw(all->element[i]->str, all->element[i]->len);
    // The id first: decoding every letter is the slow part.
    if (!filters.ids.empty() && !filters.match_id(dead_letter_id(raw))) continue;
    Letter l = read_letter(std::move(raw), static_cast<long>(i));
    if (filters.match(l)) out->push_back(std::move(l));
  }
  return Status::ok();
}

Status replay_letter(RedisConnection& connection, const SourceConfig& source, const Letter& l,
                     int64_t now_ms, ReplayResult* result, std::string* why) {
  // Replaying what is not a dead letter, or only the start of a message, would queue a message
  // that never was: refuse, and leave the element where it is.
  if (!l.unreadable.empty() || l.letter.truncated()) {
    *why = l.unreadable.empty()
               ? "it keeps only the first " + std::to_string(l.letter.message.size()) +
                     " of the message's " + std::to_string(l.letter.message_bytes) +
                     " bytes (it was over limits.max_message_bytes)"
               : "it cannot be read (" + printable(l.unreadable) + ")";
    *result = ReplayResult::kRefused;
    return Status::ok();
  }
  SourceKeys keys(source.key);
  const std::string dead = keys.dead();
  Reply reply;
  Status s;
  if (l.letter.handler) {
    // Back to only the handler that failed it, through the retry schedule, due now.
    RetryEntry entry;
    entry.attempt = 1;
    entry.first_failed_ms = now_ms;
    entry.handler = *l.letter.handler;
    entry.message = l.letter.message;
    s = connection.eval(kReplayScript, {dead, keys.retry()},
                        {l.raw, "retry", std::to_string(now_ms), encode_retry_entry(entry)},
                        &reply);
  } else {
    // Failed before routing: back to the tail of the source's list, to all its routes.
    s = connection.eval(kReplayScript, {dead, keys.pending},
                        {l.raw, to_string(source.type), std::to_string(now_ms), l.letter.message},
                        &reply);
  }
  if (!s) return s;
  *result = reply->integer == 1 ? ReplayResult::kReplayed : ReplayResult::kGone;
  return Status::ok();
}

Status purge_letters(RedisConnection& connection, const std::string& dead_key,
                     const std::vector<const Letter*>& letters,
                     std::vector<const Letter*>* removed) {
  // Each exact element, wherever it is now: nothing else is removed.
  for (const Letter* l : letters) {
    Reply reply;
    Status s = connection.command_ok({"LREM", dead_key, "1", l->raw}, &reply);
    if (!s) return s;
    if (reply->integer > 0) removed->push_back(l);
  }
  return Status::ok();
}

Status purge_head(RedisConnection& connection, const std::string& dead_key, size_t count,
                  const std::string& first, const std::string& last, long* purged) {
  Reply reply;
  Status s =
      connection.eval(kPurgeListedScript, {dead_key}, {std::to_string(count), first, last}, &reply);
  if (!s) return s;
  *purged = static_cast<long>(reply->integer);
  return Status::ok();
}

}  // namespace switchyard
