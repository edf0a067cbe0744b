// http_get.h: one HTTP GET against the daemon's endpoint (test kit, no GTest).
#ifndef SWITCHYARD_TESTS_SUPPORT_HTTP_GET_H_
#define SWITCHYARD_TESTS_SUPPORT_HTTP_GET_H_

#include <string>

namespace switchyard::test {

// What a GET returned.
struct HttpResult {
  int status = -1;  // -1: no HTTP answer (connection refused, timeout)
  std::string body;
  std::string content_type;
  std::string error;  // the client's error when status is -1
};

// GET http://host:port/path with a real HTTP client (cpp-httplib), each of connect, write and
// read bounded by 5 s. Never throws for network errors (they are in the result).
// Thread safety: reentrant.
HttpResult http_get(int port, const std::string& path, const std::string& host = "127.0.0.1");

}  // namespace switchyard::test

#endif  // SWITCHYARD_TESTS_SUPPORT_HTTP_GET_H_
