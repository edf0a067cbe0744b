// redis_connection.cc: hiredis connection handling: connect, handshake, commands, scripts.
#include "redis/redis_connection.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <thread>

#include "redis/crc16.h"
#include "redis/sentinel.h"

namespace switchyard {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv;
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

bool starts_with(const redisReply* reply, std::string_view prefix) {
  return reply->type == REDIS_REPLY_ERROR && reply->len >= prefix.size() &&
         std::string_view(reply->str, prefix.size()) == prefix;
}

// What an operator checks when a node cannot be reached.
const char* where_configured(RedisMode mode) {
  switch (mode) {
    case RedisMode::kCluster:
      return " (is the cluster up? check redis.cluster)";
    case RedisMode::kSentinel:
      return " (the sentinels named it master: is it up? check redis.sentinel)";
    case RedisMode::kSingle:
      break;
  }
  return " (is redis-server running there? set redis.url or --redis)";
}

}  // namespace

const char* redis_refusal_advice(std::string_view error) {
  static const std::pair<std::string_view, const char*> kAdvice[] = {
      {"OOM",
       "Redis is at maxmemory and may not evict (maxmemory-policy noeviction): raise it "
       "(CONFIG SET maxmemory) or free memory (trim dead letters, the archive, other "
       "keys); writes resume by themselves"},
      {"MISCONF",
       "Redis cannot save its snapshot, so it refuses writes "
       "(stop-writes-on-bgsave-error): look at its log and free disk space"},
      {"READONLY",
       "this Redis is a read-only replica: point redis.url at the master, or use "
       "redis.sentinel to follow failovers"},
      {"NOREPLICAS",
       "fewer replicas than min-replicas-to-write are in sync: look at the "
       "replicas"},
      {"MASTERDOWN",
       "this replica lost its master (replica-serve-stale-data no): look at the "
       "master, or point redis.url at it"},
      {"BUSY", "a script runs past busy-reply-threshold: wait for it, or SCRIPT KILL it"},
      {"LOADING", "Redis is loading its data set into memory: it answers once loaded"},
      {"NOPERM",
       "the ACL user may not run this command or touch this key: grant it (ACL "
       "SETUSER) or use another user"},
  };
  for (const auto& [code, advice] : kAdvice) {
    // At the start of the reply, or quoted in a message after ": " (the form this file writes).
    for (size_t at = 0; (at = error.find(code, at)) != std::string_view::npos; at += code.size()) {
      const bool starts = at == 0 || (at >= 2 && error.substr(at - 2, 2) == ": ");
      const bool ends = at + code.size() == error.size() || error[at + code.size()] == ' ';
      if (starts && ends) return advice;
    }
  }
  return nullptr;
}

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
  for (auto& node : nodes_)
    if (node.second != context_) redisFree(node.second);
  nodes_.clear();
  if (context_) redisFree(context_);
  context_ = nullptr;
  pending_ = 0;
  early_.clear();
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
  switch (endpoint_.mode) {
    case RedisMode::kCluster:
      return connect_cluster();
    case RedisMode::kSentinel:
      return connect_sentinel();
    case RedisMode::kSingle:
      break;
  }
  return open_context();
}

Status RedisConnection::connect_cluster() {
  std::vector<RedisNodeAddress> candidates = slots_.nodes();
  for (const RedisNodeAddress& seed : endpoint_.discovery)
    if (std::none_of(candidates.begin(), candidates.end(), [&](const RedisNodeAddress& n) {
          return n.host == seed.host && n.port == seed.port;
        }))
      candidates.push_back(seed);
  std::string tried;
  for (const RedisNodeAddress& node : candidates) {
    disconnect();
    endpoint_.host = node.host;
    endpoint_.port = node.port;
    Status s = open_context();
    if (s) s = refresh_slots();
    // Connected means connected to where the commands go: the node of the last key used, so
    // that a master that is down (until its replica is promoted) keeps this connection down.
    const RedisNodeAddress* home = s ? slots_.owner(home_slot_) : nullptr;
    if (home) {
      const RedisNodeAddress node = *home;
      return use_node(node);
    }
    if (s || auth_error_) return s;
    tried += "\n  " + s.message();
  }
  disconnect();
  return Status::error(
      "Redis Cluster: no node answered CLUSTER SLOTS; check redis.cluster (the seed nodes) and "
      "that the nodes run with cluster-enabled yes:" +
      tried);
}

Status RedisConnection::connect_sentinel() {
  switches_ = sentinel_switch_count();  // before asking: a switch heard meanwhile asks again
  RedisNodeAddress master;
  Status s = ask_sentinels_for_master(endpoint_, &master);
  if (!s) return s;
  endpoint_.host = master.host;
  endpoint_.port = master.port;
  s = open_context();
  if (!s) return s;
  Reply role;
  s = send({"ROLE"}, &role);
  if (!s) return s;
  if (role->type != REDIS_REPLY_ARRAY || role->elements == 0 ||
      role->element[0]->type != REDIS_REPLY_STRING ||
      std::string_view(role->element[0]->str, role->element[0]->len) != "master") {
    std::string what = role->type == REDIS_REPLY_ARRAY && role->elements > 0 &&
                               role->element[0]->type == REDIS_REPLY_STRING
                           ? std::string(role->element[0]->str, role->element[0]->len)
                           : reply_type_name(role.get());
    disconnect();
    return Status::error("Redis " + endpoint_.redacted() +
                         ": the sentinels name it the master of " + endpoint_.sentinel_master +
                         " but its ROLE is " + what + " (a failover is under way; retrying)");
  }
  return Status::ok();
}

Status RedisConnection::open_context() {
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
                         where_configured(endpoint_.mode));
  }
  use_reply_arena(c->reader);
  redisSetTimeout(c, to_timeval(io_timeout_));
  if (!endpoint_.is_unix) redisEnableKeepAlive(c);  // TCP only: fails on unix sockets
  context_ = c;
  if (endpoint_.mode == RedisMode::kCluster)
    nodes_.emplace_back(endpoint_.host + ":" + std::to_string(endpoint_.port), c);

  Reply reply;
  if (!endpoint_.password.empty()) {
    std::vector<std::string_view> auth = {"AUTH"};
    if (!endpoint_.user.empty()) auth.push_back(endpoint_.user);
    auth.push_back(endpoint_.password);
    Status s = send(auth, &reply);
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
    Status s = send({"SELECT", db}, &reply);
    if (s && reply->type == REDIS_REPLY_ERROR)
      s = Status::error("Redis " + endpoint_.redacted() +
                        ": SELECT failed: " + std::string(reply->str, reply->len));
    if (!s) {
      disconnect();
      return s;
    }
  }
  if (!client_name_.empty()) {
    Status s = send(std::vector<std::string_view>{"CLIENT", "SETNAME", client_name_}, &reply);
    if (!s) return s;
  }
  return Status::ok();
}

Status RedisConnection::use_node(const RedisNodeAddress& node) {
  const std::string name = node.host + ":" + std::to_string(node.port);
  if (context_ && endpoint_.host == node.host && endpoint_.port == node.port) return Status::ok();
  for (const auto& open : nodes_) {
    if (open.first != name) continue;
    context_ = open.second;
    endpoint_.host = node.host;
    endpoint_.port = node.port;
    return Status::ok();
  }
  context_ = nullptr;  // still in nodes_: disconnect() frees it
  endpoint_.host = node.host;
  endpoint_.port = node.port;
  Status s = open_context();
  if (!s) disconnect();  // the caller reconnects, which reloads the slot map
  return s;
}

Status RedisConnection::route(std::string_view key) {
  home_slot_ = cluster_key_slot(key);
  const RedisNodeAddress* owner = slots_.owner(home_slot_);
  if (owner == nullptr) return Status::ok();  // unknown: the node in use answers or redirects
  const RedisNodeAddress node = *owner;
  return use_node(node);
}

Status RedisConnection::refresh_slots() {
  Reply reply;
  Status s = send({"CLUSTER", "SLOTS"}, &reply);
  if (!s) return s;
  std::string error;
  if (reply->type == REDIS_REPLY_ERROR)
    error = std::string(reply->str, reply->len) + " (is cluster-enabled yes set on this node?)";
  else if (slots_.load(reply.get(), {endpoint_.host, endpoint_.port}, &error))
    return Status::ok();
  return Status::error("Redis " + endpoint_.redacted() + ": CLUSTER SLOTS: " + error);
}

Status RedisConnection::follow_cluster(const std::vector<std::string_view>& argv, Reply* reply) {
  std::chrono::milliseconds pause(50);
  for (int attempt = 0; attempt < 8; ++attempt) {
    const redisReply* r = reply->get();
    ClusterRedirect redirect;
    Status s;
    if (parse_cluster_redirect(std::string_view(r->str, r->len), &redirect)) {
      if (!redirect.ask) slots_.set_owner(redirect.slot, redirect.node);
      s = use_node(redirect.node);
      if (s && !redirect.ask) s = refresh_slots();  // a slot moved: others may have too
      if (s && redirect.ask) {
        Reply asking;
        s = send({"ASKING"}, &asking);
      }
    } else if (starts_with(r, "CLUSTERDOWN") || starts_with(r, "TRYAGAIN")) {
      // A failover or a multi-key command during a migration: wait, then ask again.
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::milliseconds(1000));
      s = refresh_slots();
      const int k = command_key_index(argv);
      if (s && k >= 0) s = route(argv[static_cast<size_t>(k)]);
    } else {
      return Status::ok();  // an error reply for the caller to judge
    }
    if (!s) return s;
    s = send(argv, reply);
    if (!s || (*reply)->type != REDIS_REPLY_ERROR) return s;
  }
  return Status::ok();
}

Status RedisConnection::refused(const std::string& what, const redisReply* reply) const {
  const std::string error(reply->str, reply->len);
  const char* advice = redis_refusal_advice(error);
  return Status::error("Redis " + endpoint_.redacted() + ": " + what + " failed: " + error +
                       (advice ? std::string("; ") + advice : std::string()));
}

Status RedisConnection::check_master_switch() {
  if (endpoint_.mode != RedisMode::kSentinel || !context_ || pending_ > 0 ||
      switches_ == sentinel_switch_count())
    return Status::ok();
  const std::string node = endpoint_.redacted();
  disconnect();
  return Status::error("Redis " + node + ": the sentinels announced a new master of " +
                       endpoint_.sentinel_master +
                       " (+switch-master); reconnecting to the master they name");
}

Status RedisConnection::command(const std::vector<std::string_view>& argv, Reply* reply) {
  if (Status s = check_master_switch(); !s) return s;
  if (endpoint_.mode == RedisMode::kCluster && context_ && pending_ == 0) {
    const int k = command_key_index(argv);
    if (k >= 0) {
      Status s = route(argv[static_cast<size_t>(k)]);
      if (!s) return s;
    }
  }
  Status s = send(argv, reply);
  if (!s || (*reply)->type != REDIS_REPLY_ERROR) return s;
  if (endpoint_.mode == RedisMode::kCluster) return follow_cluster(argv, reply);
  if (endpoint_.mode == RedisMode::kSentinel && starts_with(reply->get(), "READONLY")) {
    const std::string node = endpoint_.redacted();
    disconnect();
    return Status::error("Redis " + node +
                         " is a replica now (a failover happened); reconnecting to the master the "
                         "sentinels name");
  }
  return s;
}

// EVALSHA sha numkeys keys... args... (views into the arguments).
std::vector<std::string_view> RedisConnection::evalsha_argv(
    std::string_view sha, std::string_view numkeys, const std::vector<std::string_view>& keys,
    const std::vector<std::string_view>& args) {
  std::vector<std::string_view> argv;
  argv.reserve(3 + keys.size() + args.size());
  argv.push_back("EVALSHA");
  argv.push_back(sha);
  argv.push_back(numkeys);
  argv.insert(argv.end(), keys.begin(), keys.end());
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Status RedisConnection::keep_outstanding() {
  while (pending_ > 0) {
    void* early = nullptr;
    if (redisGetReply(context_, &early) != REDIS_OK || early == nullptr) {
      free_arena_reply(static_cast<redisReply*>(early));
      return io_error("reading a reply");
    }
    --pending_;
    early_.emplace_back(static_cast<redisReply*>(early));
  }
  return Status::ok();
}

Status RedisConnection::commands(const std::vector<std::vector<std::string_view>>& argvs,
                                 std::vector<Reply>* replies) {
  replies->clear();
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  // Replies of earlier appends come first on the socket: keep them for read_reply().
  if (Status s = keep_outstanding(); !s) return s;
  for (const auto& argv : argvs) {
    if (Status s = append(argv); !s) return s;
  }
  for (size_t i = 0; i < argvs.size(); ++i) {
    void* r = nullptr;
    if (redisGetReply(context_, &r) != REDIS_OK || r == nullptr) {
      free_arena_reply(static_cast<redisReply*>(r));
      return io_error("reading a reply");
    }
    --pending_;
    replies->emplace_back(static_cast<redisReply*>(r));
  }
  return Status::ok();
}

Status RedisConnection::send(const std::vector<std::string_view>& argv, Reply* reply) {
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  // Replies of flushed commands come first on the socket: keep them for read_reply().
  if (Status s = keep_outstanding(); !s) return s;
  argv_buffer_.clear();
  argl_buffer_.clear();
  for (auto a : argv) {
    argv_buffer_.push_back(a.data());
    argl_buffer_.push_back(a.size());
  }
  void* r = redisCommandArgv(context_, static_cast<int>(argv.size()), argv_buffer_.data(),
                             argl_buffer_.data());
  if (r == nullptr || context_->err) {
    free_arena_reply(static_cast<redisReply*>(r));
    return io_error(argv.empty() ? "command" : std::string(argv[0]).c_str());
  }
  reply->reset(static_cast<redisReply*>(r));
  return Status::ok();
}

Status RedisConnection::command_ok(const std::vector<std::string_view>& argv, Reply* reply) {
  Status s = command(argv, reply);
  if (!s) return s;
  if ((*reply)->type == REDIS_REPLY_ERROR) {
    const int k = command_key_index(argv);
    return refused(
        std::string(argv[0]) + (k >= 0 ? " " + std::string(argv[static_cast<size_t>(k)]) : ""),
        reply->get());
  }
  return Status::ok();
}

Status RedisConnection::append(const std::vector<std::string_view>& argv) {
  if (Status s = check_master_switch(); !s) return s;
  if (endpoint_.mode == RedisMode::kCluster && context_ && pending_ == 0) {
    const int k = command_key_index(argv);
    if (k >= 0) {
      Status s = route(argv[static_cast<size_t>(k)]);
      if (!s) return s;
    }
  }
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
  ++pending_;
  return Status::ok();
}

Status RedisConnection::flush() {
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  int done = 0;
  while (!done) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) return io_error("pipeline");
  }
  return Status::ok();
}

Status RedisConnection::append_eval(const RedisScript& script,
                                    const std::vector<std::string_view>& keys,
                                    const std::vector<std::string_view>& args) {
  if (endpoint_.mode == RedisMode::kCluster && context_ && !keys.empty() && pending_ == 0) {
    Status s = route(keys[0]);
    if (!s) return s;
  }
  auto known = script_sha1_.find(&script);
  if (known == script_sha1_.end()) {
    Reply loaded;
    Status s = command_ok({"SCRIPT", "LOAD", script.source()}, &loaded);
    if (!s) return s;
    known = script_sha1_.emplace(&script, std::string(loaded->str, loaded->len)).first;
  }
  const std::string numkeys = std::to_string(keys.size());
  return append(evalsha_argv(known->second, numkeys, keys, args));
}

Status RedisConnection::read_reply(Reply* reply) {
  if (!early_.empty()) {
    *reply = std::move(early_.front());
    early_.pop_front();
    return Status::ok();
  }
  if (!context_) return Status::error("Redis " + endpoint_.redacted() + ": not connected");
  void* r = nullptr;
  if (redisGetReply(context_, &r) != REDIS_OK || r == nullptr) {
    free_arena_reply(static_cast<redisReply*>(r));
    return io_error("reading a reply");
  }
  if (pending_ > 0) --pending_;
  reply->reset(static_cast<redisReply*>(r));
  return Status::ok();
}

Status RedisConnection::eval(const RedisScript& script, const std::vector<std::string_view>& keys,
                             const std::vector<std::string_view>& args, Reply* reply) {
  if (endpoint_.mode == RedisMode::kCluster && context_ && !keys.empty()) {
    Status s = route(keys[0]);  // load the script where it will run
    if (!s) return s;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto known = script_sha1_.find(&script);
    if (known == script_sha1_.end()) {
      Status s = command_ok({"SCRIPT", "LOAD", script.source()}, reply);
      if (!s) return s;
      known = script_sha1_.emplace(&script, std::string((*reply)->str, (*reply)->len)).first;
    }
    const std::string numkeys = std::to_string(keys.size());
    Status s = command(evalsha_argv(known->second, numkeys, keys, args), reply);
    if (!s) return s;
    if ((*reply)->type == REDIS_REPLY_ERROR && strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
      script_sha1_.erase(&script);  // Redis restarted: load it again and retry once
      continue;
    }
    if ((*reply)->type == REDIS_REPLY_ERROR)
      return refused(keys.empty() ? "script" : "script on " + std::string(keys[0]), reply->get());
    return Status::ok();
  }
  return Status::error("Redis " + endpoint_.redacted() + ": script keeps answering NOSCRIPT");
}

}  // namespace switchyard
