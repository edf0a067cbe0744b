// fuzz_redis_url.cc: fuzz target for parse_redis_url / redact_redis_url: no crash, and a password
// never shows in an error or a redacted URL.
#include <string>

#include "fuzz_target.h"
#include "redis/redis_url.h"

namespace {

// A password that appears nowhere else: if it shows in any output, a secret leaked.
constexpr char kMarker[] = "Zq7PwSecret";

void check_no_leak(const std::string& url, const std::string& secret) {
  switchyard::RedisEndpoint endpoint;
  std::string error;
  const bool ok = switchyard::parse_redis_url(url, &endpoint, &error);
  FUZZ_CHECK(error.find(secret) == std::string::npos, "the parse error shows the password");
  FUZZ_CHECK(switchyard::redact_redis_url(url).find(secret) == std::string::npos,
             "redact_redis_url shows the password");
  if (ok) {
    FUZZ_CHECK(endpoint.redacted().find(secret) == std::string::npos,
               "RedisEndpoint::redacted shows the password");
  }
}

}  // namespace

SWITCHYARD_FUZZ_TARGET(redis_url) {
  const std::string input(reinterpret_cast<const char*>(data), size);

  // 1. The input as a URL: parses or says why, never crashes.
  switchyard::RedisEndpoint endpoint;
  std::string error;
  if (switchyard::parse_redis_url(input, &endpoint, &error)) {
    FUZZ_CHECK(endpoint.port >= 1 && endpoint.port <= 65535, "port in range");
    FUZZ_CHECK(endpoint.db >= 0, "db is not negative");
    FUZZ_CHECK(endpoint.is_unix ? !endpoint.socket_path.empty() : !endpoint.host.empty(),
               "an address is set");
  } else {
    FUZZ_CHECK(!error.empty(), "a refusal says why");
  }
  (void)switchyard::redact_redis_url(input);

  // 2. The input as the user, the rest of the password and the address around a marker password:
  //    "redis://USER:MARKER<pw>@<rest>". Whatever the bytes, the marker must never be shown.
  const size_t cut = size == 0 ? 0 : data[0] % (size + 1);
  std::string user = input.substr(0, cut);
  std::string rest = input.substr(cut);
  // The user and the address are shown on purpose: keep the marker out of them ('Z' starts it
  // and occurs once in it; '%' could decode to it).
  std::string cleaned;
  for (char c : user)
    if (c != ':' && c != '@' && c != '/' && c != 'Z' && c != '%') cleaned += c;
  const size_t at = rest.find('@');
  if (at != std::string::npos) {
    const std::string password = kMarker + rest.substr(0, at);
    const std::string address = rest.substr(at + 1);
    // The password's end must be unambiguous (no '@' after it).
    if (address.find_first_of("@Z") == std::string::npos)
      check_no_leak("redis://" + cleaned + ":" + password + "@" + address, kMarker);
  }
  return 0;
}
