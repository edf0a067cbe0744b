// source_stats.cc: per-source counts read from Redis for `stats` and the web console.
#include "console/source_stats.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cstdlib>

#include "dispatch/pause.h"
#include "source/behind_sampler.h"
#include "source/list_source.h"

namespace switchyard {
namespace {

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

// When `key`, set with a TTL of ttl_ms at each refresh, was last set: now_ms minus the part of
// the TTL used up; -1 when the key is gone or has no TTL.
Status last_set_ms(RedisConnection& connection, const std::string& key, long long ttl_ms,
                   long long now_ms, long long* at_ms) {
  Reply reply;
  Status s = connection.command_ok({"PTTL", key}, &reply);
  if (!s) return s;
  const long long left = reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
  *at_ms = left < 0 ? -1 : now_ms - std::clamp(ttl_ms - left, 0LL, ttl_ms);
  return Status::ok();
}

// at_ms of the snapshot `consumer`'s instance published to K:stats; -1 when there is none.
Status snapshot_ms(RedisConnection& connection, const SourceConfig& source,
                   const std::string& consumer, long long* at_ms) {
  *at_ms = -1;
  Reply reply;
  Status s = connection.command(
      {"HGET", behind_stats_key(source.key), kSnapshotFieldPrefix + consumer}, &reply);
  if (!s || reply->type != REDIS_REPLY_STRING) return s;  // K:stats not a hash: the daemon says so
  rapidjson::Document doc;
  doc.Parse(reply->str, reply->len);
  if (!doc.HasParseError() && doc.IsObject() && doc.HasMember("at_ms") && doc["at_ms"].IsInt64())
    *at_ms = doc["at_ms"].GetInt64();
  return Status::ok();
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
}  // namespace

Status collect_source_stats(RedisConnection& connection, const Config& config,
                            const std::string& only, std::vector<SourceStats>* out) {
  out->clear();
  int64_t now_ms = 0;
  Status status = redis_time_ms(connection, &now_ms);
  if (!status) return status;
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
    st.now_ms = now_ms;
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
        s = last_set_ms(connection, keys.lease(), source.reclaim_after.count(), now_ms,
                        &st.consumers[consumer].heartbeat_ms);
        if (!s) return s;
      }
    }
    for (auto& [consumer, c] : st.consumers) {
      long long at = -1;
      s = last_set_ms(connection, keys.heartbeat(consumer), source.reclaim_after.count(), now_ms,
                      &at);
      if (s) s = snapshot_ms(connection, source, consumer, &c.snapshot_ms);
      if (!s) return s;
      c.heartbeat_ms = std::max(c.heartbeat_ms, at);
    }
    if (!status) return status;
    out->push_back(std::move(st));
  }
  return Status::ok();
}

}  // namespace switchyard
