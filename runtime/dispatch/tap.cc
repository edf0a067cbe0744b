// tap.cc: sampling handled envelopes for `switchyard tap`, filtered by each listener's glob, and
// publishing them while someone taps.
#include "dispatch/tap.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "routing/route_table.h"
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

std::string tap_channel(const std::string& key, std::string_view event_glob) {
  std::string channel = key + ":tap";
  if (!event_glob.empty()) channel.append(":event:").append(event_glob);
  return channel;
}

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

Tap::Tap(const std::vector<SourceConfig>& sources) : listeners_(sources.size()) {
  for (const SourceConfig& s : sources) {
    auto c = std::make_unique<TapChannel>();
    c->source = s.name;
    c->channel = tap_channel(s.key);
    channels_.push_back(std::move(c));
    keys_.push_back(s.key);
  }
}

TapChannel* Tap::channel(const std::string& name) {
  for (auto& c : channels_)
    if (c->source == name) return c.get();
  return nullptr;
}

size_t Tap::index_of(const TapChannel* channel) const {
  size_t i = 0;
  while (i < channels_.size() && channels_[i].get() != channel) ++i;
  return i;
}

void Tap::offer(TapChannel* channel, std::string_view event,
                const std::function<std::string()>& encode) {
  const size_t i = index_of(channel);
  if (i == channels_.size()) return;
  const int64_t second = steady_second();
  std::string record;
  std::lock_guard<std::mutex> lock(mutex_);
  for (Listener& l : listeners_[i]) {
    if (!l.glob.empty() && !glob_match(l.glob, event)) continue;
    if (l.second != second) {
      l.second = second;
      l.queued = 0;
    }
    if (l.queued >= kTapPerSecond) {
      ++l.dropped;
      continue;
    }
    ++l.queued;
    if (record.empty()) record = encode();
    l.records.push_back(record);
  }
}

std::vector<std::string> Tap::listening(const std::string& key,
                                        const std::vector<std::string>& channels, size_t* ignored) {
  const std::string all = tap_channel(key), filtered = all + ":event:";
  std::vector<std::string> out;
  *ignored = 0;
  for (const std::string& c : channels) {
    if (c == all) {
      out.push_back(c);
    } else if (c.size() > filtered.size() && c.compare(0, filtered.size(), filtered) == 0) {
      if (c.size() - filtered.size() <= kTapMaxGlobBytes)
        out.push_back(c);
      else
        ++*ignored;
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > kTapMaxChannels) {
    *ignored += out.size() - kTapMaxChannels;
    out.resize(kTapMaxChannels);
  }
  return out;
}

void Tap::set_listening(const std::string& name, const std::vector<std::string>& channels) {
  TapChannel* c = channel(name);
  const size_t i = index_of(c);
  if (i == channels_.size()) return;
  const std::string filtered = tap_channel(keys_[i]) + ":event:";
  {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Listener> next;
    for (const std::string& ch : channels) {
      auto same = std::find_if(listeners_[i].begin(), listeners_[i].end(),
                               [&](const Listener& l) { return l.channel == ch; });
      if (same != listeners_[i].end()) {
        next.push_back(std::move(*same));
        continue;
      }
      Listener l;
      l.channel = ch;
      if (ch.size() > filtered.size()) l.glob = ch.substr(filtered.size());
      next.push_back(std::move(l));
    }
    listeners_[i] = std::move(next);
  }
  c->tapped.store(!channels.empty(), std::memory_order_relaxed);
}

void Tap::stop() {
  std::lock_guard<std::mutex> lock(mutex_);
  stopping_ = true;
  wake_.notify_all();
}

// A glob matching exactly `text` for PUBSUB CHANNELS: its glob characters quoted.
static std::string quote_glob(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

void Tap::run(const RedisEndpoint& endpoint) {
  // A short timeout: stop() waits for a command in progress.
  RedisConnection connection(endpoint, "switchyard:tap", std::chrono::milliseconds(1000));
  auto next_check = std::chrono::steady_clock::now();
  std::vector<size_t> ignored_before(channels_.size(), 0);
  auto untap_all = [&] {
    for (auto& c : channels_) set_listening(c->source, {});
  };
  while (true) {
    struct Out {
      std::string channel;
      std::deque<std::string> records;
      uint64_t dropped = 0;
    };
    std::vector<Out> out;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, kPublishEvery, [this] { return stopping_; });
      if (stopping_) break;
      for (auto& source : listeners_)
        for (Listener& l : source) {
          if (l.records.empty() && l.dropped == 0) continue;
          out.push_back({l.channel, {}, l.dropped});
          out.back().records.swap(l.records);
          l.dropped = 0;
        }
    }
    if (std::chrono::steady_clock::now() >= next_check) {
      next_check = std::chrono::steady_clock::now() + kListenersEvery;
      // Redis away: nobody can be listening; asked again a second later.
      if (!connection.connected() && !connection.connect()) {
        untap_all();
        continue;
      }
      for (size_t i = 0; i < channels_.size() && connection.connected(); ++i) {
        Reply reply;
        const std::string pattern = quote_glob(channels_[i]->channel) + "*";
        Status s = connection.command({"PUBSUB", "CHANNELS", pattern}, &reply);
        if (!s || reply->type != REDIS_REPLY_ARRAY) {
          untap_all();
          break;
        }
        std::vector<std::string> names;
        for (size_t e = 0; e < reply->elements; ++e)
          if (reply->element[e]->type == REDIS_REPLY_STRING)
            names.emplace_back(reply->element[e]->str, reply->element[e]->len);
        size_t ignored = 0;
        set_listening(channels_[i]->source, listening(keys_[i], names, &ignored));
        if (ignored > 0 && ignored != ignored_before[i])
          spdlog::warn(
              "source {}: {} tap subscription(s) on {}:event:* not served (more than {} "
              "channels, or a glob over {} bytes)",
              channels_[i]->source, ignored, channels_[i]->channel, kTapMaxChannels,
              kTapMaxGlobBytes);
        ignored_before[i] = ignored;
      }
    }
    for (const Out& o : out) {
      if (!connection.connected()) break;
      // Sampled before a listener was seen to leave: published to nobody, which is harmless.
      for (const std::string& record : o.records) {
        Reply reply;
        if (!connection.command({"PUBLISH", o.channel, record}, &reply)) break;
      }
      if (o.dropped) {
        Reply reply;
        const std::string note = "{\"dropped\":" + std::to_string(o.dropped) + "}";
        connection.command({"PUBLISH", o.channel, note}, &reply);
      }
    }
  }
  untap_all();
}

}  // namespace switchyard
