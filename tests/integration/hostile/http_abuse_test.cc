// http_abuse_test.cc: the metrics endpoint under abuse (huge bodies, bodies on GET, chunked
// uploads, unknown methods, 1,000 half-sent requests): the daemon keeps consuming, its memory stays
// bounded, and the endpoint answers again afterwards.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "hostile_support.h"
#include "support/child_process.h"
#include "support/events.h"
#include "support/redis_client.h"
#include "support/redis_server.h"
#include "support/sqlite_db.h"
#include "support/switchyard_process.h"
#include "support/temp_dir.h"
#include "support/wait.h"

namespace switchyard::test {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// The daemon's resident memory must stay under this, and grow by less than kMaxGrowthKib from
// what it was after its first events, whatever clients send. AddressSanitizer's shadow memory
// alone is larger than the release bound (SWITCHYARD_SANITIZED_BUILD: tests/CMakeLists.txt).
#if defined(SWITCHYARD_SANITIZED_BUILD)
constexpr long kMaxRssKib = 256 * 1024;
#else
constexpr long kMaxRssKib = 64 * 1024;
#endif
constexpr long kMaxGrowthKib = 24 * 1024;

// A connected TCP socket to 127.0.0.1:port with 5 s send/receive timeouts, or -1.
int connect_to(int port, bool blocking = true) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | (blocking ? 0 : SOCK_NONBLOCK), 0);
  if (fd < 0) return -1;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
      !(!blocking && errno == EINPROGRESS)) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends head, then up to body_bytes of 'x' in 1 MiB chunks until the server stops taking them;
// returns the status line of whatever the server answered ("" if nothing).
std::string send_request(int port, const std::string& head, size_t body_bytes) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  std::string response;
  if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
    const std::string chunk(1 << 20, 'x');
    for (size_t sent = 0; sent < body_bytes;) {
      ssize_t n = ::send(fd, chunk.data(), std::min(chunk.size(), body_bytes - sent), MSG_NOSIGNAL);
      if (n <= 0) break;  // the server closed the connection: it will not read the rest
      sent += static_cast<size_t>(n);
    }
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
  }
  ::close(fd);
  return response.substr(0, response.find("\r\n"));
}

// Sends head and returns everything the server answers until it closes the connection.
std::string exchange(int port, const std::string& head) {
  int fd = connect_to(port);
  if (fd < 0) return "";
  std::string response;
  if (::send(fd, head.data(), head.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(head.size())) {
    char buffer[4096];
    ssize_t n;
    while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) response.append(buffer, n);
  }
  ::close(fd);
  return response;
}

long rss_kib(pid_t pid) {
  for (const std::string& line : file_lines("/proc/" + std::to_string(pid) + "/status")) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

class HttpAbuseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    redis_.start();
    port_ = pick_free_tcp_port();
    const std::string run_dir = dir_.file("run");
    mkdir(run_dir.c_str(), 0700);
    config_ =
        dir_.write("routes.yaml",
                   routes_yaml(redis_.url(), SWITCHYARD_PLUGIN_DIR, db(), "events",
                               "metrics: {listen: \"127.0.0.1:" + std::to_string(port_) + "\"}\n"));
    daemon_ = SwitchyardProcess::run(config_, dir_.file("switchyard.log"), {},
                                     {{"RUNTIME_DIRECTORY", run_dir}});
    ASSERT_TRUE(wait_until([&] { return http_get(port_, "/healthz").body == "ok\n"; }, 20s,
                           "/healthz to answer"))
        << daemon_.log_tail();
  }
  std::string db() const { return dir_.file("analytics.db"); }
  // Publishes users [first, first + n) and waits until all are stored.
  void publish_and_expect_handled(int first, int n, int64_t expected_total) {
    RedisClient client = redis_.client();
    for (int i = 0; i < n; ++i) client.rpush("events", user_registered(first + i));
    EXPECT_TRUE(
        wait_until([&] { return count_rows(db(), "user_registrations") == expected_total; }, 60s,
                   std::to_string(expected_total) + " users stored while the endpoint is abused"))
        << daemon_.log_tail();
  }
  void expect_rss_bounded(const std::string& when) {
    const long rss = rss_kib(daemon_.pid());
    EXPECT_GT(rss, 0);
    EXPECT_LT(rss, kMaxRssKib) << "RSS " << rss << " KiB " << when;
    EXPECT_LT(rss - baseline_rss_, kMaxGrowthKib)
        << "RSS grew from " << baseline_rss_ << " to " << rss << " KiB " << when;
  }

  RedisServer redis_;
  TempDir dir_;
  int port_ = 0;
  std::string config_;
  SwitchyardProcess daemon_;
  long baseline_rss_ = 0;  // KiB, once the daemon has handled its first events
};

TEST_F(HttpAbuseTest, BodiesMethodsAndHalfSentRequestsCostNothingElse) {
  publish_and_expect_handled(1, 50, 50);
  baseline_rss_ = rss_kib(daemon_.pid());
  ASSERT_GT(baseline_rss_, 0);

  // A 256 MiB POST to an existing path: refused before its body is read.
  std::string status = send_request(
      port_, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n", 256u << 20);
  EXPECT_THAT(status, HasSubstr("405"));
  expect_rss_bounded("after a 256 MiB POST");
  // A body on GET, announced by length or sent chunked.
  status = send_request(
      port_, "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 268435456\r\n\r\n", 64u << 20);
  EXPECT_THAT(status, HasSubstr("413"));
  status = send_request(port_, "PUT /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
                        64u << 20);
  EXPECT_THAT(status, HasSubstr("405"));
  expect_rss_bounded("after bodies on GET and chunked PUT");
  // Methods other than GET and HEAD, known or not.
  for (const char* method : {"DELETE", "OPTIONS", "PATCH", "FOO"}) {
    status = send_request(port_, std::string(method) + " /metrics HTTP/1.1\r\nHost: x\r\n\r\n", 0);
    EXPECT_THAT(status, ::testing::AnyOf(HasSubstr("405"), HasSubstr("400"))) << method;
  }
  EXPECT_THAT(send_request(port_, "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 0),
              HasSubstr("200"));

  // 1,000 connections, each with a request that never ends (slowloris).
  std::vector<int> sockets;
  const std::string partial = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
  for (int i = 0; i < 1000; ++i) {
    int fd = connect_to(port_, /*blocking=*/false);
    if (fd < 0) continue;
    sockets.push_back(fd);
  }
  for (int fd : sockets) ::send(fd, partial.data(), partial.size(), MSG_NOSIGNAL);
  // The daemon keeps consuming meanwhile.
  publish_and_expect_handled(51, 200, 250);
  expect_rss_bounded("with 1,000 half-sent requests open");
  for (int fd : sockets) ::close(fd);

  // Afterwards the endpoint serves again.
  EXPECT_TRUE(wait_until([&] { return http_get(port_, "/healthz").body == "ok\n"; }, 60s,
                         "/healthz to answer again after the abuse"))
      << daemon_.log_tail();
  expect_rss_bounded("after the abuse");
  EXPECT_EQ(daemon_.stop(), 0) << daemon_.log_tail();
}

// A Range header with thousands of ranges would repeat the whole body once per range: a 3 KB
// request must not buy a response many times its size.
TEST_F(HttpAbuseTest, MultiRangeRequestIsNotAmplified) {
  publish_and_expect_handled(1, 10, 10);
  std::string ranges = "bytes=0-";
  while (ranges.size() < 8000) ranges += ",0-";
  const std::string head = "GET /metrics HTTP/1.1\r\nHost: x\r\nRange: " + ranges + "\r\n\r\n";
  const std::string response = exchange(port_, head);
  ASSERT_FALSE(response.empty());
  EXPECT_LT(response.size(), head.size()) << response.substr(0, response.find("\r\n"));
  EXPECT_THAT(response.substr(0, response.find("\r\n")), HasSubstr("416"));
  // A single range is refused too: the endpoint serves whole documents only.
  EXPECT_THAT(exchange(port_, "GET /metrics HTTP/1.1\r\nHost: x\r\nRange: bytes=0-10\r\n\r\n"),
              HasSubstr("416"));
  EXPECT_EQ(http_get(port_, "/healthz").body, "ok\n");
  EXPECT_EQ(daemon_.stop(), 0) << daemon_.log_tail();
}

}  // namespace
}  // namespace switchyard::test
