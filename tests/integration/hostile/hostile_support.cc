// hostile_support.cc: the SHA-256 digest and the secret scan used by the hostile tests.
#include "hostile_support.h"

#include <openssl/sha.h>

#include <cstdio>

#include "records/dead_letter.h"
namespace switchyard::test {

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
      std::snprintf(hex, sizeof hex, "\\x%02x",
                    static_cast<unsigned>(static_cast<unsigned char>(c)));
      around += hex;
    } else {
      around += c;
    }
  }
  return around;
}

}  // namespace switchyard::test
