// common.cc: what every subcommand shares: finding routes.yaml, the Redis endpoint and its
// password, and logging setup.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "plugin_host/handler_registry.h"
#include "records/dead_letter.h"
#include "util/secret_file.h"

namespace switchyard {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string find_config_path(const CommonOptions& options) {
  if (!options.config_path.empty()) return options.config_path;
  if (!env("SWITCHYARD_CONFIG").empty()) return env("SWITCHYARD_CONFIG");
  // Never ./routes.yaml: a file planted in a shared directory (cd /tmp && sudo switchyard
  // stats) would choose the Redis server the password is sent to.
  return "/etc/switchyard/routes.yaml";
}

}  // namespace

int load_common(const CommonOptions& options, Loaded* loaded, Status* error_out, bool need_redis) {
  auto fail = [&](const std::string& message) {
    if (error_out) {
      *error_out = Status::error(message);
    } else {
      std::cerr << "switchyard: " << message << "\n";
    }
    return 2;
  };
  auto config = std::make_shared<Config>();
  std::string path = find_config_path(options);
  Status s = load_config(path, config.get());
  if (!s) return fail(s.message());
  loaded->plugins_dir = !options.plugins_dir.empty()   ? options.plugins_dir
                        : !config->plugins_dir.empty() ? config->plugins_dir
                                                       : default_plugins_dir();
  if (!need_redis) {
    loaded->config = std::move(config);
    return 0;
  }
  std::string url = !options.redis_url.empty()             ? options.redis_url
                    : !env("SWITCHYARD_REDIS_URL").empty() ? env("SWITCHYARD_REDIS_URL")
                                                           : config->redis.url;
  const bool from_file = options.redis_url.empty() && env("SWITCHYARD_REDIS_URL").empty();
  std::string error;
  bool parsed;
  if (from_file && !config->redis.cluster.empty())
    parsed = make_cluster_endpoint(config->redis.cluster, &loaded->endpoint, &error);
  else if (from_file && !config->redis.sentinel_nodes.empty())
    parsed = make_sentinel_endpoint(config->redis.sentinel_master, config->redis.sentinel_nodes,
                                    &loaded->endpoint, &error);
  else
    parsed = parse_redis_url(url, &loaded->endpoint, &error);
  // Named where it came from: routes.yaml's line, the --redis flag or the environment variable.
  if (!parsed)
    return fail((from_file                    ? config->redis.mark.str() + ": "
                 : !options.redis_url.empty() ? std::string("--redis: ")
                                              : std::string("SWITCHYARD_REDIS_URL: ")) +
                error);
  if (!env("SWITCHYARD_REDIS_PASSWORD").empty()) {
    loaded->endpoint.password = env("SWITCHYARD_REDIS_PASSWORD");
  } else if (!config->redis.password_file.empty()) {
    if (!read_secret_file(
            config->redis.password_file,
            config->redis.mark.str() + ": redis.password_file " + config->redis.password_file,
            "this Redis", &loaded->endpoint.password, &error))
      return fail(error);
  }
  if (loaded->endpoint.mode == RedisMode::kSentinel) {
    loaded->endpoint.sentinel_user = config->redis.sentinel_user;
    if (!config->redis.sentinel_password_file.empty() &&
        !read_secret_file(config->redis.sentinel_password_file,
                          config->redis.mark.str() + ": redis.sentinel.password_file " +
                              config->redis.sentinel_password_file,
                          "the sentinels", &loaded->endpoint.sentinel_password, &error))
      return fail(error);
  }
  loaded->config = std::move(config);
  return 0;
}

}  // namespace switchyard
