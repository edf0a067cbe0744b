// sentinel.cc: SENTINEL get-master-addr-by-name over short-lived hiredis connections, and a
// +switch-master subscriber.
#include "redis/sentinel.h"

#include <hiredis/hiredis.h>
#include <poll.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

namespace switchyard {
namespace {

std::atomic<uint64_t> g_switches{0};

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// A connection to sentinel, authenticated when endpoint says so; nullptr with *why.
redisContext* connect_sentinel(const RedisEndpoint& endpoint, const RedisNodeAddress& sentinel,
                               std::chrono::milliseconds timeout, std::string* why) {
  redisContext* c =
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, to_timeval(timeout));
  if (c == nullptr || c->err) {
    *why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return nullptr;
  }
  redisSetTimeout(c, to_timeval(timeout));
  if (endpoint.sentinel_password.empty()) return c;
  std::vector<const char*> argv = {"AUTH"};
  std::vector<size_t> argl = {4};
  if (!endpoint.sentinel_user.empty()) {
    argv.push_back(endpoint.sentinel_user.c_str());
    argl.push_back(endpoint.sentinel_user.size());
  }
  argv.push_back(endpoint.sentinel_password.c_str());
  argl.push_back(endpoint.sentinel_password.size());
  auto* reply = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), argl.data()));
  if (reply == nullptr || reply->type == REDIS_REPLY_ERROR) {
    *why = reply ? "AUTH refused: " + std::string(reply->str, reply->len) +
                       " (check redis.sentinel.password_file and redis.sentinel.user)"
                 : std::string(c->errstr[0] ? c->errstr : "connection lost");
    if (reply) freeReplyObject(reply);
    redisFree(c);
    return nullptr;
  }
  freeReplyObject(reply);
  return c;
}

// The hint for a sentinel's error reply: one that wants a password says where to give it.
std::string error_hint(const std::string& error) {
  if (error.rfind("NOAUTH", 0) == 0)
    return " (the sentinel has requirepass: set redis.sentinel.password_file)";
  return " (is this a redis-sentinel?)";
}

// One sentinel's answer: true with *master set, or false with *why.
bool ask_one(const RedisEndpoint& endpoint, const RedisNodeAddress& sentinel,
             std::chrono::milliseconds timeout, RedisNodeAddress* master, std::string* why) {
  redisContext* c = connect_sentinel(endpoint, sentinel, timeout, why);
  if (c == nullptr) return false;
  const std::string& name = endpoint.sentinel_master;
  const char* argv[] = {"SENTINEL", "get-master-addr-by-name", name.c_str()};
  const size_t argl[] = {8, 23, name.size()};
  auto* reply = static_cast<redisReply*>(redisCommandArgv(c, 3, argv, argl));
  bool ok = false;
  if (reply == nullptr) {
    *why = c->errstr[0] ? c->errstr : "connection lost";
  } else if (reply->type == REDIS_REPLY_ERROR) {
    const std::string error(reply->str, reply->len);
    *why = error + error_hint(error);
  } else if (reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
             reply->element[0]->type == REDIS_REPLY_STRING &&
             reply->element[1]->type == REDIS_REPLY_STRING) {
    master->host.assign(reply->element[0]->str, reply->element[0]->len);
    master->port = std::atoi(reply->element[1]->str);
    ok = master->port > 0 && master->port <= 65535 && !master->host.empty();
    if (!ok) *why = "answered an address that is not host and port";
  } else {
    *why = "does not monitor a master named \"" + name + "\"";
  }
  if (reply) freeReplyObject(reply);
  redisFree(c);
  return ok;
}

}  // namespace

Status ask_sentinels_for_master(const RedisEndpoint& endpoint, RedisNodeAddress* master,
                                std::chrono::milliseconds timeout) {
  std::string tried;
  for (const RedisNodeAddress& sentinel : endpoint.discovery) {
    std::string why;
    if (ask_one(endpoint, sentinel, timeout, master, &why)) return Status::ok();
    tried += (tried.empty() ? "" : "; ") + sentinel.str() + ": " + why;
  }
  return Status::error("Redis Sentinel: no sentinel named the master \"" +
                       endpoint.sentinel_master + "\" (" + tried +
                       "); check redis.sentinel.nodes and redis.sentinel.master against the "
                       "sentinels' `sentinel monitor` lines");
}

uint64_t sentinel_switch_count() { return g_switches.load(); }

SentinelWatcher::SentinelWatcher(RedisEndpoint endpoint,
                                 std::function<void(const std::string&)> on_switch,
                                 std::function<void(const std::string&)> on_problem)
    : endpoint_(std::move(endpoint)),
      on_switch_(std::move(on_switch)),
      on_problem_(std::move(on_problem)) {
  thread_ = std::thread([this] { run(); });
}

SentinelWatcher::~SentinelWatcher() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void SentinelWatcher::run() {
  size_t next = 0;
  while (!stop_ && !endpoint_.discovery.empty()) {
    if (watch_one(endpoint_.discovery[next % endpoint_.discovery.size()])) continue;
    ++next;
    // That one is away: try the next after a second (interruptibly).
    for (int i = 0; i < 10 && !stop_; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

bool SentinelWatcher::watch_one(const RedisNodeAddress& sentinel) {
  std::string why;
  redisContext* c = connect_sentinel(endpoint_, sentinel, std::chrono::milliseconds(1000), &why);
  if (c == nullptr) return false;
  auto problem = [&](const std::string& text) {
    if (text != last_problem_ && on_problem_) on_problem_(text);
    last_problem_ = text;
  };
  void* r = redisCommand(c, "SUBSCRIBE +switch-master");
  auto* reply = static_cast<redisReply*>(r);
  const bool subscribed = reply && reply->type == REDIS_REPLY_ARRAY;
  if (!subscribed)
    problem("Redis Sentinel " + sentinel.str() + ": SUBSCRIBE +switch-master: " +
            (reply && reply->type == REDIS_REPLY_ERROR ? std::string(reply->str, reply->len)
                                                       : std::string("no answer")) +
            "; a failover is then followed at the next refused write only");
  if (reply) freeReplyObject(reply);
  if (!subscribed) {
    redisFree(c);
    return false;
  }
  last_problem_.clear();
  // Wait for messages, waking every 200 ms to see whether to stop; no read timeout applies.
  bool alive = true;
  while (!stop_ && alive) {
    void* message = nullptr;
    if (redisGetReplyFromReader(c, &message) != REDIS_OK) break;
    if (message == nullptr) {
      pollfd p{c->fd, POLLIN, 0};
      const int n = poll(&p, 1, 200);
      if (n < 0 && errno != EINTR) break;
      if (n > 0 && redisBufferRead(c) != REDIS_OK) alive = false;
      continue;
    }
    auto* m = static_cast<redisReply*>(message);
    // ["message", "+switch-master", "NAME OLDHOST OLDPORT NEWHOST NEWPORT"]
    if (m->type == REDIS_REPLY_ARRAY && m->elements == 3 &&
        m->element[2]->type == REDIS_REPLY_STRING) {
      const std::string text(m->element[2]->str, m->element[2]->len);
      if (text.rfind(endpoint_.sentinel_master + " ", 0) == 0) {
        g_switches.fetch_add(1);
        if (on_switch_) on_switch_(text);
      }
    }
    freeReplyObject(m);
  }
  redisFree(c);
  return false;
}

}  // namespace switchyard
