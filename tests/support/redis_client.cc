// redis_client.cc: RedisClient over hiredis 0.14 (argv with lengths, pipelining, SCAN).
#include "support/redis_client.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/time.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace switchyard::test {
namespace {

timeval to_timeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

Reply convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(convert(r->element[i]));
      break;
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

struct ReplyDeleter {
  void operator()(void* r) const {
    if (r) freeReplyObject(r);
  }
};

int64_t expect_integer(const Reply& r, const std::string& cmd) {
  if (r.type != Reply::Type::kInteger) {
    throw std::runtime_error("redis " + cmd + ": expected an integer reply, got " + r.describe());
  }
  return r.integer;
}

void ignore_sigpipe_once() {
  static std::once_flag once;
  std::call_once(once, [] { ::signal(SIGPIPE, SIG_IGN); });
}

}  // namespace

std::string Reply::describe() const {
  std::ostringstream os;
  switch (type) {
    case Type::kNil:
      os << "nil";
      break;
    case Type::kStatus:
      os << "+" << str;
      break;
    case Type::kError:
      os << "(error) " << str;
      break;
    case Type::kInteger:
      os << "(integer) " << integer;
      break;
    case Type::kString:
      os << '"';
      for (unsigned char ch : str) {
        if (ch == '"' || ch == '\\') {
          os << '\\' << ch;
        } else if (ch >= 0x20 && ch < 0x7f) {
          os << ch;
        } else {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\x%02x", ch);
          os << buf;
        }
      }
      os << '"';
      break;
    case Type::kArray:
      os << '[';
      for (std::size_t i = 0; i < elements.size(); ++i) {
        if (i) os << ", ";
        os << elements[i].describe();
      }
      os << ']';
      break;
  }
  return os.str();
}

RedisClient::RedisClient(std::string unix_socket_path, std::chrono::milliseconds timeout)
    : unix_path_(std::move(unix_socket_path)), timeout_(timeout) {
  ignore_sigpipe_once();
  connect();
}

RedisClient::RedisClient(std::string host, int port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(port), timeout_(timeout) {
  ignore_sigpipe_once();
  connect();
}

RedisClient::~RedisClient() { drop(); }

RedisClient::RedisClient(RedisClient&& other) noexcept
    : unix_path_(std::move(other.unix_path_)),
      host_(std::move(other.host_)),
      port_(other.port_),
      timeout_(other.timeout_),
      ctx_(std::exchange(other.ctx_, nullptr)) {}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    drop();
    unix_path_ = std::move(other.unix_path_);
    host_ = std::move(other.host_);
    port_ = other.port_;
    timeout_ = other.timeout_;
    ctx_ = std::exchange(other.ctx_, nullptr);
  }
  return *this;
}

std::string RedisClient::endpoint() const {
  return unix_path_.empty() ? host_ + ":" + std::to_string(port_) : "unix:" + unix_path_;
}

void RedisClient::drop() {
  if (ctx_) redisFree(ctx_);
  ctx_ = nullptr;
}

void RedisClient::connect() {
  drop();
  const timeval tv = to_timeval(timeout_);
  redisContext* c = unix_path_.empty() ? redisConnectWithTimeout(host_.c_str(), port_, tv)
                                       : redisConnectUnixWithTimeout(unix_path_.c_str(), tv);
  if (c == nullptr) throw std::runtime_error("redis connect to " + endpoint() + ": out of memory");
  if (c->err) {
    std::string err = c->errstr;
    redisFree(c);
    throw std::runtime_error("redis connect to " + endpoint() + ": " + err);
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    redisFree(c);
    throw std::runtime_error("redis connect to " + endpoint() + ": cannot set timeout");
  }
  ctx_ = c;
}

void RedisClient::ensure_connected() {
  if (ctx_ == nullptr) connect();
}

void RedisClient::reconnect() { connect(); }

Reply RedisClient::exchange(const std::vector<std::string>& argv) {
  if (argv.empty()) throw std::invalid_argument("redis: empty command");
  ensure_connected();
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  ptrs.reserve(argv.size());
  lens.reserve(argv.size());
  for (const auto& a : argv) {
    ptrs.push_back(a.data());
    lens.push_back(a.size());
  }
  std::unique_ptr<void, ReplyDeleter> raw(
      redisCommandArgv(ctx_, static_cast<int>(argv.size()), ptrs.data(), lens.data()));
  if (!raw) {
    std::string err = ctx_->err ? ctx_->errstr : "no reply";
    drop();  // the context is unusable after an I/O error
    throw std::runtime_error("redis " + argv[0] + " on " + endpoint() + ": " + err);
  }
  return convert(static_cast<redisReply*>(raw.get()));
}

Reply RedisClient::try_command(const std::vector<std::string>& argv) { return exchange(argv); }

Reply RedisClient::command(const std::vector<std::string>& argv) {
  Reply r = exchange(argv);
  if (r.is_error()) throw std::runtime_error("redis " + argv[0] + ": " + r.str);
  return r;
}

int64_t RedisClient::llen(const std::string& key) {
  return expect_integer(command({"LLEN", key}), "LLEN");
}

std::vector<std::string> RedisClient::lrange(const std::string& key, int64_t start, int64_t stop) {
  Reply r = command({"LRANGE", key, std::to_string(start), std::to_string(stop)});
  if (r.type != Reply::Type::kArray) {
    throw std::runtime_error("redis LRANGE: expected an array, got " + r.describe());
  }
  std::vector<std::string> out;
  out.reserve(r.elements.size());
  for (auto& e : r.elements) out.push_back(std::move(e.str));
  return out;
}

int64_t RedisClient::rpush(const std::string& key, const std::string& value) {
  return expect_integer(command({"RPUSH", key, value}), "RPUSH");
}

int64_t RedisClient::rpush_many(const std::string& key, const std::vector<std::string>& values,
                                std::size_t values_per_command) {
  constexpr std::size_t kCommandsPerChunk = 1000;
  if (values_per_command == 0) values_per_command = 1;
  if (values.empty()) return 0;
  ensure_connected();
  int64_t length = 0;
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  std::size_t next = 0;
  while (next < values.size()) {
    std::size_t appended = 0;
    for (; appended < kCommandsPerChunk && next < values.size(); ++appended) {
      const std::size_t end = std::min(values.size(), next + values_per_command);
      ptrs.assign({"RPUSH", key.data()});
      lens.assign({5, key.size()});
      for (; next < end; ++next) {
        ptrs.push_back(values[next].data());
        lens.push_back(values[next].size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()) !=
          REDIS_OK) {
        std::string err = ctx_->errstr;
        drop();
        throw std::runtime_error("redis RPUSH (pipelined) on " + endpoint() + ": " + err);
      }
    }
    std::string first_error;
    for (std::size_t i = 0; i < appended; ++i) {
      void* raw_ptr = nullptr;
      if (redisGetReply(ctx_, &raw_ptr) != REDIS_OK) {
        std::string err = ctx_->errstr;
        drop();
        throw std::runtime_error("redis RPUSH (pipelined) on " + endpoint() + ": " + err);
      }
      std::unique_ptr<void, ReplyDeleter> raw(raw_ptr);
      const auto* r = static_cast<const redisReply*>(raw_ptr);
      if (r->type == REDIS_REPLY_INTEGER) {
        length = r->integer;
      } else if (first_error.empty()) {
        first_error = convert(r).describe();
      }
    }
    if (!first_error.empty()) throw std::runtime_error("redis RPUSH (pipelined): " + first_error);
  }
  return length;
}

std::vector<Reply> RedisClient::pipeline(const std::vector<std::vector<std::string>>& commands) {
  constexpr std::size_t kCommandsPerChunk = 1000;
  std::vector<Reply> replies;
  replies.reserve(commands.size());
  if (commands.empty()) return replies;
  ensure_connected();
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  std::size_t next = 0;
  while (next < commands.size()) {
    const std::size_t first = next;
    for (; next < commands.size() && next - first < kCommandsPerChunk; ++next) {
      const auto& argv = commands[next];
      if (argv.empty()) throw std::invalid_argument("redis: empty command in a pipeline");
      ptrs.clear();
      lens.clear();
      for (const auto& a : argv) {
        ptrs.push_back(a.data());
        lens.push_back(a.size());
      }
      if (redisAppendCommandArgv(ctx_, static_cast<int>(ptrs.size()), ptrs.data(), lens.data()) !=
          REDIS_OK) {
        std::string err = ctx_->errstr;
        drop();
        throw std::runtime_error("redis " + argv[0] + " (pipelined) on " + endpoint() + ": " + err);
      }
    }
    std::string first_error;
    for (std::size_t i = first; i < next; ++i) {
      void* raw_ptr = nullptr;
      if (redisGetReply(ctx_, &raw_ptr) != REDIS_OK) {
        std::string err = ctx_->errstr;
        drop();
        throw std::runtime_error("redis " + commands[i][0] + " (pipelined) on " + endpoint() +
                                 ": " + err);
      }
      std::unique_ptr<void, ReplyDeleter> raw(raw_ptr);
      replies.push_back(convert(static_cast<const redisReply*>(raw_ptr)));
      if (replies.back().is_error() && first_error.empty())
        first_error = "redis " + commands[i][0] + " (pipelined): " + replies.back().str;
    }
    if (!first_error.empty()) throw std::runtime_error(first_error);
  }
  return replies;
}

int64_t RedisClient::del(const std::string& key) {
  return expect_integer(command({"DEL", key}), "DEL");
}

std::vector<std::string> RedisClient::keys(const std::string& pattern) {
  std::vector<std::string> out;
  std::string cursor = "0";
  do {
    Reply r = command({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (r.type != Reply::Type::kArray || r.elements.size() != 2 ||
        r.elements[1].type != Reply::Type::kArray) {
      throw std::runtime_error("redis SCAN: unexpected reply " + r.describe());
    }
    cursor = r.elements[0].str;
    for (auto& e : r.elements[1].elements) out.push_back(std::move(e.str));
  } while (cursor != "0");
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int64_t RedisClient::zcard(const std::string& key) {
  return expect_integer(command({"ZCARD", key}), "ZCARD");
}

void RedisClient::flushall() { command({"FLUSHALL"}); }

bool RedisClient::ping() {
  try {
    Reply r = exchange({"PING"});
    return r.type == Reply::Type::kStatus && r.str == "PONG";
  } catch (const std::exception&) {
    drop();
    return false;
  }
}

}  // namespace switchyard::test
