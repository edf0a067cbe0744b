// console_server.cc: the web console's routes: embedded pages, JSON read from Redis, and the
// token-protected write actions.
#include "console/console_server.h"

#include <httplib.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <vector>

#include "console/assets/assets.h"
#include "console/behind_view.h"
#include "console/dead_letters.h"
#include "console/source_stats.h"
#include "dispatch/pause.h"
#include "metrics/behind.h"
#include "redis/redis_connection.h"
#include "routing/route_table.h"
#include "source/behind_sampler.h"
#include "source/list_source.h"
#include "util/bounded_json.h"
#include "util/secret_file.h"

namespace switchyard {
namespace {

constexpr long kPageMax = 500;  // letters per page at most
constexpr auto kRedisTimeout = std::chrono::milliseconds(5000);

// Every /ui/ answer: nothing but this origin's own files, never in a frame, never sniffed.
void secure(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                 "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("X-Frame-Options", "DENY");
  res.set_header("Referrer-Policy", "no-referrer");
  res.set_header("Cache-Control", "no-store");
}

void json(httplib::Response& res, int status, const std::string& body) {
  secure(res);
  res.status = status;
  res.set_content(body, "application/json; charset=utf-8");
}

void json_error(httplib::Response& res, int status, const std::string& message) {
  json(res, status, "{\"error\":" + letter_json_quote(message) + "}");
}

const auto q = letter_json_quote;

// The query parameter `name`, "" when absent.
std::string param(const httplib::Request& req, const char* name) {
  return req.has_param(name) ? req.get_param_value(name) : std::string();
}

// A whole number in [0, max]; fallback when absent or not one.
long number_param(const httplib::Request& req, const char* name, long fallback, long max) {
  const std::string text = param(req, name);
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos)
    return fallback;
  return std::min(std::stol(text), max);
}

const SourceConfig* find_source(const Config& config, const std::string& name) {
  if (name.empty()) return &config.sources.front();
  for (const auto& s : config.sources)
    if (s.name == name) return &s;
  return nullptr;
}

// a and b equal, in time that depends only on a's length (a: what the client sent).
bool same_secret(const std::string& a, const std::string& b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i)
    diff |= static_cast<unsigned char>(a[i] ^ (b.empty() ? 0 : b[i % b.size()]));
  return diff == 0 && !b.empty();
}

// Reads the dead-letter filters of a request (query or a POST's "filter" object) into *f.
// False with *error naming the bad value.
bool parse_filters(const std::map<std::string, std::string>& values, int64_t now_ms,
                   LetterFilters* f, std::string* error) {
  auto get = [&](const char* k) {
    auto it = values.find(k);
    return it == values.end() ? std::string() : it->second;
  };
  f->event_glob = get("event");
  f->handler = get("handler");
  f->reason = get("reason");
  for (const char* name : {"since", "before"}) {
    const std::string text = get(name);
    if (text.empty()) continue;
    int64_t t = 0;
    if (!parse_time_option(text, now_ms, &t)) {
      *error = std::string(name) + " \"" + text +
               "\" is neither an ISO 8601 time (2026-12-04T10:00:00Z) nor a duration ago (2h)";
      return false;
    }
    (std::string(name) == "since" ? f->since : f->before) = t;
  }
  return true;
}

int64_t wall_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The [t_ms, pending, oldest_age_s] points of K:stats:history, oldest first.
std::string history_json(RedisConnection& connection, const SourceConfig& source) {
  Reply reply;
  if (!connection.command({"ZRANGE", behind_history_key(source.key), "0", "-1"}, &reply) ||
      reply->type != REDIS_REPLY_ARRAY)
    return "[]";
  std::string out = "[";
  for (size_t i = 0; i < reply->elements; ++i) {
    const std::string point(reply->element[i]->str, reply->element[i]->len);
    long long t = 0, pending = 0;
    double age = 0;
    if (std::sscanf(point.c_str(), "%lld %lld %lf", &t, &pending, &age) != 3) continue;
    out += (out.size() > 1 ? "," : "") + std::string("[") + std::to_string(t) + "," +
           std::to_string(pending) + "," + json_number(age) + "]";
  }
  return out + "]";
}

// A time in ms, or null for -1 (none).
std::string time_or_null(long long ms) { return ms < 0 ? "null" : std::to_string(ms); }

std::string behind_json(const SourceBehindView& b) {
  return "{\"reported\":" + std::string(b.reported ? "true" : "false") +
         ",\"instances\":" + std::to_string(b.instances) +
         ",\"oldest_age_seconds\":" + json_number(b.oldest_age_seconds) +
         ",\"in_1m\":" + json_number(b.in_1m) + ",\"out_1m\":" + json_number(b.out_1m) +
         ",\"in_5m\":" + json_number(b.in_5m) + ",\"out_5m\":" + json_number(b.out_5m) +
         ",\"drain_eta_seconds\":" + json_number(b.drain_eta_seconds) + "}";
}

std::string handler_json(const HandlerView& h) {
  std::string out = "{\"name\":" + q(h.name) + ",\"calls_1m\":" + std::to_string(h.calls) +
                    ",\"ok_rate\":" + json_number(h.rate("ok")) +
                    ",\"error_rate\":" + json_number(h.error_rate()) +
                    ",\"p50_seconds\":" + json_number(h.p50_seconds) +
                    ",\"p99_seconds\":" + json_number(h.p99_seconds) + "}";
  return out;
}

std::string overview_json(RedisConnection& connection, const Config& config, bool write,
                          Status* status) {
  std::vector<SourceStats> stats;
  std::map<std::string, SourceBehindView> behind;
  std::vector<HandlerView> handlers;
  *status = collect_source_stats(connection, config, "", &stats);
  if (*status) *status = read_behind(connection, config, &behind, &handlers);
  if (!*status) return "";
  std::string out = "{\"write\":" + std::string(write ? "true" : "false") +
                    ",\"now_ms\":" + std::to_string(stats.empty() ? 0 : stats.front().now_ms) +
                    ",\"sources\":[";
  for (size_t i = 0; i < stats.size(); ++i) {
    const SourceStats& st = stats[i];
    const SourceConfig& source = config.sources[i];
    out += (i ? "," : "") + std::string("{\"name\":") + q(st.name) + ",\"key\":" + q(st.key) +
           ",\"type\":" + q(to_string(source.type)) + ",\"pending\":" + std::to_string(st.pending) +
           ",\"inflight\":" + std::to_string(st.inflight) +
           ",\"retrying\":" + std::to_string(st.retrying) + ",\"dead\":" + std::to_string(st.dead);
    auto source_pause = st.paused.find("source");
    out += ",\"paused\":" +
           (source_pause == st.paused.end() ? std::string("null") : q(source_pause->second));
    out += ",\"paused_handlers\":{";
    bool first = true;
    for (const auto& [field, since] : st.paused) {
      if (field.rfind(kPausedHandlerPrefix, 0) != 0) continue;
      out += (first ? "" : ",") + q(field.substr(kPausedHandlerPrefix.size())) + ":" + q(since);
      first = false;
    }
    out += "},\"alerts\":{";
    first = true;
    for (const auto& [code, text] : st.alerts) {
      out += (first ? "" : ",") + q(code) + ":" + q(text);
      first = false;
    }
    out += "},\"consumers\":[";
    first = true;
    for (const auto& [name, c] : st.consumers) {
      out += (first ? "" : ",") + std::string("{\"name\":") + q(name) +
             ",\"inflight\":" + std::to_string(c.inflight) +
             ",\"alive\":" + (c.alive ? "true" : "false") +
             ",\"heartbeat_ms\":" + time_or_null(c.heartbeat_ms) +
             ",\"snapshot_ms\":" + time_or_null(c.snapshot_ms) + "}";
      first = false;
    }
    for (const auto& g : st.groups)
      for (const auto& c : g.consumers) {
        out += (first ? "" : ",") + std::string("{\"name\":") + q(g.name + "/" + c.name) +
               ",\"inflight\":" + std::to_string(c.pending) +
               ",\"idle_ms\":" + std::to_string(c.idle_ms) + ",\"alive\":true" +
               ",\"heartbeat_ms\":" + std::to_string(st.now_ms - c.idle_ms) + "}";
        first = false;
      }
    auto b = behind.find(st.name);
    out += "],\"behind\":" + behind_json(b == behind.end() ? SourceBehindView{} : b->second) +
           ",\"history\":" + history_json(connection, source) + "}";
  }
  out += "],\"handlers\":[";
  for (size_t i = 0; i < handlers.size(); ++i) out += (i ? "," : "") + handler_json(handlers[i]);
  return out + "]}";
}

std::string routes_json(RedisConnection& connection, const Config& config, Status* status) {
  std::map<std::string, SourceBehindView> behind;
  std::vector<HandlerView> views;
  *status = read_behind(connection, config, &behind, &views);
  if (!*status) return "";
  std::string out = "{\"routes\":[";
  for (size_t i = 0; i < config.routes.size(); ++i) {
    const RouteConfig& r = config.routes[i];
    out += (i ? "," : "") + std::string("{\"pattern\":") + q(r.pattern) + ",\"handlers\":[";
    for (size_t h = 0; h < r.handlers.size(); ++h) out += (h ? "," : "") + q(r.handlers[h]);
    // The contracts of the events this pattern receives.
    out += "],\"contracts\":[";
    bool first = true;
    for (const auto& [event, schema] : config.contracts) {
      if (!glob_match(r.pattern, event)) continue;
      out += (first ? "" : ",") + std::string("{\"event\":") + q(event) + ",\"file\":" + q(schema) +
             "}";
      first = false;
    }
    out += "]}";
  }
  out += "],\"handlers\":[";
  for (size_t i = 0; i < config.handlers.size(); ++i) {
    const HandlerConfig& h = config.handlers[i];
    HandlerView view;
    view.name = h.name;
    view.p50_seconds = view.p99_seconds = std::numeric_limits<double>::quiet_NaN();
    for (const HandlerView& v : views)
      if (v.name == h.name) view = v;
    std::string entry = handler_json(view);
    entry.pop_back();
    out += (i ? "," : "") + entry + ",\"plugin\":" + q(h.plugin) + "}";
  }
  // Every contract, with the patterns that route its event (none: the unrouted policy applies).
  out += "],\"contracts\":[";
  bool first = true;
  for (const auto& [event, schema] : config.contracts) {
    out += (first ? "" : ",") + std::string("{\"event\":") + q(event) + ",\"file\":" + q(schema) +
           ",\"patterns\":[";
    bool first_pattern = true;
    for (const RouteConfig& r : config.routes) {
      if (!glob_match(r.pattern, event)) continue;
      out += (first_pattern ? "" : ",") + q(r.pattern);
      first_pattern = false;
    }
    out += "]}";
    first = false;
  }
  return out + "],\"unrouted\":" + q(to_string(config.unrouted)) + "}";
}

}  // namespace

bool read_console_token(const UiConfig& ui, std::string* token, std::string* error) {
  if (!read_secret_file(ui.token_file, ui.mark.str() + ": ui.token_file " + ui.token_file,
                        "this console", token, error))
    return false;
  if (token->size() < 16) {
    *error = ui.mark.str() + ": ui.token_file " + ui.token_file + " holds " +
             std::to_string(token->size()) +
             " characters; a token needs at least 16 (e.g. head -c 32 /dev/urandom | base64)";
    return false;
  }
  return true;
}

ConsoleServer::ConsoleServer(RedisEndpoint endpoint,
                             std::function<std::shared_ptr<const Config>()> current_config,
                             ConsoleOptions options)
    : endpoint_(std::move(endpoint)),
      current_config_(std::move(current_config)),
      options_(std::move(options)) {}

bool ConsoleServer::is_write_path(const std::string& path) {
  return path == "/ui/api/replay" || path == "/ui/api/purge";
}

void ConsoleServer::install(httplib::Server& server) {
  auto asset = [](const char* text, const char* type) {
    return [text, type](const httplib::Request&, httplib::Response& res) {
      secure(res);
      res.set_content(text, type);
    };
  };
  server.Get("/ui", [](const httplib::Request&, httplib::Response& res) {
    secure(res);
    res.set_redirect("/ui/");
  });
  server.Get("/ui/", asset(lua::kIndex, "text/html; charset=utf-8"));
  server.Get("/ui/console_app.js", asset(lua::kConsoleApp, "text/javascript; charset=utf-8"));
  server.Get("/ui/console_style.css", asset(lua::kConsoleStyle, "text/css; charset=utf-8"));

  // Runs `body` with the config in use and a fresh Redis connection; answers 503 without them.
  using Body = std::function<void(const Config&, RedisConnection&, const httplib::Request&,
                                  httplib::Response&)>;
  auto with_redis = [this](Body body) {
    return [this, body](const httplib::Request& req, httplib::Response& res) {
      std::shared_ptr<const Config> config = current_config_();
      if (!config) return json_error(res, 503, "no configuration loaded yet");
      RedisConnection connection(endpoint_, "switchyard:console", kRedisTimeout);
      Status s = connection.connect();
      if (!s) return json_error(res, 503, s.message());
      body(*config, connection, req, res);
    };
  };

  server.Get("/ui/api/overview",
             with_redis([this](const Config& config, RedisConnection& connection,
                               const httplib::Request&, httplib::Response& res) {
               Status s;
               std::string body = overview_json(connection, config, options_.write, &s);
               if (!s) return json_error(res, 503, s.message());
               json(res, 200, body);
             }));

  server.Get("/ui/api/routes", with_redis([](const Config& config, RedisConnection& connection,
                                             const httplib::Request&, httplib::Response& res) {
               Status s;
               std::string body = routes_json(connection, config, &s);
               if (!s) return json_error(res, 503, s.message());
               json(res, 200, body);
             }));

  server.Get("/ui/api/dead", with_redis([](const Config& config, RedisConnection& connection,
                                           const httplib::Request& req, httplib::Response& res) {
               const SourceConfig* source = find_source(config, param(req, "source"));
               if (!source) return json_error(res, 404, "no source by that name in " + config.path);
               LetterFilters filters;
               std::string error;
               std::map<std::string, std::string> values;
               for (const char* k : {"event", "handler", "reason", "since", "before"})
                 values[k] = param(req, k);
               if (!parse_filters(values, wall_ms(), &filters, &error))
                 return json_error(res, 400, error);
               const long offset = number_param(req, "offset", 0, 1L << 40);
               const long limit = std::max(1L, number_param(req, "limit", 50, kPageMax));
               const std::string dead = SourceKeys(source->key).dead();
               LetterPage page;
               Status s = read_letter_page(connection, dead, filters, offset, limit, &page);
               if (!s) return json_error(res, 503, s.message());
               std::string out = "{\"source\":" + q(source->name) + ",\"key\":" + q(dead) +
                                 ",\"total\":" + std::to_string(page.total) +
                                 ",\"matched\":" + std::to_string(page.matched) +
                                 ",\"complete\":" + (page.complete ? "true" : "false") +
                                 ",\"offset\":" + std::to_string(offset) +
                                 ",\"more\":" + (page.more ? "true" : "false") + ",\"letters\":[";
               for (size_t i = 0; i < page.letters.size(); ++i) {
                 std::string entry = letter_json(page.letters[i]);
                 entry.pop_back();
                 out += (i ? "," : "") + entry +
                        ",\"at\":" + std::to_string(page.letters[i].index) + "}";
               }
               json(res, 200, out + "]}");
             }));

  server.Get("/ui/api/letter", with_redis([](const Config& config, RedisConnection& connection,
                                             const httplib::Request& req, httplib::Response& res) {
               const SourceConfig* source = find_source(config, param(req, "source"));
               if (!source) return json_error(res, 404, "no source by that name in " + config.path);
               LetterFilters filters;
               std::string id, error;
               if (!parse_letter_id(param(req, "id"), &id, &error))
                 return json_error(res, 400, error);
               filters.ids.push_back(id);
               const std::string dead = SourceKeys(source->key).dead();
               std::vector<Letter> found;
               // The position the list showed first: one LINDEX instead of reading K:dead.
               const long at = number_param(req, "at", -1, 1L << 40);
               if (at >= 0) {
                 Reply reply;
                 Status s = connection.command_ok({"LINDEX", dead, std::to_string(at)}, &reply);
                 if (!s) return json_error(res, 503, s.message());
                 if (reply->type == REDIS_REPLY_STRING) {
                   Letter l = read_letter(std::string(reply->str, reply->len), at);
                   if (filters.match_id(l.id)) found.push_back(std::move(l));
                 }
               }
               if (found.empty()) {
                 long total = 0;
                 Status s = read_matching_letters(connection, dead, filters, &found, &total);
                 if (!s) return json_error(res, 503, s.message());
               }
               if (found.empty())
                 return json_error(res, 404,
                                   "no dead letter " + id + " in " + dead +
                                       ": replayed, purged or trimmed meanwhile");
               const Letter& l = found.front();
               std::string pretty;
               const std::string& message = l.unreadable.empty() ? l.letter.message : l.raw;
               if (!pretty_print_bounded_json(message, JsonBounds{}, &pretty, &error))
                 pretty = message;
               std::string out = letter_json(l);
               out.pop_back();
               json(res, 200,
                    out + ",\"at\":" + std::to_string(l.index) + ",\"message\":" + q(pretty) + "}");
             }));

  // replay and purge: {"source": S, "ids": [...]} or {"source": S, "filter": {...}, "expect": N}
  // where N is the count the operator confirmed (the filter must still match exactly that many).
  auto write = [this](const std::string& action) {
    return [this, action](const httplib::Request& req, httplib::Response& res) {
      if (!options_.write)
        return json_error(res, 403,
                          "write actions are off; set ui: { write: true, token_file: ... } in "
                          "routes.yaml to allow replay and purge");
      // A page of another site (or a form) cannot make these requests: browsers send
      // Sec-Fetch-Site and Origin, and a form can send neither a token header nor JSON.
      const std::string site = req.get_header_value("Sec-Fetch-Site");
      const std::string origin = req.get_header_value("Origin");
      if ((!site.empty() && site != "same-origin") ||
          (!origin.empty() && origin != "http://" + req.get_header_value("Host")))
        return json_error(res, 403, "cross-site request refused: use the console's own page");
      if (req.get_header_value("Content-Type").rfind("application/json", 0) != 0)
        return json_error(res, 415, "send the request as Content-Type: application/json");
      std::string token = req.get_header_value("X-Switchyard-Token");
      const std::string authorization = req.get_header_value("Authorization");
      if (token.empty() && authorization.rfind("Bearer ", 0) == 0) token = authorization.substr(7);
      if (token.empty()) {
        res.set_header("WWW-Authenticate", "Bearer");
        return json_error(res, 401,
                          "this action needs the token of ui.token_file, sent as "
                          "X-Switchyard-Token or Authorization: Bearer");
      }
      if (!same_secret(token, options_.token))
        return json_error(res, 403, "wrong token: it must be the text of ui.token_file");
      rapidjson::Document doc;
      std::string error;
      if (!parse_bounded_json(req.body, JsonBounds{}, &doc, &error) || !doc.IsObject())
        return json_error(res, 400, "the body is not a JSON object: " + error);
      std::shared_ptr<const Config> config = current_config_();
      if (!config) return json_error(res, 503, "no configuration loaded yet");
      auto text = [](const rapidjson::Value& v, const char* k) {
        auto it = v.FindMember(k);
        return it != v.MemberEnd() && it->value.IsString()
                   ? std::string(it->value.GetString(), it->value.GetStringLength())
                   : std::string();
      };
      const SourceConfig* source = find_source(*config, text(doc, "source"));
      if (!source) return json_error(res, 404, "no source by that name in " + config->path);
      LetterFilters filters;
      const int64_t now = wall_ms();
      auto ids = doc.FindMember("ids");
      auto filter = doc.FindMember("filter");
      auto expect = doc.FindMember("expect");
      if (ids != doc.MemberEnd() && ids->value.IsArray() && !ids->value.Empty()) {
        for (const auto& v : ids->value.GetArray()) {
          std::string id;
          if (!v.IsString() || !parse_letter_id(v.GetString(), &id, &error))
            return json_error(res, 400, v.IsString() ? error : "ids must be strings");
          filters.ids.push_back(id);
        }
      } else if (filter != doc.MemberEnd() && filter->value.IsObject() &&
                 expect != doc.MemberEnd() && expect->value.IsInt64()) {
        std::map<std::string, std::string> values;
        for (const char* k : {"event", "handler", "reason", "since", "before"})
          values[k] = text(filter->value, k);
        if (!parse_filters(values, now, &filters, &error)) return json_error(res, 400, error);
      } else {
        return json_error(res, 400,
                          "give \"ids\": [...], or \"filter\": {...} with \"expect\": the count "
                          "the operator confirmed");
      }
      RedisConnection connection(endpoint_, "switchyard:console", kRedisTimeout);
      Status s = connection.connect();
      const std::string dead = SourceKeys(source->key).dead();
      std::vector<Letter> matched;
      long total = 0;
      if (s) s = read_matching_letters(connection, dead, filters, &matched, &total);
      if (!s) return json_error(res, 503, s.message());
      // Identical copies are one letter: act once.
      std::set<std::string> seen;
      std::vector<const Letter*> selected;
      for (const Letter& l : matched)
        if (seen.insert(l.raw).second) selected.push_back(&l);
      if (filters.ids.empty() && static_cast<int64_t>(selected.size()) != expect->value.GetInt64())
        return json_error(res, 409,
                          "the filter now matches " + std::to_string(selected.size()) +
                              " dead letters, not the " + std::to_string(expect->value.GetInt64()) +
                              " confirmed: nothing done; look again and confirm the new count");
      if (!filters.ids.empty() && selected.size() < filters.ids.size())
        return json_error(res, 404,
                          "a named dead letter is not in " + dead +
                              " (replayed, purged or trimmed meanwhile): nothing done");
      if (action == "purge") {
        std::vector<const Letter*> removed;
        s = purge_letters(connection, dead, selected, &removed);
        if (!s) return json_error(res, 503, s.message());
        return json(res, 200, "{\"purged\":" + std::to_string(removed.size()) + "}");
      }
      long replayed = 0, refused = 0, gone = 0;
      std::string reasons = "[";
      for (const Letter* l : selected) {
        ReplayResult result;
        std::string why;
        s = replay_letter(connection, *source, *l, now, &result, &why);
        if (!s) return json_error(res, 503, s.message());
        if (result == ReplayResult::kReplayed) ++replayed;
        if (result == ReplayResult::kGone) ++gone;
        if (result == ReplayResult::kRefused) {
          ++refused;
          reasons += (reasons.size() > 1 ? "," : "") + q(l->id + ": " + why);
        }
      }
      json(res, 200,
           "{\"replayed\":" + std::to_string(replayed) + ",\"refused\":" + std::to_string(refused) +
               ",\"gone\":" + std::to_string(gone) + ",\"refusals\":" + reasons + "]}");
    };
  };
  server.Post("/ui/api/replay", write("replay"));
  server.Post("/ui/api/purge", write("purge"));
}

}  // namespace switchyard
