// redis_connection.h: one hiredis connection (RAII) with handshake, scripts and reply ownership.
// Thread safety: not thread-safe; one connection per thread (hiredis contexts are not shareable).
#ifndef SWITCHYARD_REDIS_REDIS_CONNECTION_H_
#define SWITCHYARD_REDIS_REDIS_CONNECTION_H_

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "redis/cluster_router.h"
#include "redis/redis_url.h"
#include "redis/reply_arena.h"
#include "util/status.h"

namespace switchyard {

struct ReplyDeleter {
  void operator()(redisReply* r) const { free_arena_reply(r); }
};
// An owned top-level reply, built in its own arena (reply_arena.h): sub-elements and strings are
// views into it, valid until it is freed, whatever happens to the connection meanwhile.
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

// A Lua script. Each connection loads it once (SCRIPT LOAD) and then runs it by EVALSHA,
// loading it again after NOSCRIPT (a restarted Redis forgets loaded scripts).
// Thread safety: immutable; share freely.
class RedisScript {
 public:
  explicit RedisScript(std::string source) : source_(std::move(source)) {}
  const std::string& source() const { return source_; }

 private:
  std::string source_;
};

// In cluster mode (endpoint.mode kCluster) a connection holds one hiredis context per node it
// has used: each command goes to the node serving its key's slot (command_key_index), keyless
// commands to the node in use; -MOVED and -ASK are followed, CLUSTERDOWN and TRYAGAIN retried
// with a bounded backoff (about 5 s in all). In sentinel mode it connects to the master the
// sentinels name, checked with ROLE; a +switch-master heard since (sentinel_switch_count(), see
// SentinelWatcher) or a READONLY reply (the master was demoted) drops the connection, so the next
// connect() asks the sentinels again.
class RedisConnection {
 public:
  // Does not connect. client_name is set with CLIENT SETNAME (visible in CLIENT LIST).
  // io_timeout bounds every read and write; it must exceed any blocking command's timeout.
  RedisConnection(RedisEndpoint endpoint, std::string client_name,
                  std::chrono::milliseconds io_timeout = std::chrono::milliseconds(10000));
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // Connects and runs the handshake (AUTH [user] password, SELECT db, CLIENT SETNAME). An error
  // names the redacted address and what to do; a wrong password is reported as such
  // (is_auth_error() then returns true: retrying will not help). Cluster: loads the slot map from
  // the first node (of the last map, then the seeds) that answers CLUSTER SLOTS, then connects
  // to the master of the last key used, if any (an error while it is down). Sentinel: asks the
  // sentinels for the master and checks with ROLE that it is one.
  Status connect();
  bool connected() const { return context_ != nullptr; }
  // Frees the context(s); the next command fails until connect() succeeds again.
  void disconnect();
  // The endpoint; in cluster and sentinel mode host and port name the node in use.
  const RedisEndpoint& endpoint() const { return endpoint_; }
  bool last_error_was_auth() const { return auth_error_; }

  // Runs one command (binary-safe arguments). On an I/O error the connection is dropped (call
  // connect() again) and an error status is returned; an error *reply* is returned as a reply of
  // type REDIS_REPLY_ERROR with an ok status, for the caller to judge.
  Status command(const std::vector<std::string_view>& argv, Reply* reply);
  // Same, but an error reply is turned into an error status naming the command.
  Status command_ok(const std::vector<std::string_view>& argv, Reply* reply);

  // Pipelining: append commands, then read one reply per appended command in order. Cluster: a
  // pipeline runs on the node of its first command's key; redirects in its replies are not
  // followed (the caller sees the error reply), so a pipeline must stay within one hash tag.
  Status append(const std::vector<std::string_view>& argv);
  Status read_reply(Reply* reply);
  // Writes the appended commands to Redis now, without reading their replies: Redis works on
  // them while the caller does something else, then read_reply() collects them. A command()
  // or eval() run meanwhile first reads the replies outstanding and keeps them, in order, for
  // read_reply(). An I/O error drops the connection (and every outstanding reply).
  Status flush();
  // Appends EVALSHA script (loading it first, synchronously, when this connection has not);
  // its reply is read with read_reply(). A NOSCRIPT reply means it did not run.
  Status append_eval(const RedisScript& script, const std::vector<std::string_view>& keys,
                     const std::vector<std::string_view>& args);
  // Runs argvs as one pipeline (one round trip) and returns their replies, in order, in
  // *replies; error replies come back as replies, as with command(). Safe while replies of
  // earlier appends are outstanding (a take ahead): those are kept for read_reply(), and
  // *replies holds only these commands' replies. Cluster: as append().
  Status commands(const std::vector<std::vector<std::string_view>>& argvs,
                  std::vector<Reply>* replies);
  // Replies appended (and flushed or not) and not yet read by read_reply().
  int outstanding() const { return pending_ + static_cast<int>(early_.size()); }

  // EVALSHA script with keys and args; loads the script and retries once on NOSCRIPT. An error
  // reply becomes an error status.
  Status eval(const RedisScript& script, const std::vector<std::string_view>& keys,
              const std::vector<std::string_view>& args, Reply* reply);

 private:
  Status io_error(const char* what);
  Status open_context();  // connects to endpoint_.host/port (or socket) and runs the handshake
  Status connect_cluster();
  Status connect_sentinel();
  Status send(const std::vector<std::string_view>& argv, Reply* reply);  // no routing
  // Reads the replies of appended commands still on the socket into early_ (for read_reply()).
  Status keep_outstanding();
  // EVALSHA sha numkeys keys... args...: views into the arguments, valid while they are.
  static std::vector<std::string_view> evalsha_argv(std::string_view sha, std::string_view numkeys,
                                                    const std::vector<std::string_view>& keys,
                                                    const std::vector<std::string_view>& args);
  // The error status for an error reply to what ("EVALSHA KEY", "script on KEY"): the reply, and
  // what to do when it is a refusal of all writes (redis_refusal_advice).
  Status refused(const std::string& what, const redisReply* reply) const;
  // Sentinel: an error (and disconnected) once the sentinels announced a new master.
  Status check_master_switch();
  // Cluster: makes node's context the current one, opening it when needed.
  Status use_node(const RedisNodeAddress& node);
  Status route(std::string_view key);  // cluster: use_node(the owner of key's slot)
  Status refresh_slots();              // cluster: CLUSTER SLOTS on the current node
  // Cluster: follows the redirects and retries of the error *reply to argv.
  Status follow_cluster(const std::vector<std::string_view>& argv, Reply* reply);

  RedisEndpoint endpoint_;
  std::string client_name_;
  std::chrono::milliseconds io_timeout_;
  redisContext* context_ = nullptr;
  bool auth_error_ = false;
  std::vector<const char*> argv_buffer_;
  std::vector<size_t> argl_buffer_;
  std::unordered_map<const RedisScript*, std::string> script_sha1_;  // cleared on disconnect
  ClusterSlotMap slots_;                                             // cluster mode
  std::vector<std::pair<std::string, redisContext*>> nodes_;  // cluster: open contexts by node
  int home_slot_ = -1;       // cluster: the slot of the last key routed (connect() goes there)
  int pending_ = 0;          // appended, replies not yet read from the socket
  std::deque<Reply> early_;  // replies of appended commands read early (a command() ran)
  uint64_t switches_ = 0;    // sentinel: sentinel_switch_count() when connected
};

// What an operator does when Redis refuses writes as a whole, for an error reply or a message
// quoting one (": OOM ...", "MISCONF", "READONLY", "NOREPLICAS", "MASTERDOWN", "BUSY", "LOADING",
// "NOPERM"); nullptr for any other error (a key's own problem, such as WRONGTYPE).
// Thread safety: a pure function.
const char* redis_refusal_advice(std::string_view error);

// A short description of a reply's type, for error messages ("array", "nil", ...).
const char* reply_type_name(const redisReply* reply);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_REDIS_CONNECTION_H_
