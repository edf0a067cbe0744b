// common.cc: what every subcommand shares: finding routes.yaml, the Redis endpoint and its
// password, and logging setup.
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "config/config_loader.h"
#include "plugin_host/handler_registry.h"

namespace switchyard {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string find_config_path(const CommonOptions& options) {
  if (!options.config_path.empty()) return options.config_path;
  if (!env("SWITCHYARD_CONFIG").empty()) return env("SWITCHYARD_CONFIG");
  std::error_code ec;
  if (std::filesystem::exists("routes.yaml", ec)) return "routes.yaml";
  return "/etc/switchyard/routes.yaml";
}

// Reads the password from password_file, refusing a file other users can read.
bool read_password_file(const RedisConfig& redis, std::string* password, std::string* error) {
  struct stat st;
  if (stat(redis.password_file.c_str(), &st) != 0) {
    *error = redis.mark.str() + ": redis.password_file " + redis.password_file +
             ": cannot read it (" + strerror(errno) + ")";
    return false;
  }
  if (st.st_mode & S_IROTH) {
    *error = redis.mark.str() + ": redis.password_file " + redis.password_file +
             " is readable by other users; run: chmod o-rwx " + redis.password_file;
    return false;
  }
  std::ifstream in(redis.password_file);
  std::getline(in, *password);
  if (!in && !in.eof()) {
    *error = redis.mark.str() + ": redis.password_file " + redis.password_file + ": cannot read it";
    return false;
  }
  while (!password->empty() && (password->back() == '\r' || password->back() == ' '))
    password->pop_back();
  return true;
}

}  // namespace

int load_common(const CommonOptions& options, Loaded* loaded, Status* error_out) {
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
  std::string url = !options.redis_url.empty()           ? options.redis_url
                    : !env("SWITCHYARD_REDIS_URL").empty() ? env("SWITCHYARD_REDIS_URL")
                                                           : config->redis.url;
  std::string error;
  if (!parse_redis_url(url, &loaded->endpoint, &error)) {
    return fail((options.redis_url.empty() && env("SWITCHYARD_REDIS_URL").empty()
                     ? config->redis.mark.str() + ": "
                     : std::string()) +
                error);
  }
  if (!env("SWITCHYARD_REDIS_PASSWORD").empty()) {
    loaded->endpoint.password = env("SWITCHYARD_REDIS_PASSWORD");
  } else if (!config->redis.password_file.empty()) {
    if (!read_password_file(config->redis, &loaded->endpoint.password, &error))
      return fail(error);
  }
  loaded->plugins_dir = !options.plugins_dir.empty()    ? options.plugins_dir
                        : !config->plugins_dir.empty() ? config->plugins_dir
                                                       : default_plugins_dir();
  loaded->config = std::move(config);
  return 0;
}

}  // namespace switchyard
