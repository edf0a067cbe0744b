// tap_command.cc: `switchyard tap`: subscribes to the tap channel of each chosen source (K:tap, or
// K:tap:event:GLOB with --event, filtered by the daemon) and prints the envelopes the daemon
// samples there (dispatch/tap.h).
#include <iostream>

#include "cli/commands.h"
#include "dispatch/tap.h"
#include "redis/redis_connection.h"
#include "routing/route_table.h"
#include "util/bounded_json.h"
#include "util/escape.h"

namespace switchyard {
namespace {

std::string string_field(const rapidjson::Value& v, const char* name) {
  auto it = v.FindMember(name);
  if (it == v.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

// Subscribes to channels (again after a reconnect). False when Redis cannot be reached.
Status subscribe(RedisConnection* connection, const std::vector<std::string>& channels) {
  if (!connection->connected()) {
    Status s = connection->connect();
    if (!s) return s;
  }
  std::vector<std::string_view> argv = {"SUBSCRIBE"};
  for (const std::string& c : channels) argv.push_back(c);
  Status s = connection->append(argv);
  for (size_t i = 0; s && i < channels.size(); ++i) {
    Reply reply;
    s = connection->read_reply(&reply);
  }
  return s;
}

}  // namespace

int tap_command(const CommonOptions& common, const TapOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const Config& config = *loaded.config;
  if (options.event.size() > kTapMaxGlobBytes) {
    std::cerr << "switchyard: --event: a glob of at most " << kTapMaxGlobBytes << " bytes, not "
              << options.event.size() << "\n";
    return 2;
  }
  std::vector<std::string> channels;
  for (const SourceConfig& s : config.sources)
    if (options.source.empty() || s.name == options.source)
      channels.push_back(tap_channel(s.key, options.event));
  if (channels.empty()) {
    std::cerr << "switchyard: --source " << printable(options.source) << ": no such source in "
              << config.path << "\n";
    return 2;
  }
  if (options.limit == 0) return 0;
  // Reads block until an event comes; a quiet minute ends in a reconnect, not an error.
  RedisConnection connection(loaded.endpoint, "switchyard:tap-client",
                             std::chrono::milliseconds(60000));
  Status s = subscribe(&connection, channels);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  std::cerr << "tapping " << (options.source.empty() ? "every source" : options.source)
            << (options.event.empty() ? "" : ", events matching " + printable(options.event))
            << "; the daemon starts sampling within a second (at most " << kTapPerSecond
            << " matching events/s per source). Ctrl-C stops.\n";
  long shown = 0;
  const JsonBounds bounds{1 << 20, 8};
  while (options.limit < 0 || shown < options.limit) {
    Reply reply;
    s = connection.read_reply(&reply);
    if (!s) {
      if (connection.connected()) {
        std::cerr << "switchyard: " << s.message() << "\n";
        return 1;
      }
      s = subscribe(&connection, channels);  // a quiet minute, or Redis restarted
      if (!s) {
        std::cerr << "switchyard: " << s.message() << "\n";
        return 1;
      }
      continue;
    }
    // ["message", channel, payload]
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[2]->type != REDIS_REPLY_STRING)
      continue;
    const std::string_view payload(reply->element[2]->str, reply->element[2]->len);
    rapidjson::Document doc;
    std::string parse_error;
    if (!parse_bounded_json(payload, bounds, &doc, &parse_error) || !doc.IsObject()) continue;
    if (auto dropped = doc.FindMember("dropped");
        dropped != doc.MemberEnd() && dropped->value.IsUint64()) {
      std::cerr << "(" << dropped->value.GetUint64() << " event(s) on "
                << printable(std::string_view(reply->element[1]->str, reply->element[1]->len))
                << " not sampled: over " << kTapPerSecond << "/s)\n";
      continue;
    }
    const std::string event = string_field(doc, "event");
    // The daemon publishes only matching events there; anything else on the channel is not its.
    if (!options.event.empty() && !glob_match(options.event, event)) continue;
    std::string handlers;
    if (auto h = doc.FindMember("handlers"); h != doc.MemberEnd() && h->value.IsArray()) {
      for (const auto& name : h->value.GetArray())
        if (name.IsString())
          handlers +=
              (handlers.empty() ? "" : ",") + std::string(name.GetString(), name.GetStringLength());
    }
    const std::string reason = string_field(doc, "reason");
    std::cout << printable(string_field(doc, "time")) << "  "
              << printable(string_field(doc, "source")) << "  "
              << (event.empty() ? std::string("(undecodable)") : printable(event)) << " -> "
              << (handlers.empty() ? std::string("(none)") : printable(handlers)) << "  "
              << printable(string_field(doc, "outcome"))
              << (reason.empty() ? std::string() : ": " + printable(reason)) << std::endl;
    ++shown;
  }
  return 0;
}

}  // namespace switchyard
