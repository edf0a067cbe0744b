// dlq_command.cc: `switchyard dlq list|show|replay|purge`: inspect and replay dead letters.

#include <algorithm>
#include <chrono>
#include <iostream>

#include "cli/commands.h"
#include "cli/lua/scripts.h"
#include "records/dead_letter.h"
#include "records/retry_entry.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"
#include "util/bounded_json.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// Its Redis scripts: cli/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kReplayScript(lua::kDlqReplay);
const RedisScript kPurgeListedScript(lua::kDlqPurgeListed);

// The event name of a dead-lettered message, as it is (the caller escapes it), or "?".
std::string event_of(const std::string& message) {
  rapidjson::Document doc;
  std::string error;
  if (parse_bounded_json(message, JsonBounds{}, &doc, &error) && doc.IsObject()) {
    auto it = doc.FindMember("event");
    if (it != doc.MemberEnd() && it->value.IsString())
      return std::string(it->value.GetString(), it->value.GetStringLength());
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
  // list takes the newest (from the tail of K:dead, where the daemon appends), the other
  // actions the oldest; either way they are shown and acted on in index order.
  struct Selected {
    long index;
    std::string raw;
    DeadLetter letter;
    std::string unreadable;  // why the element is not a dead letter; empty when it is one
  };
  std::vector<Selected> selected;
  const bool newest = options.action == "list";
  long limit = options.limit >= 0 ? options.limit : (newest ? 20 : -1);
  const long count = static_cast<long>(all->elements);
  for (long k = 0; k < count; ++k) {
    const long i = newest ? count - 1 - k : k;
    if (options.index >= 0 && i != options.index) continue;
    std::string raw(all->element[i]->str, all->element[i]->len);
    DeadLetter letter;
    std::string error;
    if (!decode_dead_letter(raw, &letter, &error)) {
      if (error.empty()) error = "not a dead letter";
      letter.reason = "(unreadable: " + error + ")";
    } else {
      error.clear();
    }
    if (!options.handler.empty()) {
      bool before_routing = options.handler == "-" || options.handler == "null";
      if (before_routing ? letter.handler.has_value() : letter.handler != options.handler) continue;
    }
    if (limit >= 0 && static_cast<long>(selected.size()) >= limit) break;
    selected.push_back({i, std::move(raw), std::move(letter), std::move(error)});
  }
  if (newest) std::reverse(selected.begin(), selected.end());

  if (options.action == "list") {
    // Everything but the counts comes from K:dead, which producers' messages fill: escaped.
    std::cout << printable(keys.dead()) << ": " << all->elements << " dead letter(s)";
    if (selected.size() < all->elements)
      std::cout << ", showing " << selected.size() << (options.handler.empty() ? " newest" : "");
    std::cout << "\n";
    for (const auto& s : selected) {
      std::cout << "#" << s.index << "  " << printable(s.letter.failed_at)
                << "  handler=" << printable(s.letter.handler ? *s.letter.handler : "-")
                << "  event=" << printable(event_of(s.letter.message))
                << "  attempts=" << s.letter.attempts;
      if (s.letter.truncated())
        std::cout << "  message: first " << s.letter.message.size() << " of "
                  << s.letter.message_bytes << " bytes";
      std::cout << "  reason: " << printable(s.letter.reason) << "\n";
    }
    return 0;
  }
  if (options.action == "show") {
    for (const auto& s : selected) {
      std::string error;
      std::string out = "#" + std::to_string(s.index) + " ";
      std::string pretty;
      if (pretty_print_bounded_json(s.raw, JsonBounds{}, &pretty, &error)) {
        // The writer escapes C0 controls only: DEL and C1 controls too, still as JSON.
        append_escaped(pretty, EscapeStyle::kJsonDocument, &out);
      } else {
        out += "(unreadable: " + error + ") ";
        append_escaped(s.raw, EscapeStyle::kText, &out);
      }
      std::cout << out << "\n";
    }
    return 0;
  }
  if (options.action == "replay") {
    long replayed = 0;
    auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
    long refused = 0;
    for (const auto& sel : selected) {
      // Replaying what is not a dead letter, or only the start of a message, would queue a
      // message that never was: refuse, and leave the element where it is.
      if (!sel.unreadable.empty() || sel.letter.truncated()) {
        std::cerr << "switchyard: dead letter #" << sel.index << " in " << printable(keys.dead())
                  << " not replayed: "
                  << (sel.unreadable.empty()
                          ? "it keeps only the first " + std::to_string(sel.letter.message.size()) +
                                " of the message's " + std::to_string(sel.letter.message_bytes) +
                                " bytes (it was over limits.max_message_bytes)"
                          : "it cannot be read (" + printable(sel.unreadable) + ")")
                  << "; it stays in place: inspect it with `switchyard dlq show " << sel.index
                  << "`, remove it with `switchyard dlq purge " << sel.index << "`\n";
        ++refused;
        continue;
      }
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
                            {sel.raw, to_string(source->type), score, sel.letter.message}, &reply);
      }
      if (!s) {
        std::cerr << "switchyard: " << s.message() << "\n";
        return 1;
      }
      replayed += reply->integer;
    }
    std::cout << "replayed " << replayed << " dead letter(s) from " << printable(keys.dead())
              << "\n";
    return refused ? 1 : 0;
  }
  if (options.action == "purge") {
    long purged = 0;
    bool one_by_one = true;
    if (options.handler.empty() && options.index < 0 && options.limit < 0) {
      // Everything listed, which is the head of K:dead: trim exactly that many, unless the head
      // changed meanwhile. What the daemon appended since the listing is not touched.
      if (selected.empty()) {
        one_by_one = false;
      } else {
        Reply reply;
        s = connection.eval(
            kPurgeListedScript, {keys.dead()},
            {std::to_string(selected.size()), selected.front().raw, selected.back().raw}, &reply);
        if (s && reply->integer >= 0) {
          purged = static_cast<long>(reply->integer);
          one_by_one = false;
        }
      }
    }
    if (s && one_by_one) {
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
    std::cout << "purged " << purged << " dead letter(s) from " << printable(keys.dead()) << "\n";
    return 0;
  }
  std::cerr << "switchyard: unknown dlq action \"" << options.action
            << "\" (use list, show, replay or purge)\n";
  return 2;
}

}  // namespace switchyard
