// archive.cc: the backfill cursor K:backfill:<handler> and its chunk script.
#include "source/archive.h"

#include <charconv>

#include "source/lua/scripts.h"

namespace switchyard {
namespace {

// Its Redis script: source/lua/backfill_enqueue.lua says what it does, its KEYS, ARGV and reply.
const RedisScript kEnqueueScript(lua::kBackfillEnqueue);

int64_t to_int(std::string_view s) {
  int64_t v = 0;
  const auto result = std::from_chars(s.data(), s.data() + s.size(), v);
  return result.ec == std::errc() ? v : 0;
}

}  // namespace

double BackfillCursor::fraction() const {
  if (done) return 1.0;
  const int64_t at = archive_id_ms(last_id);
  if (at <= from_ms || until_ms <= from_ms) return 0.0;
  if (at >= until_ms) return 1.0;
  return static_cast<double>(at - from_ms) / static_cast<double>(until_ms - from_ms);
}

std::optional<int64_t> BackfillCursor::eta_ms(int64_t now_ms) const {
  const double f = fraction();
  if (done || f <= 0.0 || started_ms <= 0 || now_ms <= started_ms) return std::nullopt;
  return static_cast<int64_t>(static_cast<double>(now_ms - started_ms) * (1.0 - f) / f);
}

int64_t archive_id_ms(std::string_view id) {
  const size_t dash = id.find('-');
  if (dash == std::string_view::npos || dash == 0) return 0;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(id.data(), id.data() + dash, ms);
  if (ec != std::errc() || end != id.data() + dash) return 0;
  return ms;
}

Status read_backfill(RedisConnection* connection, const SourceKeys& keys,
                     const std::string& handler, BackfillCursor* cursor, bool* found) {
  *cursor = BackfillCursor{};
  *found = false;
  const std::string key = keys.backfill(handler);
  Reply reply;
  Status s = connection->command({"HGETALL", key}, &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_ERROR)
    return Status::error(key + " is not a backfill cursor (" + std::string(reply->str, reply->len) +
                         "); rename it aside or DEL it, then run the backfill again");
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) return Status::ok();
  BackfillCursor c;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    const std::string_view f(reply->element[i]->str, reply->element[i]->len);
    const std::string_view v(reply->element[i + 1]->str, reply->element[i + 1]->len);
    if (f == "verb") c.verb = v;
    if (f == "from_ms") c.from_ms = to_int(v);
    if (f == "until_ms") c.until_ms = to_int(v);
    if (f == "event") c.event = v;
    if (f == "last") c.last_id = v;
    if (f == "scanned") c.scanned = to_int(v);
    if (f == "sent") c.sent = to_int(v);
    if (f == "started_ms") c.started_ms = to_int(v);
    if (f == "updated_ms") c.updated_ms = to_int(v);
    if (f == "rate") c.rate = to_int(v);
    if (f == "done") c.done = v == "1";
    if (f == "runs") c.runs = to_int(v);
    if (f == "scanned_total") c.scanned_all = to_int(v);
    if (f == "sent_total") c.sent_all = to_int(v);
  }
  *cursor = c;
  *found = true;
  return Status::ok();
}

Status start_backfill(RedisConnection* connection, const SourceKeys& keys,
                      const std::string& handler, const BackfillCursor& c) {
  const std::string key = keys.backfill(handler);
  const std::string from = std::to_string(c.from_ms), until = std::to_string(c.until_ms);
  const std::string started = std::to_string(c.started_ms), rate = std::to_string(c.rate);
  Reply reply;
  Status s = connection->command_ok(
      {"HSET",       key,     "verb",       c.verb,    "from_ms", from, "until_ms", until,
       "event",      c.event, "last",       c.last_id, "scanned", "0",  "sent",     "0",
       "started_ms", started, "updated_ms", started,   "rate",    rate, "done",     "0"},
      &reply);
  if (!s) return s;
  return connection->command_ok({"HINCRBY", key, "runs", "1"}, &reply);
}

Status enqueue_backfill_chunk(RedisConnection* connection, const SourceKeys& keys,
                              const std::string& handler, const std::string& expected_last,
                              const std::string& new_last, int64_t scanned,
                              const std::vector<std::pair<std::string, std::string>>& retries,
                              int64_t now_ms, bool* moved) {
  const std::string key = keys.backfill(handler), retry = keys.retry();
  const std::string scanned_text = std::to_string(scanned), now = std::to_string(now_ms);
  std::vector<std::string_view> args = {expected_last, new_last, scanned_text, now};
  args.reserve(4 + 2 * retries.size());
  for (const auto& [score, member] : retries) {
    args.push_back(score);
    args.push_back(member);
  }
  Reply reply;
  Status s = connection->eval(kEnqueueScript, {key, retry}, args, &reply);
  if (!s) return s;
  *moved = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
  return Status::ok();
}

Status finish_backfill(RedisConnection* connection, const SourceKeys& keys,
                       const std::string& handler, int64_t now_ms) {
  Reply reply;
  const std::string now = std::to_string(now_ms);
  return connection->command_ok({"HSET", keys.backfill(handler), "done", "1", "updated_ms", now},
                                &reply);
}

Status read_backfills(RedisConnection* connection, const SourceConfig& source,
                      const std::vector<std::string>& handlers,
                      std::vector<std::pair<std::string, BackfillCursor>>* cursors) {
  cursors->clear();
  if (!source.archive) return Status::ok();
  const SourceKeys keys(source.key);
  for (const std::string& handler : handlers) {
    BackfillCursor cursor;
    bool found = false;
    Status s = read_backfill(connection, keys, handler, &cursor, &found);
    if (!s) return s;
    if (found) cursors->emplace_back(handler, cursor);
  }
  return Status::ok();
}

}  // namespace switchyard
