// hostile_support.cc: dead-letter decoding, a tiny HTTP client and the secret scan used by the hostile tests.
#include "hostile_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/sha.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdio>

#include "records/dead_letter.h"

namespace switchyard::test {

DeadLetterView parse_dead_letter(const std::string& raw) {
  DeadLetterView v;
  DeadLetter letter;
  std::string error;
  // The runtime's own decoder: it takes the exact bytes of a non-UTF-8 message from
  // "message_base64" (the "message" field then holds a readable copy).
  if (!decode_dead_letter(raw, &letter, &error)) return v;
  v.ok = true;
  v.message = letter.message;
  v.reason = letter.reason;
  v.source = letter.source;
  v.handler_null = !letter.handler.has_value();
  v.handler = letter.handler.value_or("");
  v.attempts = letter.attempts;
  v.message_bytes = static_cast<long long>(letter.message_bytes);
  v.message_sha256 = letter.message_sha256;
  return v;
}

std::string sha256_hex_of(const std::string& data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  std::string hex;
  char buf[3];
  for (unsigned char b : digest) {
    snprintf(buf, sizeof buf, "%02x", b);
    hex += buf;
  }
  return hex;
}

std::string http_get(const std::string& host, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
    if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
        static_cast<ssize_t>(request.size())) {
      char buffer[8192];
      ssize_t n;
      while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  return body == std::string::npos ? "" : response.substr(body + 4);
}

std::string find_secret(const std::string& text, const std::string& secret) {
  const size_t at = text.find(secret);
  if (at == std::string::npos) return "";
  const size_t from = at > 80 ? at - 80 : 0;
  std::string around;
  for (char c : text.substr(from, secret.size() + 160)) {
    if (c == '\n') {
      around += "\\n";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      around += hex;
    } else {
      around += c;
    }
  }
  return around;
}

}  // namespace switchyard::test
