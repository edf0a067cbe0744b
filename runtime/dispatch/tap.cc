// tap.cc: sampling handled envelopes for `switchyard tap` and publishing them while someone taps.
#include "dispatch/tap.h"

#include <spdlog/spdlog.h>

#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "util/escape.h"

namespace switchyard {
namespace {

constexpr std::chrono::milliseconds kListenersEvery{1000};
constexpr std::chrono::milliseconds kPublishEvery{100};

int64_t steady_second() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void append_string(std::string_view s, std::string* out) {
  out->push_back('"');
  append_escaped(s, EscapeStyle::kJson, out);
  out->push_back('"');
}

}  // namespace

std::string tap_channel(const std::string& key) { return key + ":tap"; }

std::string encode_tap_record(std::string_view source, std::string_view event,
                              const std::vector<std::string_view>& handlers,
                              std::string_view outcome, std::string_view reason) {
  std::string out = "{\"time\":";
  append_string(now_iso8601(), &out);
  out += ",\"source\":";
  append_string(source, &out);
  out += ",\"event\":";
  append_string(event, &out);
  out += ",\"handlers\":[";
  for (size_t i = 0; i < handlers.size(); ++i) {
    if (i) out += ',';
    append_string(handlers[i], &out);
  }
  out += "],\"outcome\":";
  append_string(outcome, &out);
  if (!reason.empty()) {
    out += ",\"reason\":";
    append_string(reason, &out);
  }
  out += '}';
  return out;
}

Tap::Tap(const std::vector<SourceConfig>& sources) : pending_(sources.size()) {
  for (const SourceConfig& s : sources) {
    auto c = std::make_unique<TapChannel>();
    c->source = s.name;
    c->channel = tap_channel(s.key);
    channels_.push_back(std::move(c));
  }
}

TapChannel* Tap::channel(const std::string& name) {
  for (auto& c : channels_)
    if (c->source == name) return c.get();
  return nullptr;
}

void Tap::offer(TapChannel* channel, std::string record) {
  size_t i = 0;
  while (i < channels_.size() && channels_[i].get() != channel) ++i;
  if (i == channels_.size()) return;
  const int64_t second = steady_second();
  std::lock_guard<std::mutex> lock(mutex_);
  Pending& p = pending_[i];
  if (p.second != second) {
    p.second = second;
    p.queued = 0;
  }
  if (p.queued >= kTapPerSecond) {
    ++p.dropped;
    return;
  }
  ++p.queued;
  p.records.push_back(std::move(record));
}

void Tap::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
}

void Tap::run(const RedisEndpoint& endpoint) {
  // A short timeout: stop() waits for a command in progress.
  RedisConnection connection(endpoint, "switchyard:tap", std::chrono::milliseconds(1000));
  auto next_check = std::chrono::steady_clock::now();
  auto untap_all = [&] {
    for (auto& c : channels_) c->tapped.store(false, std::memory_order_relaxed);
  };
  while (true) {
    std::vector<Pending> out(channels_.size());
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, kPublishEvery, [this] { return stopping_; });
      if (stopping_) break;
      for (size_t i = 0; i < channels_.size(); ++i) {
        out[i].records.swap(pending_[i].records);
        out[i].dropped = pending_[i].dropped;
        pending_[i].dropped = 0;
      }
    }
    if (std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + kListenersEvery;
      // Redis away: nobody can be listening; asked again a second later.
      if (!connection.connected() && !connection.connect()) {
        untap_all();
        continue;
      }
      std::vector<std::string_view> argv = {"PUBSUB", "NUMSUB"};
      for (auto& c : channels_) argv.push_back(c->channel);
      Reply reply;
      Status s = connection.command(argv, &reply);
      if (!s || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 * channels_.size()) {
        untap_all();
        continue;
      }
      for (size_t i = 0; i < channels_.size(); ++i) {
        const redisReply* n = reply->element[2 * i + 1];
        channels_[i]->tapped.store(n->type == REDIS_REPLY_INTEGER && n->integer > 0,
                                   std::memory_order_relaxed);
      }
    }
    for (size_t i = 0; i < channels_.size() && connection.connected(); ++i) {
      // Sampled before a listener was seen to leave: published to nobody, which is harmless.
      for (const std::string& record : out[i].records) {
        Reply reply;
        if (!connection.command({"PUBLISH", channels_[i]->channel, record}, &reply)) break;
      }
      if (out[i].dropped) {
        Reply reply;
        const std::string note = "{\"dropped\":" + std::to_string(out[i].dropped) + "}";
        connection.command({"PUBLISH", channels_[i]->channel, note}, &reply);
      }
    }
  }
  untap_all();
}

}  // namespace switchyard
