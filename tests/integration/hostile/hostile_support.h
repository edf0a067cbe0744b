// hostile_support.h: helpers shared by the hostile-input and trust-boundary integration tests (dead letters, HTTP GET, a secret scan).
#ifndef SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_

#include <string>
#include <vector>

namespace switchyard::test {

// One element of K:dead, decoded (ok = false when it is not a dead letter); message holds the
// exact bytes, from "message_base64" when the message was not UTF-8.
struct DeadLetterView {
  bool ok = false;
  std::string message;  // raw bytes
  std::string reason;
  bool handler_null = true;
  std::string handler;
  std::string source;
  int attempts = 0;
  // An oversize message: message holds its first bytes; its length and SHA-256 (hex). 0 and ""
  // when message is the whole message.
  long long message_bytes = 0;
  std::string message_sha256;
};
DeadLetterView parse_dead_letter(const std::string& raw);

// The SHA-256 of data in lowercase hex (OpenSSL), to check a dead letter's "message_sha256".
std::string sha256_hex_of(const std::string& data);

// The body of GET http://host:port/path (status line and headers dropped); "" on any error.
std::string http_get(const std::string& host, int port, const std::string& path);

// Where `secret` occurs in `text`: "" when it does not, else the text around the first hit
// (escaped), for a failure message.
std::string find_secret(const std::string& text, const std::string& secret);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_
