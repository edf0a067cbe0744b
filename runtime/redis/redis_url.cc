// redis_url.cc: Redis URL parsing and redaction.
#include "redis/redis_url.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace switchyard {
namespace {

const char kForms[] =
    "expected redis://[user@]host[:port][/db] or unix://[user@]/path/to/redis.sock[?db=N]";

bool parse_int(const std::string& text, int min, int max, int* out) {
  if (text.empty()) return false;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max)
    return false;
  *out = value;
  return true;
}

// Decodes %XX escapes (user names and passwords may contain reserved characters).
bool percent_decode(const std::string& in, std::string* out) {
  out->clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out->push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size() || !std::isxdigit(static_cast<unsigned char>(in[i + 1])) ||
        !std::isxdigit(static_cast<unsigned char>(in[i + 2])))
      return false;  // from_chars alone would take "%-1" or "%+F"
    int value = 0;
    auto [ptr, ec] = std::from_chars(in.data() + i + 1, in.data() + i + 3, value, 16);
    if (ec != std::errc() || ptr != in.data() + i + 3) return false;
    out->push_back(static_cast<char>(value));
    i += 2;
  }
  return true;
}

// How an error names a URL that did not parse: by its scheme at most, since the text may be a
// pasted password or hold one where it is not expected (a query parameter).
std::string shown_in_errors(const std::string& url) {
  const size_t end = url.find("://");
  bool scheme = end != std::string::npos && end > 0 && end <= 16;
  for (size_t i = 0; scheme && i < end; ++i) {
    const unsigned char c = static_cast<unsigned char>(url[i]);
    scheme = std::islower(c) || std::isdigit(c) || c == '+' || c == '.' || c == '-';
  }
  return "Redis URL " + (scheme ? "\"" + url.substr(0, end) + "://...\" " : std::string()) +
         "(the URL given, redacted)";
}

// url with the value of every password= query parameter replaced by ***.
std::string redact_password_parameters(const std::string& url) {
  const size_t q = url.find('?');
  if (q == std::string::npos) return url;
  std::string out = url.substr(0, q + 1);
  size_t i = q + 1;
  while (true) {
    const size_t amp = url.find('&', i);
    const std::string param = url.substr(i, amp == std::string::npos ? std::string::npos : amp - i);
    out += param.rfind("password=", 0) == 0 ? "password=***" : param;
    if (amp == std::string::npos) break;
    out += '&';
    i = amp + 1;
  }
  return out;
}

}  // namespace

std::string RedisNodeAddress::str() const {
  return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" +
         std::to_string(port);
}

namespace {

// The node addresses of urls, into endpoint (whose host/port become the first one's); user and
// db must agree across urls.
bool parse_node_list(const std::vector<std::string>& urls, const char* what,
                     RedisEndpoint* endpoint, std::string* error) {
  if (urls.empty()) {
    *error = std::string("list at least one ") + what + " (redis://host:port)";
    return false;
  }
  endpoint->discovery.clear();
  for (size_t i = 0; i < urls.size(); ++i) {
    RedisEndpoint node;
    if (!parse_redis_url(urls[i], &node, error)) return false;
    if (node.is_unix) {
      *error = std::string("a ") + what + " is reached over TCP: write redis://host:port, not " +
               node.redacted();
      return false;
    }
    if (i == 0) {
      *endpoint = node;
    } else if (node.user != endpoint->user || node.db != endpoint->db) {
      *error = std::string("every ") + what +
               " URL must name the same user and db: " + node.redacted() + " differs from " +
               endpoint->redacted();
      return false;
    }
    endpoint->discovery.push_back({node.host, node.port});
  }
  return true;
}

}  // namespace

bool make_cluster_endpoint(const std::vector<std::string>& seeds, RedisEndpoint* endpoint,
                           std::string* error) {
  if (!parse_node_list(seeds, "cluster seed node", endpoint, error)) return false;
  if (endpoint->db != 0) {
    *error = "Redis Cluster has only db 0: remove /" + std::to_string(endpoint->db) +
             " from the cluster URLs";
    return false;
  }
  endpoint->mode = RedisMode::kCluster;
  return true;
}

bool make_sentinel_endpoint(const std::string& master, const std::vector<std::string>& sentinels,
                            RedisEndpoint* endpoint, std::string* error) {
  if (master.empty()) {
    *error = "name the master as the sentinels know it (sentinel monitor NAME ...): master: NAME";
    return false;
  }
  if (!parse_node_list(sentinels, "sentinel", endpoint, error)) return false;
  endpoint->mode = RedisMode::kSentinel;
  endpoint->sentinel_master = master;
  return true;
}

std::string RedisEndpoint::redacted() const {
  if (is_unix)
    return "unix://" + (user.empty() ? "" : user + "@") + socket_path +
           (db != 0 ? "?db=" + std::to_string(db) : "");
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "redis://" + (user.empty() ? "" : user + "@") + h + ":" + std::to_string(port) + "/" +
         std::to_string(db);
}

bool parse_redis_url(const std::string& url, RedisEndpoint* endpoint, std::string* error) {
  RedisEndpoint ep;
  const std::string shown = shown_in_errors(url);
  if (url.rfind("unix://", 0) == 0) {
    ep.is_unix = true;
    std::string rest = url.substr(7);
    // unix://user[:password]@/path: an ACL user over the socket (redis-py's form).
    const size_t at = rest[0] == '/' ? std::string::npos : rest.rfind("@/");
    if (at != std::string::npos) {
      const std::string userinfo = rest.substr(0, at);
      const size_t colon = userinfo.find(':');
      if (!percent_decode(userinfo.substr(0, colon), &ep.user) ||
          !percent_decode(colon == std::string::npos ? "" : userinfo.substr(colon + 1),
                          &ep.password)) {
        *error = shown + ": bad %-escape in the user or password";
        return false;
      }
      rest = rest.substr(at + 1);
    }
    size_t q = rest.find('?');
    ep.socket_path = rest.substr(0, q);
    if (ep.socket_path.empty() || ep.socket_path[0] != '/') {
      *error = shown + ": the socket path must be absolute; " + kForms;
      return false;
    }
    if (q != std::string::npos) {
      std::string query = rest.substr(q + 1);
      if (query.rfind("db=", 0) != 0 || !parse_int(query.substr(3), 0, 1000000, &ep.db)) {
        *error = shown + ": only ?db=N is accepted after the path; " + kForms;
        return false;
      }
    }
    *endpoint = ep;
    return true;
  }
  if (url.rfind("redis://", 0) != 0) {
    *error = shown +
             ": unsupported scheme (rediss:// needs TLS, which this "
             "build does not have); " +
             kForms;
    return false;
  }
  std::string rest = url.substr(8);
  // The user info ends at the last '@' (host, port and db never hold one), so that a password
  // with an unescaped '/' or '@' is still taken whole, never read as part of the address.
  size_t at = rest.rfind('@');
  std::string userinfo = at == std::string::npos ? "" : rest.substr(0, at);
  if (at != std::string::npos) rest = rest.substr(at + 1);
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  std::string path = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (at != std::string::npos) {
    size_t colon = userinfo.find(':');
    std::string user = userinfo.substr(0, colon);
    std::string pass = colon == std::string::npos ? "" : userinfo.substr(colon + 1);
    if (!percent_decode(user, &ep.user) || !percent_decode(pass, &ep.password)) {
      *error = shown + ": bad %-escape in the user or password";
      return false;
    }
  }
  std::string port_text;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = shown + ": unclosed [ in an IPv6 host; " + kForms;
      return false;
    }
    ep.host = authority.substr(1, close - 1);
    std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        *error = shown + ": unexpected text after the host; " + kForms;
        return false;
      }
      port_text = after.substr(1);
    }
  } else {
    size_t colon = authority.rfind(':');
    ep.host = authority.substr(0, colon);
    if (colon != std::string::npos) port_text = authority.substr(colon + 1);
  }
  if (ep.host.empty()) {
    *error = shown + ": the host is missing; " + kForms;
    return false;
  }
  if (!port_text.empty() && !parse_int(port_text, 1, 65535, &ep.port)) {
    *error = shown + ": the port must be a number from 1 to 65535";
    return false;
  }
  if (!path.empty() && !parse_int(path, 0, 1000000, &ep.db)) {
    *error = shown + ": the database after / must be a number";
    return false;
  }
  *endpoint = ep;
  return true;
}

std::string redact_redis_url(const std::string& url) {
  // Without "://" (a typo such as redis:/u:pw@host) the text is still read as
  // [scheme:]user:password@address: everything from the first ':' to the last '@' is hidden.
  size_t scheme = url.find("://");
  size_t start = scheme == std::string::npos ? 0 : scheme + 3;
  // As parse_redis_url reads it: the password runs from the first ':' of the user info to the
  // last '@' (even when it holds an unescaped '/'; a redaction too wide beats a leak).
  size_t at = url.rfind('@');
  if (at == std::string::npos || at < start) return redact_password_parameters(url);
  size_t colon = url.find(':', start);
  if (colon == std::string::npos || colon > at) return redact_password_parameters(url);
  return redact_password_parameters(url.substr(0, colon + 1) + "***" + url.substr(at));
}

std::string redact_redis_urls_in(const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const size_t end = std::min(text.find_first_of(" \t\r\n", i), text.size());
    out += redact_redis_url(text.substr(i, end - i));
    const size_t next = std::min(text.find_first_not_of(" \t\r\n", end), text.size());
    out += text.substr(end, next - end);
    i = next;
  }
  return out;
}

}  // namespace switchyard
