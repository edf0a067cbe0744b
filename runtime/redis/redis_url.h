// redis_url.h: parses the Redis address of routes.yaml / --redis into an endpoint, and redacts it.
// Thread safety: value types and pure functions.
#ifndef SWITCHYARD_REDIS_REDIS_URL_H_
#define SWITCHYARD_REDIS_REDIS_URL_H_

#include <string>

namespace switchyard {

struct RedisEndpoint {
  bool is_unix = false;
  std::string host = "127.0.0.1";
  int port = 6379;
  std::string socket_path;  // when is_unix
  int db = 0;
  std::string user;      // ACL user name (AUTH user password); empty = default user
  std::string password;  // never logged; empty = no AUTH

  // The address without any secret, for logs and errors: redis://user@host:port/db or
  // unix://[user@]/path?db=N. Never contains the password.
  std::string redacted() const;
};

// Parses redis://[user[:password]@]host[:port][/db] (IPv6 host in brackets) or
// unix://[user[:password]@]/absolute/path.sock[?db=N] (an ACL user over the socket). On failure
// returns false and sets *error (which never contains the password) to say what is wrong and
// show the accepted forms.
bool parse_redis_url(const std::string& url, RedisEndpoint* endpoint, std::string* error);

// Replaces any password in a redis:// or unix:// URL with "***" (for echoing user input safely),
// also in a mistyped URL without "://": from the first ':' to the last '@' is hidden.
std::string redact_redis_url(const std::string& url);

// redact_redis_url applied to every whitespace-separated word of text (for messages that quote
// command-line arguments, such as a parser's "arguments were not expected: ...").
std::string redact_redis_urls_in(const std::string& text);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_REDIS_URL_H_
