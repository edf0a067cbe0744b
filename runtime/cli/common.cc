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

// True when gid is the effective group of this process or one of its supplementary groups.
bool is_my_group(gid_t gid) {
  if (gid == getegid()) return true;
  const int n = getgroups(0, nullptr);
  if (n <= 0) return false;
  std::vector<gid_t> groups(static_cast<size_t>(n));
  const int got = getgroups(n, groups.data());
  for (int i = 0; i < got; ++i)
    if (groups[static_cast<size_t>(i)] == gid) return true;
  return false;
}

// Reads the password from password_file, checked on the descriptor that is read: a regular
// file owned by root or the user running switchyard, not readable by other users, and readable
// by its group only when that group is one of the caller's (so root:shadow 0640 /etc/shadow is
// refused, root:switchyard 0640 is accepted for the service user).
bool read_password_file(const RedisConfig& redis, std::string* password, std::string* error) {
  const std::string& path = redis.password_file;
  const std::string where = redis.mark.str() + ": redis.password_file " + path;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    *error = where + ": cannot read it (" + strerror(errno) + ")";
    return false;
  }
  struct stat st;
  std::string why;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    why = " is not a regular file; put the password alone in a file";
  } else if (st.st_uid != 0 && st.st_uid != geteuid()) {
    why = " is owned by uid " + std::to_string(st.st_uid) +
          ", not by root or the user running switchyard (uid " + std::to_string(geteuid()) +
          "), so it may not be a password meant for this Redis; run: chown " +
          std::to_string(geteuid()) + " " + path;
  } else if (st.st_mode & S_IROTH) {
    why = " is readable by other users; run: chmod o-rwx " + path;
  } else if ((st.st_mode & S_IRGRP) && !is_my_group(st.st_gid)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    why = " is readable by group " + std::to_string(st.st_gid) + " (mode " + mode +
          "), which is not a group of the user running switchyard, so it may not be a password "
          "meant for this Redis; run: chmod 0600 " +
          path + ", or chgrp it to the service's group";
  }
  std::string text;
  if (why.empty()) {
    char buffer[4096];
    ssize_t n;
    while ((n = read(fd, buffer, sizeof buffer)) > 0 && text.size() < 65536)
      text.append(buffer, static_cast<size_t>(n));
    if (n < 0) why = ": cannot read it (" + std::string(strerror(errno)) + ")";
  }
  close(fd);
  if (!why.empty()) {
    *error = where + why;
    return false;
  }
  *password = text.substr(0, text.find('\n'));
  while (!password->empty() && (password->back() == '\r' || password->back() == ' '))
    password->pop_back();
  return true;
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
  if (!parsed) return fail((from_file ? config->redis.mark.str() + ": " : std::string()) + error);
  if (!env("SWITCHYARD_REDIS_PASSWORD").empty()) {
    loaded->endpoint.password = env("SWITCHYARD_REDIS_PASSWORD");
  } else if (!config->redis.password_file.empty()) {
    if (!read_password_file(config->redis, &loaded->endpoint.password, &error)) return fail(error);
  }
  loaded->config = std::move(config);
  return 0;
}

bool parse_time_option(const std::string& text, int64_t now, int64_t* out) {
  Millis ago;
  if (parse_duration(text, &ago)) {
    *out = now - ago.count();
    return true;
  }
  return parse_iso8601(text, out);
}

}  // namespace switchyard
