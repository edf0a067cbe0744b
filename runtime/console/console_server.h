// console_server.h: the web console (README "Web console"): its pages and JSON APIs under /ui/,
// installed on a cpp-httplib server (the daemon's metrics.listen endpoint, or `switchyard
// console`). Everything it shows is read from Redis on each request, so it shows every instance;
// replay and purge are POSTs allowed only with ui.write and the token.
// Thread safety: the handlers run on the server's threads, each with its own Redis connection;
// the object must outlive the server.
#ifndef SWITCHYARD_CONSOLE_CONSOLE_SERVER_H_
#define SWITCHYARD_CONSOLE_CONSOLE_SERVER_H_

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "config/config.h"
#include "redis/redis_url.h"

namespace httplib {
class Server;
}

namespace switchyard {

struct ConsoleOptions {
  bool write = false;  // replay and purge allowed (with the token)
  std::string token;   // what write requests must send; never empty when write is true
};

class ConsoleServer {
 public:
  // The largest request body (a POST of replay or purge) accepted.
  static constexpr size_t kMaxBody = 16384;

  // current_config returns the config in use (null: none yet, the APIs answer 503); it is called
  // on the request threads, so it must be thread-safe.
  ConsoleServer(RedisEndpoint endpoint,
                std::function<std::shared_ptr<const Config>()> current_config,
                ConsoleOptions options);

  // Registers /ui/ and /ui/api/... on `server` (before it listens).
  void install(httplib::Server& server);

  // True for the paths that accept POST (the write actions), whatever ui.write says: the
  // handler answers those with 403 when writing is off.
  static bool is_write_path(const std::string& path);

 private:
  RedisEndpoint endpoint_;
  std::function<std::shared_ptr<const Config>()> current_config_;
  ConsoleOptions options_;
};

// Reads the console's write token from ui.token_file with the checks of redis.password_file.
// Returns "" with *error set (file:line: ui.token_file PATH: why, and the fix) when it cannot.
bool read_console_token(const UiConfig& ui, std::string* token, std::string* error);

}  // namespace switchyard

#endif  // SWITCHYARD_CONSOLE_CONSOLE_SERVER_H_
