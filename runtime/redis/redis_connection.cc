// redis_connection.cc: hiredis connection handling: connect, handshake, commands, scripts.
#include "redis/redis_connection.h"

#include <cstdio>
#include <cstring>

namespace switchyard {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

}  // namespace

const char* reply_type_name(const redisReply* reply) {
  if (reply == nullptr) return "no reply";
  switch (reply->type) {
    case REDIS_REPLY_STRING:
      return "string";
    case REDIS_REPLY_ARRAY:
      return "array";
    case REDIS_REPLY_INTEGER:
      return "integer";
    case REDIS_REPLY_NIL:
      return "nil";
    case REDIS_REPLY_STATUS:
      return "status";
    case REDIS_REPLY_ERROR:
      return "error";
    default:
      return "unknown";
  }
}

RedisConnection::RedisConnection(RedisEndpoint endpoint, std::string client_name,
                                 std::chrono::milliseconds io_timeout)
    : endpoint_(std::move(endpoint)),
      client_name_(std::move(client_name)),
      io_timeout_(io_timeout) {}

RedisConnection::~RedisConnection() { disconnect(); }

void RedisConnection::disconnect() {
  if (context_) redisFree(context_);
  context_ = nullptr;
  script_sha1_.clear();
}

Status RedisConnection::io_error(const char* what) {
  std::string detail = context_ && context_->errstr[0] ? context_->errstr : "connection lost";
  disconnect();
  return Status::error("Redis " + endpoint_.redacted() + ": " + what + ": " + detail);
}

Status RedisConnection::connect() {
  disconnect();
  auth_error_ = false;
  const timeval connect_timeout = to_timeval(std::chrono::milliseconds(3000));
  redisContext* c =
      endpoint_.is_unix
          ? redisConnectUnixWithTimeout(endpoint_.socket_path.c_str(), connect_timeout)
          : redisConnectWithTimeout(endpoint_.host.c_str(), endpoint_.port, connect_timeout);
  if (c == nullptr) return Status::error("Redis " + endpoint_.redacted() + ": out of memory");
  if (c->err) {
    std::string detail = c->errstr;
    redisFree(c);
    return Status::error("Redis " + endpoint_.redacted() + ": cannot connect: " + detail +
                         " (is redis-server running there? set redis.url or --redis)");
  }
  redisSetTimeout(c, to_timeval(io_timeout_));
  if (!endpoint_.is_unix) redisEnableKeepAlive(c);  // TCP only: fails on unix sockets
  context_ = c;

  Reply reply;
  if (!endpoint_.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
    auth.push_back(endpoint_.password);
    Status s = command(auth, &reply);
    if (!s) return s;
    if (reply->type == REDIS_REPLY_ERROR) {
      std::string detail(reply->str, reply->len);
      disconnect();
      auth_error_ = true;
      return Status::error("Redis " + endpoint_.redacted() + ": authentication failed: " + detail +
                           " (check redis.password_file or $SWITCHYARD_REDIS_PASSWORD and the "
                           "user name)");
    }
  }
  if (endpoint_.db != 0) {
    std::string db = std::to_string(endpoint_.db);
    Status s = command_ok({"SELECT", db}, &reply);
    if (!s) {
      disconnect();
      return s;
    }
  }
  if (!client_name_.empty()) {
    Status s = command(std::vector<std::string_view>{"CLIENT", "SETNAME", client_name_}, &reply);
    if (!s) return s;
  }
  return Status::ok();
}

Status RedisConnection::command(const std::vector<std::string_view>& argv, Reply* reply) {
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  argv_buffer_.clear();
  argl_buffer_.clear();
  for (auto a : argv) {
    argv_buffer_.push_back(a.data());
    argl_buffer_.push_back(a.size());
  }
  void* r = redisCommandArgv(context_, static_cast<int>(argv.size()), argv_buffer_.data(),
                             argl_buffer_.data());
  if (r == nullptr || context_->err) {
    if (r) freeReplyObject(r);
    return io_error(argv.empty() ? "command" : std::string(argv[0]).c_str());
  }
  reply->reset(static_cast<redisReply*>(r));
  return Status::ok();
}

Status RedisConnection::command_ok(const std::vector<std::string_view>& argv, Reply* reply) {
  Status s = command(argv, reply);
  if (!s) return s;
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    return Status::error("Redis " + endpoint_.redacted() + ": " + std::string(argv[0]) +
                         " failed: " + std::string((*reply)->str, (*reply)->len));
  }
  return Status::ok();
}

Status RedisConnection::append(const std::vector<std::string_view>& argv) {
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  argv_buffer_.clear();
  argl_buffer_.clear();
  for (auto a : argv) {
    argv_buffer_.push_back(a.data());
    argl_buffer_.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv_buffer_.data(),
                             argl_buffer_.data()) != REDIS_OK) {
    return io_error("pipeline");
  }
  return Status::ok();
}

Status RedisConnection::read_reply(Reply* reply) {
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  void* r = nullptr;
  if (redisGetReply(context_, &r) != REDIS_OK || r == nullptr) {
    if (r) freeReplyObject(r);
    return io_error("reading a reply");
  }
  reply->reset(static_cast<redisReply*>(r));
  return Status::ok();
}

Status RedisConnection::eval(const RedisScript& script, const std::vector<std::string_view>& keys,
                             const std::vector<std::string_view>& args, Reply* reply) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto known = script_sha1_.find(&script);
    if (known == script_sha1_.end()) {
      Status s = command_ok({"SCRIPT", "LOAD", script.source()}, reply);
      if (!s) return s;
      known = script_sha1_.emplace(&script, std::string((*reply)->str, (*reply)->len)).first;
    }
    std::string numkeys = std::to_string(keys.size());
    std::vector<std::string_view> argv;
    argv.reserve(3 + keys.size() + args.size());
    argv.push_back("EVALSHA");
    argv.push_back(known->second);
    argv.push_back(numkeys);
    argv.insert(argv.end(), keys.begin(), keys.end());
    argv.insert(argv.end(), args.begin(), args.end());
    Status s = command(argv, reply);
    if (!s) return s;
    if ((*reply)->type == REDIS_REPLY_ERROR && strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
      script_sha1_.erase(&script);  // Redis restarted: load it again and retry once
      continue;
    }
    if ((*reply)->type == REDIS_REPLY_ERROR) {
      return Status::error("Redis " + endpoint_.redacted() +
                           ": script failed: " + std::string((*reply)->str, (*reply)->len));
    }
    return Status::ok();
  }
  return Status::error("Redis " + endpoint_.redacted() + ": script keeps answering NOSCRIPT");
}

}  // namespace switchyard
