// sentinel.cc: SENTINEL get-master-addr-by-name over short-lived hiredis connections.
#include "redis/sentinel.h"

#include <hiredis/hiredis.h>

#include <cstdlib>
#include <string>

namespace switchyard {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

// One sentinel's answer: true with *master set, or false with *why.
bool ask_one(const RedisNodeAddress& sentinel, const std::string& name,
             std::chrono::milliseconds timeout, RedisNodeAddress* master, std::string* why) {
  redisContext* c =
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, to_timeval(timeout));
  if (c == nullptr || c->err) {
    *why = c ? c->errstr : "out of memory";
    if (c) redisFree(c);
    return false;
  }
  redisSetTimeout(c, to_timeval(timeout));
  const char* argv[] = {"SENTINEL", "get-master-addr-by-name", name.c_str()};
  const size_t argl[] = {8, 23, name.size()};
  auto* reply = static_cast<redisReply*>(redisCommandArgv(c, 3, argv, argl));
  bool ok = false;
  if (reply == nullptr) {
    *why = c->errstr[0] ? c->errstr : "connection lost";
  } else if (reply->type == REDIS_REPLY_ERROR) {
    *why = std::string(reply->str, reply->len) + " (is this a redis-sentinel?)";
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
    if (ask_one(sentinel, endpoint.sentinel_master, timeout, master, &why)) return Status::ok();
    tried += (tried.empty() ? "" : "; ") + sentinel.str() + ": " + why;
  }
  return Status::error("Redis Sentinel: no sentinel named the master \"" +
                       endpoint.sentinel_master + "\" (" + tried +
                       "); check redis.sentinel.nodes and redis.sentinel.master against the "
                       "sentinels' `sentinel monitor` lines");
}

}  // namespace switchyard
