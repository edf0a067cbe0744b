// hostile_support.h: helpers shared by the hostile-input and trust-boundary integration tests
// (a dead letter's digest, a secret scan); dead letters and HTTP GETs come from tests/support.
#ifndef SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_
#define SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_

#include <string>

#include "support/dead_letters.h"
#include "support/http_get.h"

namespace switchyard::test {

// The SHA-256 of data in lowercase hex (OpenSSL), to check a dead letter's "message_sha256".
std::string sha256_hex_of(const std::string& data);

// Where `secret` occurs in `text`: "" when it does not, else the text around the first hit
// (escaped), for a failure message.
std::string find_secret(const std::string& text, const std::string& secret);

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_INTEGRATION_HOSTILE_HOSTILE_SUPPORT_H_
