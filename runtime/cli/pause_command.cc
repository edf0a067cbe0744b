// pause_command.cc: `switchyard pause|resume SOURCE` and `pause|resume --handler H [SOURCE]`: set
// or clear the pause in each source's K:paused hash, which every running instance reads about
// once a second (README "Pause and resume").
#include <pwd.h>
#include <unistd.h>

#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "dispatch/pause.h"
#include "records/dead_letter.h"
#include "redis/redis_connection.h"
#include "source/source.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// "<ISO time> by <user>@<host>": the value of a K:paused field, shown by `stats`.
std::string paused_by() {
  std::string user = "uid " + std::to_string(geteuid());
  if (const passwd* pw = getpwuid(geteuid())) user = pw->pw_name;
  if (const char* sudo = std::getenv("SUDO_USER"); sudo && *sudo) user = sudo;
  char host[256] = {};
  if (gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
  return now_iso8601() + " by " + user + "@" + host;
}

std::string names_of(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

}  // namespace

int pause_command(const CommonOptions& common, const PauseOptions& options) {
  const char* verb = options.resume ? "resume" : "pause";
  if (options.source.empty() && options.handler.empty()) {
    std::cerr << "switchyard: " << verb << " needs a SOURCE or --handler NAME (e.g. switchyard "
              << verb << " events, or switchyard " << verb << " --handler quotes_db)\n";
    return 2;
  }
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const Config& config = *loaded.config;
  std::vector<const SourceConfig*> sources;
  std::vector<std::string> source_names;
  for (const SourceConfig& s : config.sources) {
    source_names.push_back(s.name);
    if (options.source.empty() || s.name == options.source) sources.push_back(&s);
  }
  if (sources.empty()) {
    std::cerr << "switchyard: no source named \"" << printable(options.source) << "\" in "
              << config.path << "; its sources are: " << names_of(source_names) << "\n";
    return 2;
  }
  RedisConnection connection(loaded.endpoint, "switchyard:pause");
  const std::string field = options.handler.empty()
                                ? std::string(kPausedSourceField)
                                : std::string(kPausedHandlerPrefix) + options.handler;
  // A handler removed from routes.yaml while paused can still be resumed: that clears its pause.
  auto paused_somewhere = [&] {
    if (!options.resume || !connection.connect()) return false;
    for (const SourceConfig* source : sources) {
      Reply reply;
      if (connection.command({"HEXISTS", paused_key(source->key), field}, &reply) &&
          reply->type == REDIS_REPLY_INTEGER && reply->integer == 1)
        return true;
    }
    return false;
  };
  if (!options.handler.empty() && !config.find_handler(options.handler) && !paused_somewhere()) {
    std::vector<std::string> handlers;
    for (const HandlerConfig& h : config.handlers) handlers.push_back(h.name);
    std::cerr << "switchyard: no handler named \"" << printable(options.handler) << "\" in "
              << config.path << "; its handlers are: " << names_of(handlers) << "\n";
    return 2;
  }
  Status s = connection.connected() ? Status::ok() : connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  const std::string what =
      options.handler.empty() ? "source " + options.source : "handler " + options.handler;
  const std::string value = paused_by();
  for (const SourceConfig* source : sources) {
    const std::string key = paused_key(source->key);
    Reply reply;
    s = options.resume ? connection.command_ok({"HDEL", key, field}, &reply)
                       : connection.command_ok({"HSETNX", key, field, value}, &reply);
    if (!s) {
      std::cerr << "switchyard: " << s.message() << "\n";
      if (s.message().find("WRONGTYPE") != std::string::npos)
        std::cerr << "switchyard: " << key << " is not a hash (written by something else): "
                  << "check what it holds, DEL it, then run this again\n";
      return 1;
    }
    const bool changed = reply->type == REDIS_REPLY_INTEGER && reply->integer == 1;
    const std::string where = options.handler.empty() ? "" : " for source " + source->name;
    if (options.resume) {
      std::cout << (changed ? "resumed " : "was not paused: ") << what << where << " (" << key
                << ")\n";
    } else if (!changed) {
      Reply since;
      s = connection.command_ok({"HGET", key, field}, &since);
      std::cout << "already paused: " << what << where << " ("
                << (s && since->type == REDIS_REPLY_STRING
                        ? printable(std::string(since->str, since->len))
                        : key)
                << ")\n";
    } else if (options.handler.empty()) {
      std::cout << "paused source " << source->name << " (" << key
                << "): running instances take nothing from " << source->key
                << " within about a second; messages wait there\n";
    } else {
      std::cout << "paused handler " << options.handler << where << " (" << key
                << "): within about a second its deliveries wait in "
                << SourceKeys(source->key).retry() << "; the other handlers go on\n";
    }
  }
  if (!options.resume) {
    std::cout << "resume with: switchyard resume"
              << (options.handler.empty() ? "" : " --handler " + options.handler)
              << (options.source.empty() ? "" : " " + options.source) << "\n";
  }
  return 0;
}

}  // namespace switchyard
