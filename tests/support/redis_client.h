// redis_client.h: a small synchronous, binary-safe hiredis client for tests (setup and assertions).
#ifndef SWITCHYARD_TESTS_SUPPORT_REDIS_CLIENT_H_
#define SWITCHYARD_TESTS_SUPPORT_REDIS_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

struct redisContext;

namespace switchyard::test {

// One Redis reply, deep-copied out of hiredis (owns its data; copyable; binary-safe strings).
struct Reply {
  enum class Type { kNil, kStatus, kError, kInteger, kString, kArray };
  Type type = Type::kNil;
  long long integer = 0;        // kInteger
  std::string str;              // kString (bulk), kStatus, kError
  std::vector<Reply> elements;  // kArray

  bool is_nil() const { return type == Type::kNil; }
  bool is_error() const { return type == Type::kError; }
  // Human-readable rendering for failure messages, e.g. `["a", (integer) 3, nil]`.
  std::string describe() const;
};

// A test-only Redis connection (unix socket or TCP), RESP2, no auth.
// Ownership: owns its hiredis context; move-only.
// Thread safety: not thread-safe; one RedisClient per thread.
// Errors: every failure throws std::runtime_error naming the command (and the endpoint for
// connection errors). After an I/O error (e.g. the server was killed) the context is dropped and
// the next call reconnects transparently; a failed command is never resent automatically.
// Constructing the first RedisClient sets SIGPIPE to SIG_IGN in the test process (hiredis writes
// with write(2); a server dying mid-write would otherwise kill the test). ChildProcess resets it
// in children.
class RedisClient {
 public:
  // Connects to a unix socket now (throws if it cannot). `timeout` bounds the connect and each
  // command's I/O.
  explicit RedisClient(std::string unix_socket_path,
                       std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Connects to host:port over TCP now (throws if it cannot).
  RedisClient(std::string host, int port,
              std::chrono::milliseconds timeout = std::chrono::seconds(10));
  ~RedisClient();
  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends argv (binary-safe) and returns the reply. Throws on I/O errors AND on error replies.
  Reply command(const std::vector<std::string>& argv);
  // As command(), but an error reply is returned as Reply{kError} instead of thrown.
  Reply try_command(const std::vector<std::string>& argv);

  // LLEN key.
  int64_t llen(const std::string& key);
  // LRANGE key start stop (defaults: the whole list).
  std::vector<std::string> lrange(const std::string& key, int64_t start = 0, int64_t stop = -1);
  // RPUSH key value; returns the new length.
  int64_t rpush(const std::string& key, const std::string& value);
  // Pushes all values in order, pipelined: up to 1000 commands in flight per round trip, each
  // RPUSH carrying `values_per_command` values (1 = like independent producers). Returns the list
  // length after the last push (0 for no values). All replies of a chunk are read before an error
  // reply is thrown.
  int64_t rpush_many(const std::string& key, const std::vector<std::string>& values,
                     std::size_t values_per_command = 1);
  // Sends every command (argv, binary-safe), pipelined: up to 1000 commands in flight per round
  // trip. Returns their replies in order. All replies of a chunk are read before the first error
  // reply is thrown (as rpush_many does); I/O errors throw at once.
  std::vector<Reply> pipeline(const std::vector<std::vector<std::string>>& commands);
  // DEL key; returns the number of keys removed.
  int64_t del(const std::string& key);
  // All keys matching `pattern`, via SCAN (never KEYS); sorted, without duplicates.
  std::vector<std::string> keys(const std::string& pattern = "*");
  // ZCARD key.
  int64_t zcard(const std::string& key);
  // FLUSHALL.
  void flushall();
  // PING; true on PONG, false on any error (never throws). Reconnects first if needed.
  bool ping();
  // Drops the connection and connects again (throws if it cannot).
  void reconnect();

  // "unix:PATH" or "HOST:PORT", for messages.
  std::string endpoint() const;

 private:
  void connect();
  void ensure_connected();
  void drop();
  Reply exchange(const std::vector<std::string>& argv);

  std::string unix_path_;
  std::string host_;
  int port_ = 0;
  std::chrono::milliseconds timeout_;
  redisContext* ctx_ = nullptr;
};

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_REDIS_CLIENT_H_
