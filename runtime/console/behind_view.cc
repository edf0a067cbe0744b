// behind_view.cc: merges the instances' K:stats snapshots for `stats` and `top`.
#include "console/behind_view.h"

#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "metrics/behind.h"
#include "metrics/metrics.h"
#include "source/behind_sampler.h"
#include "source/source.h"

namespace switchyard {
namespace {

double number(const rapidjson::Value& object, const char* name, double otherwise) {
  if (!object.IsObject() || !object.HasMember(name)) return otherwise;
  const rapidjson::Value& v = object[name];
  if (v.IsNumber()) return v.GetDouble();
  if (v.IsNull()) return std::numeric_limits<double>::infinity();
  return otherwise;
}

// A count written by someone: a non-negative integer, else 0.
uint64_t count(const rapidjson::Value& object, const char* name) {
  if (!object.IsObject()) return 0;
  auto it = object.FindMember(name);
  return it != object.MemberEnd() && it->value.IsUint64() ? it->value.GetUint64() : 0;
}

struct HandlerSum {
  uint64_t calls = 0;
  std::map<std::string, double> rates;
  std::vector<uint64_t> buckets;
};

}  // namespace

Status read_behind(RedisConnection& connection, const Config& config,
                   std::map<std::string, SourceBehindView>* sources,
                   std::vector<HandlerView>* handlers) {
  sources->clear();
  handlers->clear();
  int64_t now_ms = 0;
  Status s = redis_time_ms(connection, &now_ms);
  if (!s) return s;
  const std::vector<double> bounds = Metrics::duration_bounds();
  std::map<std::string, HandlerSum> sums;
  for (size_t i = 0; i < config.sources.size(); ++i) {
    const SourceConfig& source = config.sources[i];
    const std::string key = behind_stats_key(source.key);
    Reply all;
    s = connection.command({"HGETALL", key}, &all);
    if (!s) return s;
    SourceBehindView& view = (*sources)[source.name];
    if (all->type != REDIS_REPLY_ARRAY) continue;  // not a hash: the daemon raises that
    int64_t freshest = -1;
    for (size_t f = 0; f + 1 < all->elements; f += 2) {
      const redisReply* field = all->element[f];
      if (std::string_view(field->str, field->len).rfind(kSnapshotFieldPrefix, 0) != 0) continue;
      rapidjson::Document doc;
      doc.Parse(all->element[f + 1]->str, all->element[f + 1]->len);
      if (doc.HasParseError() || !doc.IsObject()) continue;
      // Fresh: written in the last kSnapshotStaleMs by Redis' clock. A snapshot dated later than
      // that is not an instance's (they all use that clock): ignored, and the daemon deletes it.
      const double at = number(doc, "at_ms", 0);
      if (!std::isfinite(at) || at < static_cast<double>(now_ms - kSnapshotStaleMs) ||
          at > static_cast<double>(now_ms + kSnapshotStaleMs))
        continue;
      ++view.instances;
      view.reported = true;
      if (at > static_cast<double>(freshest)) {
        freshest = static_cast<int64_t>(at);
        view.oldest_age_seconds = number(doc, "oldest_age_seconds", 0);
        view.in_1m = number(doc, "in_1m", 0);
        view.in_5m = number(doc, "in_5m", 0);
        view.out_1m = number(doc, "out_1m", 0);
        view.out_5m = number(doc, "out_5m", 0);
        view.drain_eta_seconds = number(doc, "drain_eta_seconds", 0);
        view.sampled_seconds_ago = std::max(0.0, static_cast<double>(now_ms) - at) / 1000.0;
        auto pending = doc.FindMember("pending");
        view.pending =
            pending != doc.MemberEnd() && pending->value.IsInt64() ? pending->value.GetInt64() : -1;
      }
      if (i != 0 || !doc.HasMember("handlers") || !doc["handlers"].IsObject()) continue;
      for (const auto& h : doc["handlers"].GetObject()) {
        if (!h.value.IsObject()) continue;
        HandlerSum& sum = sums[std::string(h.name.GetString(), h.name.GetStringLength())];
        sum.calls += count(h.value, "calls_1m");
        if (h.value.HasMember("rates_1m") && h.value["rates_1m"].IsObject())
          for (const auto& r : h.value["rates_1m"].GetObject())
            if (r.value.IsNumber())
              sum.rates[std::string(r.name.GetString(), r.name.GetStringLength())] +=
                  r.value.GetDouble();
        sum.buckets.resize(bounds.size(), 0);
        if (h.value.HasMember("buckets_1m") && h.value["buckets_1m"].IsArray())
          for (rapidjson::SizeType b = 0; b < h.value["buckets_1m"].Size() && b < bounds.size();
               ++b)
            if (h.value["buckets_1m"][b].IsUint64())
              sum.buckets[b] += h.value["buckets_1m"][b].GetUint64();
      }
    }
  }
  for (auto& [name, sum] : sums) {
    HandlerView view;
    view.name = name;
    view.calls = sum.calls;
    view.rates = sum.rates;
    view.p50_seconds = histogram_quantile(0.5, bounds, sum.buckets, sum.calls);
    view.p99_seconds = histogram_quantile(0.99, bounds, sum.buckets, sum.calls);
    handlers->push_back(std::move(view));
  }
  return Status::ok();
}

std::string human_seconds(double seconds) {
  if (std::isinf(seconds)) return "never";
  if (std::isnan(seconds)) return "-";
  char buffer[32];
  const long long whole = static_cast<long long>(seconds);
  if (seconds < 60)
    std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  else if (seconds < 3600)
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", whole / 60, whole % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", whole / 3600, whole % 3600 / 60);
  return buffer;
}

std::string human_latency(double seconds) {
  if (!std::isfinite(seconds)) return "-";
  char buffer[32];
  if (seconds < 0.01)
    std::snprintf(buffer, sizeof buffer, "%.1f ms", seconds * 1000);
  else if (seconds < 1)
    std::snprintf(buffer, sizeof buffer, "%.0f ms", seconds * 1000);
  else
    std::snprintf(buffer, sizeof buffer, "%.2f s", seconds);
  return buffer;
}

}  // namespace switchyard
