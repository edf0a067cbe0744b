// http_get.cc: http_get through cpp-httplib's client.
#include "support/http_get.h"

#include <httplib.h>

namespace switchyard::test {

HttpResult http_get(int port, const std::string& path, const std::string& host) {
  httplib::Client client(host, port);
  client.set_connection_timeout(5, 0);
  client.set_read_timeout(5, 0);
  client.set_write_timeout(5, 0);
  HttpResult result;
  auto res = client.Get(path);
  if (!res) {
    result.error = httplib::to_string(res.error());
    return result;
  }
  result.status = res->status;
  result.body = res->body;
  result.content_type = res->get_header_value("Content-Type");
  return result;
}

}  // namespace switchyard::test
