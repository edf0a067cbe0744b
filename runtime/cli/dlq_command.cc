// dlq_command.cc: `switchyard dlq list|show|replay|purge`: inspect and replay dead letters.
#include <rapidjson/document.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "dispatch/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"
#include "source/retry_entry.h"

namespace switchyard {
namespace {

// KEYS: dead, target (K or K:retry). ARGV: the exact dead letter, mode ('list'|'stream'|'retry'),
// score, value. Queues the value and removes the dead letter in one step; 0 if it was gone.
const RedisScript kReplayScript(R"lua(
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
elseif ARGV[2] == 'stream' then
  redis.call('XADD', KEYS[2], '*', 'message', ARGV[4])
else
  redis.call('RPUSH', KEYS[2], ARGV[4])
end
return 1
)lua");

std::string event_of(const std::string& message) {
  rapidjson::Document doc;
  doc.Parse(message.data(), message.size());
  if (!doc.HasParseError() && doc.IsObject()) {
    auto it = doc.FindMember("event");
    if (it != doc.MemberEnd() && it->value.IsString()) return it->value.GetString();
  }
  return "?";
}

}  // namespace

int dlq_command(const CommonOptions& common, const DlqOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const Config& config = *loaded.config;
  const SourceConfig* source = &config.sources.front();
  if (!options.source.empty()) {
    source = nullptr;
    for (const auto& s : config.sources)
      if (s.name == options.source) source = &s;
    if (!source) {
      std::cerr << "switchyard: no source named \"" << options.source << "\" in " << config.path
                << "\n";
      return 2;
    }
  }
  SourceKeys keys(source->key);
  RedisConnection connection(loaded.endpoint, "switchyard:dlq");
  Status s = connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  Reply all;
  s = connection.command_ok({"LRANGE", keys.dead(), "0", "-1"}, &all);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  // The selection: by index, or every letter matching --handler, up to --limit.
  struct Selected {
    long index;
    std::string raw;
    DeadLetter letter;
  };
  std::vector<Selected> selected;
  long limit = options.limit >= 0 ? options.limit : (options.action == "list" ? 20 : -1);
  for (size_t i = 0; i < all->elements; ++i) {
    if (options.index >= 0 && static_cast<long>(i) != options.index) continue;
    std::string raw(all->element[i]->str, all->element[i]->len);
    DeadLetter letter;
    std::string error;
    if (!decode_dead_letter(raw, &letter, &error)) letter.reason = "(unreadable: " + error + ")";
    if (!options.handler.empty()) {
      bool before_routing = options.handler == "-" || options.handler == "null";
      if (before_routing ? letter.handler.has_value() : letter.handler != options.handler)
        continue;
    }
    if (limit >= 0 && static_cast<long>(selected.size()) >= limit) break;
    selected.push_back({static_cast<long>(i), std::move(raw), std::move(letter)});
  }

  if (options.action == "list") {
    std::cout << keys.dead() << ": " << all->elements << " dead letter(s)";
    if (selected.size() < all->elements) std::cout << ", showing " << selected.size();
    std::cout << "\n";
    for (const auto& s : selected) {
      std::cout << "#" << s.index << "  " << s.letter.failed_at << "  handler="
                << (s.letter.handler ? *s.letter.handler : "-") << "  event="
                << event_of(s.letter.message) << "  attempts=" << s.letter.attempts
                << "  reason: " << s.letter.reason << "\n";
    }
    return 0;
  }
  if (options.action == "show") {
    for (const auto& s : selected) {
      rapidjson::Document doc;
      doc.Parse(s.raw.data(), s.raw.size());
      rapidjson::StringBuffer buffer;
      rapidjson::PrettyWriter<rapidjson::StringBuffer> w(buffer);
      doc.Accept(w);
      std::cout << "#" << s.index << " " << buffer.GetString() << "\n";
    }
    return 0;
  }
  if (options.action == "replay") {
    long replayed = 0;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    for (const auto& sel : selected) {
      Reply reply;
      std::string score = std::to_string(now_ms);
      if (sel.letter.handler) {
        // Back to only the handler that failed it, through the retry schedule, due now.
        RetryEntry entry;
        entry.attempt = 1;
        entry.first_failed_ms = now_ms;
        entry.handler = *sel.letter.handler;
        entry.message = sel.letter.message;
        std::string member = encode_retry_entry(entry);
        s = connection.eval(kReplayScript, {keys.dead(), keys.retry()},
                            {sel.raw, "retry", score, member}, &reply);
      } else {
        // Failed before routing: back to the tail of the source's list, to all its routes.
        s = connection.eval(kReplayScript, {keys.dead(), keys.pending},
                            {sel.raw, source->type == "stream" ? "stream" : "list", score,
                             sel.letter.message},
                            &reply);
      }
      if (!s) {
        std::cerr << "switchyard: " << s.message() << "\n";
        return 1;
      }
      replayed += reply->integer;
    }
    std::cout << "replayed " << replayed << " dead letter(s) from " << keys.dead() << "\n";
    return 0;
  }
  if (options.action == "purge") {
    long purged = 0;
    if (options.handler.empty() && options.index < 0 && options.limit < 0) {
      Reply reply;
      s = connection.command_ok({"DEL", keys.dead()}, &reply);
      purged = static_cast<long>(all->elements);
    } else {
      for (const auto& sel : selected) {
        Reply reply;
        s = connection.command_ok({"LREM", keys.dead(), "1", sel.raw}, &reply);
        if (!s) break;
        purged += reply->integer;
      }
    }
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
    std::cout << "purged " << purged << " dead letter(s) from " << keys.dead() << "\n";
    return 0;
  }
  std::cerr << "switchyard: unknown dlq action \"" << options.action
            << "\" (use list, show, replay or purge)\n";
  return 2;
}

}  // namespace switchyard
