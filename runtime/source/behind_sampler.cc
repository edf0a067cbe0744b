// behind_sampler.cc: oldest-age sampling, rates and the per-instance snapshot in K:stats.
#include "source/behind_sampler.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "source/archive.h"
#include "source/lua/scripts.h"
#include "source/queue_depth.h"
#include "source/source.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kOldestHeadScript(lua::kOldestHead);

std::string_view view(const redisReply* r) { return {r->str ? r->str : "", r->len}; }

std::string json_string(const std::string& s) {
  std::string out = "\"";
  append_escaped(s, EscapeStyle::kJson, &out);
  return out + "\"";
}

// The ms part of a stream entry id "<ms>-<seq>".
int64_t id_ms(std::string_view id) { return std::strtoll(std::string(id).c_str(), nullptr, 10); }

}  // namespace

Status redis_time_ms(RedisConnection& connection, int64_t* now_ms) {
  Reply reply;
  Status s = connection.command({"TIME"}, &reply);
  if (!s) return s;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2) {
    *now_ms = std::atoll(reply->element[0]->str) * 1000 + std::atoll(reply->element[1]->str) / 1000;
    return Status::ok();
  }
  // An ACL that refuses TIME (it is in no data-type category): this host's clock, kept in step
  // with Redis' by NTP.
  *now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::system_clock::now().time_since_epoch())
                .count();
  return Status::ok();
}

Status read_oldest_age(RedisConnection& connection, const SourceConfig& source, int64_t now_ms,
                       double* age_seconds) {
  *age_seconds = 0;
  SourceKeys keys(source.key);
  int64_t oldest_ms = -1;
  if (source.type == SourceType::kStream) {
    Reply groups;
    Status s = connection.command({"XINFO", "GROUPS", source.key}, &groups);
    if (!s) return s;
    if (groups->type != REDIS_REPLY_ARRAY) return Status::ok();  // no stream yet
    std::string last;
    for (size_t g = 0; g < groups->elements; ++g) {
      const redisReply* entry = groups->element[g];
      if (entry->type != REDIS_REPLY_ARRAY) continue;
      std::string name, delivered;
      for (size_t i = 0; i + 1 < entry->elements; i += 2) {
        if (view(entry->element[i]) == "name") name = view(entry->element[i + 1]);
        if (view(entry->element[i]) == "last-delivered-id") delivered = view(entry->element[i + 1]);
      }
      if (name == source.group) last = delivered;
    }
    // No group yet: every entry the group will read is waiting (start: "0") or none is ("$").
    if (last.empty() && source.start == "$") return Status::ok();
    const std::string from = last.empty() ? "-" : "(" + last;
    Reply first;
    s = connection.command_ok({"XRANGE", source.key, from, "+", "COUNT", "1"}, &first);
    if (!s) return s;
    if (first->type == REDIS_REPLY_ARRAY && first->elements == 1 &&
        first->element[0]->type == REDIS_REPLY_ARRAY && first->element[0]->elements >= 1)
      oldest_ms = id_ms(view(first->element[0]->element[0]));
  } else {
    Reply reply;
    const std::string now = std::to_string(now_ms);
    Status s = connection.eval(kOldestHeadScript,
                               {keys.pending, behind_stats_key(source.key), keys.window()},
                               {now, source.delivery == Delivery::kLease ? "1" : "0"}, &reply);
    if (!s) return s;
    if (reply->type != REDIS_REPLY_INTEGER)
      return Status::error("oldest_head.lua on " + source.key + ": unexpected reply " +
                           reply_type_name(reply.get()));
    if (reply->integer == -2)
      return Status::error(behind_stats_key(source.key) +
                           " is not a hash (written by someone else): DEL it so that Switchyard "
                           "can report how far behind source " +
                           source.name + " is");
    oldest_ms = reply->integer;
  }
  if (oldest_ms >= 0) *age_seconds = std::max<int64_t>(0, now_ms - oldest_ms) / 1000.0;
  return Status::ok();
}

BehindSampler::BehindSampler(std::vector<SourceConfig> sources, std::vector<std::string> consumers,
                             Metrics* metrics)
    : sources_(std::move(sources)),
      consumers_(std::move(consumers)),
      metrics_(metrics),
      taken_(sources_.size()) {}

std::string BehindSampler::handlers_json(int64_t now_ms) {
  handler_history_.emplace_back(now_ms, metrics_->handler_totals());
  while (handler_history_.size() > 2 && handler_history_[1].first <= now_ms - 60000)
    handler_history_.pop_front();
  const auto& [then_ms, then] = handler_history_.front();
  const auto& now = handler_history_.back().second;
  const double seconds = static_cast<double>(now_ms - then_ms) / 1000.0;
  std::string out = "{";
  for (const auto& [handler, totals] : now) {
    Metrics::HandlerTotals before;
    auto it = then.find(handler);
    if (it != then.end() && handler_history_.size() > 1) before = it->second;
    before.buckets.resize(totals.buckets.size(), 0);
    if (out.size() > 1) out += ",";
    out += json_string(handler) + ":{\"calls_1m\":" + std::to_string(totals.calls - before.calls);
    out += ",\"rates_1m\":{";
    bool first = true;
    for (const auto& [outcome, n] : totals.handled) {
      const uint64_t delta = n - before.handled[outcome];
      out += (first ? "" : ",") + json_string(outcome) + ":" +
             json_number(seconds > 0 ? static_cast<double>(delta) / seconds : 0);
      first = false;
    }
    out += "},\"buckets_1m\":[";
    for (size_t i = 0; i < totals.buckets.size(); ++i)
      out += (i ? "," : "") + std::to_string(totals.buckets[i] - before.buckets[i]);
    out += "]}";
  }
  return out + "}";
}

Status BehindSampler::sample(RedisConnection& connection,
                             const std::vector<std::string>& handlers) {
  int64_t now_ms = 0;
  Status s = redis_time_ms(connection, &now_ms);
  if (!s) return s;
  Status backfill_error = Status::ok();  // the first cursor that could not be read
  for (size_t i = 0; i < sources_.size(); ++i) {
    const SourceConfig& source = sources_[i];
    QueueDepth depth;
    s = read_queue_depth(connection, source, &depth);
    if (!s) return s;
    double age = 0;
    s = read_oldest_age(connection, source, now_ms, &age);
    if (!s) return s;
    RateWindow& window = taken_[i];
    window.add(now_ms, metrics_->received(source.name), static_cast<double>(depth.pending));
    const double mine_1m = window.counter_rate(60000), mine_5m = window.counter_rate(300000);
    // Every running instance's take rate: the others' from their snapshots, this one's fresh.
    double out_1m = mine_1m, out_5m = mine_5m;
    Reply all;
    s = connection.command_ok({"HGETALL", behind_stats_key(source.key)}, &all);
    if (!s) return s;
    const std::string own = kSnapshotFieldPrefix + consumers_[i];
    for (size_t f = 0; f + 1 < all->elements; f += 2) {
      const std::string field(view(all->element[f]));
      if (field.rfind(kSnapshotFieldPrefix, 0) != 0 || field == own) continue;
      rapidjson::Document doc;
      doc.Parse(all->element[f + 1]->str, all->element[f + 1]->len);
      const bool valid = !doc.HasParseError() && doc.IsObject() && doc.HasMember("at_ms") &&
                         doc["at_ms"].IsInt64();
      const int64_t at = valid ? doc["at_ms"].GetInt64() : 0;
      // Not a snapshot, an old one, or one dated ahead of Redis' clock (no instance writes that):
      // deleted, so that no reader trusts it.
      if (at < now_ms - kSnapshotForgetMs || at > now_ms + kSnapshotStaleMs) {
        Reply ignored;
        connection.command({"HDEL", behind_stats_key(source.key), field}, &ignored);
        continue;
      }
      if (at < now_ms - kSnapshotStaleMs) continue;
      for (auto [name, sum] : {std::pair{"taken_1m", &out_1m}, std::pair{"taken_5m", &out_5m}})
        if (doc.HasMember(name) && doc[name].IsNumber()) *sum += doc[name].GetDouble();
    }
    // Arrivals: what was taken plus how much the backlog grew.
    const double in_1m = std::max(0.0, out_1m + window.gauge_slope(60000));
    const double in_5m = std::max(0.0, out_5m + window.gauge_slope(300000));
    Metrics::SourceBehind behind;
    behind.oldest_age_seconds = age;
    behind.in_rate_1m = in_1m;
    behind.in_rate_5m = in_5m;
    behind.out_rate_1m = out_1m;
    behind.out_rate_5m = out_5m;
    // The ETA follows the backlog's net fall since its peak in the last minute, not the minute's
    // average rates: right after a burst those still hold the burst as arrivals, and would say
    // "never" while it drains.
    behind.drain_eta_seconds =
        drain_eta_seconds(static_cast<double>(depth.pending), 0, window.fall_since_peak(60000));
    metrics_->set_behind(source.name, behind);
    std::string snapshot =
        "{\"at_ms\":" + std::to_string(now_ms) + ",\"pending\":" + std::to_string(depth.pending) +
        ",\"taken_1m\":" + json_number(mine_1m) + ",\"taken_5m\":" + json_number(mine_5m) +
        ",\"in_1m\":" + json_number(in_1m) + ",\"in_5m\":" + json_number(in_5m) +
        ",\"out_1m\":" + json_number(out_1m) + ",\"out_5m\":" + json_number(out_5m) +
        ",\"oldest_age_seconds\":" + json_number(age) +
        ",\"drain_eta_seconds\":" + json_number(behind.drain_eta_seconds);
    if (i == 0) snapshot += ",\"handlers\":" + handlers_json(now_ms);
    snapshot += "}";
    Reply written;
    s = connection.command_ok({"HSET", behind_stats_key(source.key), own, snapshot}, &written);
    if (!s) return s;
    // The console's last hour: this bucket's point replaces the one written before.
    const std::string history = behind_history_key(source.key);
    const std::string bucket = std::to_string(now_ms - now_ms % kHistoryBucketMs);
    const std::string oldest = "(" + std::to_string(now_ms - kHistorySpanMs);
    const std::string point = bucket + " " + std::to_string(depth.pending) + " " + json_number(age);
    s = connection.command_ok({"ZREMRANGEBYSCORE", history, bucket, bucket}, &written);
    if (s) s = connection.command_ok({"ZADD", history, bucket, point}, &written);
    if (s) s = connection.command_ok({"ZREMRANGEBYSCORE", history, "-inf", oldest}, &written);
    if (!s) return s;
    // The backfills' progress; a cursor key of another type is reported and stops nothing else
    // (the source's series keep their last values).
    std::vector<std::pair<std::string, BackfillCursor>> cursors;
    s = read_backfills(&connection, source, handlers, &cursors);
    if (!s) {
      if (backfill_error) backfill_error = s;
      continue;
    }
    std::map<std::string, Metrics::BackfillProgress> progress;
    for (const auto& [handler, c] : cursors) {
      const std::optional<int64_t> eta = c.eta_ms(now_ms);
      Metrics::BackfillProgress& p = progress[handler];
      p.scanned_all = static_cast<uint64_t>(std::max<int64_t>(0, c.scanned_all));
      p.sent_all = static_cast<uint64_t>(std::max<int64_t>(0, c.sent_all));
      p.progress = c.fraction();
      p.done = c.done;
      p.eta_seconds = c.done ? 0.0 : eta ? static_cast<double>(*eta) / 1000.0 : std::nan("");
    }
    metrics_->set_backfills(source.name, std::move(progress));
  }
  return backfill_error;
}

void BehindSampler::withdraw(RedisConnection& connection) {
  for (size_t i = 0; i < sources_.size(); ++i) {
    Reply ignored;
    connection.command(
        {"HDEL", behind_stats_key(sources_[i].key), kSnapshotFieldPrefix + consumers_[i]},
        &ignored);
  }
}

}  // namespace switchyard
