// http_endpoint.cc: /metrics, /healthz and /readyz over cpp-httplib.
#include "ops/http_endpoint.h"

#include <httplib.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <condition_variable>
#include <deque>
#include <sstream>
#include <vector>

#include "source/queue_depth.h"
#include "switchyard/plugin.h"

namespace switchyard {
namespace {

// Limits of the endpoint. A scrape is one small GET; anything else is refused cheaply.
constexpr size_t kThreads = 4;           // requests served at once
constexpr size_t kQueued = 16;           // accepted connections waiting for a thread
constexpr time_t kIoTimeoutSeconds = 5;  // per read or write on a connection
// One request per connection: cpp-httplib 0.11 keeps a connection open after a response even
// when the handler said "Connection: close", and would then read an unread body as the next
// request line, without bound. A scraper reconnects; loopback makes that cheap.
constexpr size_t kRequestsPerConnection = 1;

// cpp-httplib's ThreadPool queues accepted connections without limit (each holding a
// descriptor). This one makes the accepting thread wait while kQueued connections wait for a
// thread, so further clients wait in the kernel's listen backlog: at most kThreads + kQueued
// connections (plus the backlog) are ever held, whatever clients do.
class BoundedPool : public httplib::TaskQueue {
 public:
  BoundedPool(size_t threads, size_t queued) : queued_(queued) {
    for (size_t i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
  }
  ~BoundedPool() override = default;

  void enqueue(std::function<void()> fn) override {
    std::unique_lock<std::mutex> lock(mutex_);
    room_.wait(lock, [this] { return jobs_.size() < queued_ || shutdown_; });
    jobs_.push_back(std::move(fn));
    work_.notify_one();
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      shutdown_ = true;
    }
    work_.notify_all();
    room_.notify_all();
    for (auto& t : threads_) t.join();
  }

 private:
  void work() {
    while (true) {
      std::function<void()> fn;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        work_.wait(lock, [this] { return !jobs_.empty() || shutdown_; });
        if (jobs_.empty()) return;  // shut down, nothing left
        fn = std::move(jobs_.front());
        jobs_.pop_front();
        room_.notify_one();
      }
      fn();
    }
  }

  const size_t queued_;
  std::mutex mutex_;
  std::condition_variable work_;  // a job or shutdown
  std::condition_variable room_;  // the queue has room, or shutdown
  std::deque<std::function<void()>> jobs_;
  bool shutdown_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

HttpEndpoint::HttpEndpoint(std::string listen, Metrics* metrics, RedisEndpoint endpoint,
                           std::function<std::shared_ptr<const Config>()> current_config,
                           std::string listen_option)
    : listen_(std::move(listen)),
      listen_option_(std::move(listen_option)),
      metrics_(metrics),
      endpoint_(std::move(endpoint)),
      current_config_(std::move(current_config)) {}

HttpEndpoint::~HttpEndpoint() { stop(); }

Status HttpEndpoint::start() {
  std::string host;
  std::string port_text;
  const std::string what = listen_option_ + " \"" + listen_ + "\"";
  size_t colon = listen_.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return Status::error(what +
                         ": expected host:port, e.g. 127.0.0.1:9464 (port 0: any free port)");
  }
  host = listen_.substr(0, colon);
  port_text = listen_.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  const bool digits = !port_text.empty() && port_text.size() <= 5 &&
                      port_text.find_first_not_of("0123456789") == std::string::npos;
  const int port = digits ? std::stoi(port_text) : -1;
  if (port < 0 || port > 65535) {
    return Status::error(what + ": the port must be a number 0..65535 (0: any free port)");
  }
  redis_ = std::make_unique<RedisConnection>(endpoint_, "switchyard:metrics",
                                             std::chrono::milliseconds(2000));
  server_ = std::make_unique<httplib::Server>();
  server_->new_task_queue = [] { return new BoundedPool(kThreads, kQueued); };
  // SO_REUSEADDR only (a restart binds through TIME_WAIT): cpp-httplib's default adds
  // SO_REUSEPORT, with which a second process binds the same port and the kernel splits the
  // requests between the two, instead of the second being told the address is in use.
  server_->set_socket_options([](int sock) {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof(yes));
  });
  server_->set_read_timeout(kIoTimeoutSeconds, 0);
  server_->set_write_timeout(kIoTimeoutSeconds, 0);
  server_->set_keep_alive_max_count(kRequestsPerConnection);
  server_->set_payload_max_length(routes_.post_allowed ? routes_.max_body : 0);
  // Runs after the request line and headers, before cpp-httplib would read a body: only GET and
  // HEAD without a body pass, and POST with a small Content-Length body on the paths the added
  // routes allow. The connection then closes (one request per connection), so an unread body is
  // never read.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    // Ranges are not served: cpp-httplib would repeat the body once per range of a multi-range
    // request (thousands fit in one header). The answer has no body, so there is nothing to
    // repeat (cpp-httplib applies the ranges to any response it writes).
    if (req.has_header("Range")) {
      res.status = 416;
      res.set_header("Connection", "close");
      return httplib::Server::HandlerResponse::Handled;
    }
    const bool has_body =
        req.has_header("Transfer-Encoding") ||
        (req.has_header("Content-Length") && req.get_header_value("Content-Length") != "0");
    const bool post =
        req.method == "POST" && routes_.post_allowed && routes_.post_allowed(req.path);
    if (post) {
      const std::string length = req.get_header_value("Content-Length");
      const bool small = !req.has_header("Transfer-Encoding") && !length.empty() &&
                         length.size() <= 9 &&
                         length.find_first_not_of("0123456789") == std::string::npos &&
                         std::stoul(length) <= routes_.max_body;
      if (small) return httplib::Server::HandlerResponse::Unhandled;
      res.status = 413;
    } else if (req.method != "GET" && req.method != "HEAD") {
      res.status = 405;
      res.set_header("Allow", "GET, HEAD");
    } else if (has_body) {
      res.status = 413;
    } else {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    res.set_header("Connection", "close");
    res.set_content(res.status == 405 ? "only GET and HEAD are served\n"
                    : post            ? "a POST body must have a Content-Length of at most " +
                                 std::to_string(routes_.max_body) + " bytes\n"
                           : "a request body is not accepted\n",
                    "text/plain");
    return httplib::Server::HandlerResponse::Handled;
  });
  if (routes_.install) routes_.install(*server_);
  if (metrics_) register_endpoint_routes();
  if (port == 0) {
    port_ = server_->bind_to_any_port(host);
    if (port_ < 0)
      return Status::error(what +
                           ": cannot bind (not an address of this host); give one of its "
                           "addresses, e.g. 127.0.0.1");
  } else {
    if (!server_->bind_to_port(host, port)) {
      return Status::error(what +
                           ": cannot bind (address in use, or not an address of this host); "
                           "give a free port of an address of this host");
    }
    port_ = port;
  }
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  spdlog::info("serving {}{} on {}:{}", metrics_ ? "/metrics, /healthz, /readyz" : "",
               routes_.install ? (metrics_ ? " and /ui/" : "/ui/") : "", host, port_);
  return Status::ok();
}

void HttpEndpoint::register_endpoint_routes() {
  server_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(render_metrics(), "text/plain; version=0.0.4; charset=utf-8");
  });
  server_->Get("/healthz", [this](const httplib::Request&, httplib::Response& res) {
    const std::string unhealthy = health_check_ ? health_check_() : std::string();
    if (unhealthy.empty()) {
      res.set_content("ok\n", "text/plain");
      return;
    }
    res.status = 503;
    res.set_content("unhealthy: " + unhealthy + "\n", "text/plain");
  });
  server_->Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
    bool config_loaded = current_config_() != nullptr;
    bool redis_ok = false;
    {
      std::lock_guard<std::mutex> lock(redis_mutex_);
      if (!redis_->connected()) redis_->connect();
      Reply reply;
      redis_ok = redis_->connected() && redis_->command({"PING"}, &reply) &&
                 reply->type == REDIS_REPLY_STATUS;
    }
    if (config_loaded && redis_ok) {
      res.set_content("ready\n", "text/plain");
    } else {
      res.status = 503;
      res.set_content(std::string("not ready:") + (redis_ok ? "" : " redis unreachable") +
                          (config_loaded ? "" : " no config") + "\n",
                      "text/plain");
    }
  });
}

void HttpEndpoint::stop() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

bool HttpEndpoint::append_queue_depth(const Config& config, std::string* out) {
  std::lock_guard<std::mutex> lock(redis_mutex_);
  if (!redis_->connected() && !redis_->connect()) return false;
  std::ostringstream text;
  text << "# HELP switchyard_queue_depth Messages per source and state.\n"
          "# TYPE switchyard_queue_depth gauge\n";
  for (const SourceConfig& source : config.sources) {
    QueueDepth depth;
    if (!read_queue_depth(*redis_, source, &depth)) return false;
    const long long pending = depth.pending, inflight = depth.inflight, retry = depth.retry,
                    dead = depth.dead;
    std::string label = Metrics::escape_label(source.name);
    text << "switchyard_queue_depth{source=\"" << label << "\",state=\"pending\"} " << pending
         << "\n"
         << "switchyard_queue_depth{source=\"" << label << "\",state=\"inflight\"} " << inflight
         << "\n"
         << "switchyard_queue_depth{source=\"" << label << "\",state=\"retry\"} " << retry << "\n"
         << "switchyard_queue_depth{source=\"" << label << "\",state=\"dead\"} " << dead << "\n";
  }
  *out += text.str();
  return true;
}

std::string HttpEndpoint::render_metrics() {
  std::string out = metrics_->render();
  std::shared_ptr<const Config> config = current_config_();
  bool redis_up = config && append_queue_depth(*config, &out);
  out +=
      "# HELP switchyard_redis_up Whether Redis answered this scrape.\n"
      "# TYPE switchyard_redis_up gauge\n"
      "switchyard_redis_up " +
      std::string(redis_up ? "1" : "0") + "\n";
  out +=
      "# HELP switchyard_build_info Version and plugin ABI of this binary.\n"
      "# TYPE switchyard_build_info gauge\n"
      "switchyard_build_info{version=\"" SWITCHYARD_VERSION_STRING "\",abi=\"" +
      std::to_string(SWITCHYARD_ABI_VERSION) + "\"} 1\n";
  return out;
}

}  // namespace switchyard
