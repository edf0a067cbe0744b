// dlq_command.cc: `switchyard dlq list|show|replay|purge`: inspect, replay and remove dead letters.

#include <fnmatch.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <iostream>
#include <set>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "console/dead_letters.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/list_source.h"
#include "util/bounded_json.h"
#include "util/escape.h"

namespace switchyard {
namespace {

const auto json_quote = letter_json_quote;
using Filters = LetterFilters;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Asks on the terminal whether to act on all n letters. True when the operator said yes.
bool confirmed(const std::string& action, size_t n, const std::string& dead) {
  std::cerr << n << " dead letters in " << printable(dead) << ": " << action << " all? [y/N] "
            << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

}  // namespace

int dlq_command(const CommonOptions& common, const DlqOptions& options) {
  const bool acting = options.action == "replay" || options.action == "purge";
  Filters filters;
  filters.event_glob = options.event;
  filters.handler = options.handler;
  filters.reason = options.reason;
  for (const std::string& text : options.ids) {
    std::string id, error;
    if (!parse_letter_id(text, &id, &error)) {
      std::cerr << "switchyard: " << error << "\n";
      return 2;
    }
    filters.ids.push_back(std::move(id));
  }
  const int64_t now = now_ms();
  const std::pair<const std::string*, std::optional<int64_t>*> times[] = {
      {&options.since, &filters.since}, {&options.before, &filters.before}};
  for (const auto& [text, out] : times) {
    if (text->empty()) continue;
    int64_t t = 0;
    if (!parse_time_option(*text, now, &t)) {
      std::cerr << "switchyard: dlq --" << (text == &options.since ? "since" : "before") << " \""
                << printable(*text)
                << "\" is neither an ISO 8601 time (2026-12-04T10:00:00Z) nor a duration ago "
                   "(30m, 2h, 7d)\n";
      return 2;
    }
    *out = t;
  }
  if (!options.older_than.empty()) {
    Millis age;
    if (!parse_duration(options.older_than, &age)) {
      std::cerr << "switchyard: dlq --older-than \"" << printable(options.older_than)
                << "\" is not a duration (30m, 2h, 7d)\n";
      return 2;
    }
    filters.before = std::min(filters.before.value_or(now), now - age.count());
  }
  if (options.dry_run && !acting) {
    std::cerr << "switchyard: --dry-run goes with dlq replay or purge\n";
    return 2;
  }

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
  const std::string dead = keys.dead();
  RedisConnection connection(loaded.endpoint, "switchyard:dlq");
  Status s = connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  // Every letter that matches, in list order (the oldest first: the daemon appends).
  std::vector<Letter> all_matched;
  long count = 0;
  s = read_matching_letters(connection, dead, filters, &all_matched, &count);
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  std::vector<Letter> matched;
  std::set<std::string> seen;  // raw bytes already matched by an id: identical letters act once
  for (auto& l : all_matched) {
    if (!filters.ids.empty() && acting && !seen.insert(l.raw).second) continue;
    matched.push_back(std::move(l));
  }
  // Every id names exactly one letter (identical copies count as one).
  for (const auto& id : filters.ids) {
    std::set<std::string> distinct;
    for (const auto& l : matched)
      if (l.id.compare(0, id.size(), id) == 0) distinct.insert(l.raw);
    if (distinct.size() > 1) {
      std::cerr << "switchyard: dead-letter id " << id << " matches " << distinct.size()
                << " different letters in " << printable(dead) << "; give more of its "
                << kDeadLetterIdDigits << " digits\n";
      return 1;
    }
    if (distinct.empty()) {
      std::cerr << "switchyard: no dead letter with id " << id << " in " << printable(dead)
                << (filters.any_but_ids() ? " (that matches the other filters)" : "")
                << ": replayed, purged or trimmed meanwhile, or mistyped; `switchyard dlq list` "
                   "shows the ids\n";
      return 1;
    }
  }
  const size_t total_matched = matched.size();

  // The selection: list takes the newest --limit (20 unless given) and shows them newest first;
  // replay and purge take the oldest --limit (all unless given) and act in list order.
  std::vector<Letter> selected;
  const bool newest = options.action == "list";
  const long limit = options.limit >= 0 ? options.limit : (newest ? 20 : -1);
  if (newest) {
    for (auto it = matched.rbegin(); it != matched.rend(); ++it) {
      if (limit >= 0 && static_cast<long>(selected.size()) >= limit) break;
      selected.push_back(std::move(*it));
    }
  } else {
    for (auto& l : matched) {
      if (limit >= 0 && static_cast<long>(selected.size()) >= limit) break;
      selected.push_back(std::move(l));
    }
  }

  if (options.action == "list") {
    if (options.json) {
      std::cout << "{\"key\":" << json_quote(dead) << ",\"total\":" << count
                << ",\"matched\":" << total_matched << ",\"letters\":[";
      for (size_t i = 0; i < selected.size(); ++i)
        std::cout << (i ? "," : "") << letter_json(selected[i]);
      std::cout << "]}\n";
      return 0;
    }
    // Everything but the counts comes from K:dead, which producers' messages fill: escaped.
    std::cout << printable(dead) << ": " << count << " dead letter(s)";
    if (filters.any()) std::cout << ", " << total_matched << " matching";
    if (selected.size() < total_matched)
      std::cout << ", showing the " << selected.size() << " newest";
    std::cout << " (newest first)\n";
    for (const auto& l : selected) {
      std::cout << l.id << "  " << printable(l.letter.failed_at)
                << "  handler=" << printable(l.letter.handler ? *l.letter.handler : "-")
                << "  event=" << printable(l.event ? *l.event : "?")
                << "  attempts=" << l.letter.attempts;
      if (l.letter.truncated())
        std::cout << "  message: first " << l.letter.message.size() << " of "
                  << l.letter.message_bytes << " bytes";
      std::cout << "  reason: " << printable(l.letter.reason) << "\n";
    }
    return 0;
  }
  if (options.action == "show") {
    std::string out;
    if (options.json) out = "{\"key\":" + json_quote(dead) + ",\"letters\":[";
    for (size_t i = 0; i < selected.size(); ++i) {
      const Letter& l = selected[i];
      std::string error, pretty;
      const bool readable = pretty_print_bounded_json(l.raw, JsonBounds{}, &pretty, &error);
      if (options.json) {
        out += (i ? "," : "") + std::string("{\"id\":") + json_quote(l.id);
        if (readable) {
          // The writer escapes C0 controls only: DEL and C1 controls too, still as JSON.
          out += ",\"letter\":";
          append_escaped(pretty, EscapeStyle::kJsonDocument, &out);
        } else {
          out += ",\"unreadable\":" + json_quote(error) + ",\"raw\":" + json_quote(l.raw);
        }
        out += "}";
        continue;
      }
      out += l.id + " ";
      if (readable) {
        append_escaped(pretty, EscapeStyle::kJsonDocument, &out);
      } else {
        out += "(unreadable: " + error + ") ";
        append_escaped(l.raw, EscapeStyle::kText, &out);
      }
      out += "\n";
    }
    if (options.json) out += "]}\n";
    std::cout << out;
    return 0;
  }

  // replay and purge: acting on every letter wants a yes.
  if (!filters.any() && options.limit < 0 && !options.dry_run && !options.yes &&
      !selected.empty()) {
    if (!isatty(STDIN_FILENO) || !isatty(STDERR_FILENO)) {
      std::cerr << "switchyard: dlq " << options.action << " without an id or a filter acts on all "
                << selected.size() << " dead letters in " << printable(dead)
                << "; pass --yes to confirm (no terminal to ask on)\n";
      return 2;
    }
    if (!confirmed(options.action, selected.size(), dead)) {
      std::cerr << "switchyard: nothing done\n";
      return 1;
    }
  }

  if (options.action == "replay") {
    long replayed = 0, refused = 0, gone = 0;
    std::string json_letters;
    for (const auto& sel : selected) {
      const std::string target = sel.letter.handler ? keys.retry() : keys.pending;
      std::string result;
      ReplayResult done = ReplayResult::kReplayed;
      std::string why;
      if (options.dry_run && sel.unreadable.empty() && !sel.letter.truncated()) {
        result = "would_replay";
        ++replayed;
      } else {
        // Refuses an unreadable or truncated letter without writing (also in a dry run).
        s = replay_letter(connection, *source, sel, now, &done, &why);
        if (!s) {
          std::cerr << "switchyard: " << s.message() << "\n";
          return 1;
        }
        if (done == ReplayResult::kRefused) {
          std::cerr << "switchyard: dead letter " << sel.id << " in " << printable(dead)
                    << " not replayed: " << why << "; it stays in place: inspect it with "
                    << "`switchyard dlq show " << sel.id << "`, remove it with `switchyard dlq "
                    << "purge " << sel.id << "`\n";
          ++refused;
          result = "refused";
        } else if (done == ReplayResult::kReplayed) {
          ++replayed;
          result = "replayed";
        } else {
          ++gone;
          result = "gone";
          std::cerr << "switchyard: dead letter " << sel.id << " left " << printable(dead)
                    << " meanwhile (replayed, purged or trimmed): not replayed\n";
        }
      }
      if (options.json) {
        json_letters +=
            (json_letters.empty() ? "" : ",") + std::string("{\"id\":") + json_quote(sel.id) +
            ",\"handler\":" + (sel.letter.handler ? json_quote(*sel.letter.handler) : "null") +
            ",\"to\":" + json_quote(target) + ",\"result\":\"" + result + "\"}";
      } else if (options.dry_run && result == "would_replay") {
        std::cout << "would replay " << sel.id
                  << "  event=" << printable(sel.event ? *sel.event : "?") << "  to "
                  << (sel.letter.handler ? "handler " + printable(*sel.letter.handler) + " via " +
                                               printable(target)
                                         : printable(target) + " (all its routes)")
                  << "\n";
      }
    }
    if (options.json) {
      std::cout << "{\"key\":" << json_quote(dead)
                << ",\"dry_run\":" << (options.dry_run ? "true" : "false")
                << ",\"replayed\":" << replayed << ",\"refused\":" << refused
                << ",\"gone\":" << gone << ",\"letters\":[" << json_letters << "]}\n";
    } else {
      std::cout << (options.dry_run ? "would replay " : "replayed ") << replayed
                << " dead letter(s) from " << printable(dead) << "\n";
    }
    // A named letter that is gone is an error too; one that left a bulk replay is not.
    return refused || (gone && !filters.ids.empty()) ? 1 : 0;
  }

  // purge
  long purged = 0;
  std::vector<const Letter*> removed;
  if (options.dry_run) {
    for (const auto& sel : selected) removed.push_back(&sel);
    purged = static_cast<long>(selected.size());
  } else {
    bool one_by_one = true;
    // The selection is the head of K:dead (purge everything, or --older-than on letters in time
    // order): trim exactly that many, unless the head changed meanwhile. What the daemon
    // appended since the listing is at the tail and is not touched.
    const bool head = !selected.empty() && selected.front().index == 0 &&
                      selected.back().index == static_cast<long>(selected.size()) - 1 &&
                      filters.ids.empty();
    if (selected.empty()) {
      one_by_one = false;
    } else if (head) {
      long head_purged = -1;
      s = purge_head(connection, dead, selected.size(), selected.front().raw, selected.back().raw,
                     &head_purged);
      if (s && head_purged >= 0) {
        purged = head_purged;
        for (const auto& sel : selected) removed.push_back(&sel);
        one_by_one = false;
      }
    }
    if (s && one_by_one) {
      std::vector<const Letter*> listed;
      for (const auto& sel : selected) listed.push_back(&sel);
      s = purge_letters(connection, dead, listed, &removed);
      purged = static_cast<long>(removed.size());
    }
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      return 1;
    }
  }
  if (options.json) {
    std::cout << "{\"key\":" << json_quote(dead)
              << ",\"dry_run\":" << (options.dry_run ? "true" : "false") << ",\"purged\":" << purged
              << ",\"ids\":[";
    for (size_t i = 0; i < removed.size(); ++i)
      std::cout << (i ? "," : "") << json_quote(removed[i]->id);
    std::cout << "]}\n";
  } else {
    if (options.dry_run)
      for (const Letter* l : removed)
        std::cout << "would purge " << l->id << "  " << printable(l->letter.failed_at)
                  << "  reason: " << printable(l->letter.reason) << "\n";
    std::cout << (options.dry_run ? "would purge " : "purged ") << purged << " dead letter(s) from "
              << printable(dead) << "\n";
  }
  if (!filters.ids.empty() && static_cast<size_t>(purged) < selected.size()) {
    std::cerr << "switchyard: " << selected.size() - static_cast<size_t>(purged)
              << " of the named dead letters left " << printable(dead)
              << " meanwhile (replayed, purged or trimmed)\n";
    return 1;
  }
  return 0;
}

}  // namespace switchyard
