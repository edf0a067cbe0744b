// http_endpoint.h: the optional HTTP endpoint (metrics.listen): /metrics (Prometheus text),
// /healthz (the process answers and no handler is stuck) and /readyz (Redis reachable and a config
// loaded). Served by cpp-httplib on its own threads, hardened against abusive clients: GET and HEAD
// only, any request body refused before it is read, one request per connection, 5 s read and write
// timeouts, at most 4 requests served at once and 16 connections waiting (then clients wait in
// the listen backlog).
// Further routes (the web console) can be served on the same listener, with POST allowed on the
// paths they name (add_routes).
// Thread safety: start and stop from one thread; request handlers are internally synchronised.
#ifndef SWITCHYARD_OPS_HTTP_ENDPOINT_H_
#define SWITCHYARD_OPS_HTTP_ENDPOINT_H_

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/config.h"
#include "metrics/metrics.h"
#include "redis/redis_connection.h"
#include "util/status.h"

namespace httplib {
class Server;
}

namespace switchyard {

class HttpEndpoint {
 public:
  // listen is "host:port" ("127.0.0.1:9464"; "[::1]:9464" for IPv6). current_config returns the
  // config in use, whose sources' queue depths are reported (null: none loaded, not ready).
  // It is called on the request threads, so it must be thread-safe. metrics null: /metrics,
  // /healthz and /readyz are not served (only the routes of add_routes). listen_option is what
  // the operator set listen with (a routes.yaml key or a command-line flag): start()'s errors
  // name it.
  HttpEndpoint(std::string listen, Metrics* metrics, RedisEndpoint endpoint,
               std::function<std::shared_ptr<const Config>()> current_config,
               std::string listen_option = "metrics.listen");
  ~HttpEndpoint();

  // /healthz answers 503 with health_check()'s text while it is not empty (a stuck handler), else
  // 200. Called on the request threads, so it must be thread-safe. Set before start().
  void set_health_check(std::function<std::string()> health_check) {
    health_check_ = std::move(health_check);
  }

  // Routes served besides the endpoint's own, installed once before start(). POST passes the
  // endpoint's rules only for a path post_allowed() accepts, with a Content-Length of at most
  // max_body bytes (no chunked body); every other method, path and body keeps the rules above.
  // post_allowed runs on the request threads, so it must be thread-safe.
  struct Routes {
    std::function<void(httplib::Server&)> install;
    std::function<bool(const std::string& path)> post_allowed;
    size_t max_body = 0;
  };
  void add_routes(Routes routes) { routes_ = std::move(routes); }

  // Binds and starts serving; an error names the address and why (in use, bad address).
  Status start();
  void stop();
  // The port actually bound (useful with port 0).
  int port() const { return port_; }

 private:
  // /metrics, /healthz and /readyz.
  void register_endpoint_routes();
  std::string render_metrics();
  // Queries queue depths; false when Redis does not answer.
  bool append_queue_depth(const Config& config, std::string* out);

  std::string listen_;
  std::string listen_option_;
  Metrics* metrics_;
  RedisEndpoint endpoint_;
  std::function<std::shared_ptr<const Config>()> current_config_;
  std::function<std::string()> health_check_;
  Routes routes_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex redis_mutex_;  // guards redis_
  std::unique_ptr<RedisConnection> redis_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_OPS_HTTP_ENDPOINT_H_
