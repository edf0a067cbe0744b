// redis_url.h: parses the Redis address of routes.yaml / --redis into an endpoint, and redacts it.
// Thread safety: value types and pure functions.
#ifndef SWITCHYARD_REDIS_REDIS_URL_H_
#define SWITCHYARD_REDIS_REDIS_URL_H_

#include <string>
#include <vector>

namespace switchyard {

// How the data node is found: the address itself, a Redis Cluster's slot map (the node owning
// each key's slot), or the master that Redis Sentinel names.
enum class RedisMode { kSingle, kCluster, kSentinel };

struct RedisNodeAddress {
  std::string host;
  int port = 0;
  std::string str() const;  // host:port ([v6]:port)
};

struct RedisEndpoint {
  bool is_unix = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket_path;  // when is_unix
  int db = 0;
  std::string user;      // ACL user name (AUTH user password); empty = default user
  std::string password;  // never logged; empty = no AUTH
  // kCluster: the seed nodes; kSentinel: the sentinels. host and port above then name the data
  // node in use (the first seed, or the master last found), user and password apply to the data
  // nodes only: sentinels are asked with sentinel_user and sentinel_password.
  RedisMode mode = RedisMode::kSingle;
  std::vector<RedisNodeAddress> discovery;
  std::string sentinel_master;    // kSentinel: the master's name in the sentinels' configuration
  std::string sentinel_user;      // kSentinel: ACL user of the sentinels; empty = default user
  std::string sentinel_password;  // kSentinel: never logged; empty = sentinels asked without AUTH

  // The address without any secret, for logs and errors: redis://user@host:port/db or
  // unix://[user@]/path?db=N. Never contains the password.
  std::string redacted() const;
};

// Parses redis://[user[:password]@]host[:port][/db] (IPv6 host in brackets) or
// unix://[user[:password]@]/absolute/path.sock[?db=N] (an ACL user over the socket). On failure
// returns false and sets *error (which never contains the password) to say what is wrong and
// show the accepted forms.
bool parse_redis_url(const std::string& url, RedisEndpoint* endpoint, std::string* error);

// Builds a kCluster endpoint from the seed nodes' URLs (redis://[user@]host[:port], db 0, one
// user for all; unix sockets are refused: nodes announce TCP addresses), or a kSentinel endpoint
// from the sentinels' URLs (redis://[user@]host[:port][/db]; user and db apply to the master).
// On failure returns false and sets *error (never containing a password) to say what to change.
bool make_cluster_endpoint(const std::vector<std::string>& seeds, RedisEndpoint* endpoint,
                           std::string* error);
bool make_sentinel_endpoint(const std::string& master, const std::vector<std::string>& sentinels,
                            RedisEndpoint* endpoint, std::string* error);

// Replaces any password in a redis:// or unix:// URL with "***" (for echoing user input safely),
// also in a mistyped URL without "://": from the first ':' to the last '@' is hidden.
std::string redact_redis_url(const std::string& url);

// redact_redis_url applied to every whitespace-separated word of text (for messages that quote
// command-line arguments, such as a parser's "arguments were not expected: ...").
std::string redact_redis_urls_in(const std::string& text);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_REDIS_URL_H_
