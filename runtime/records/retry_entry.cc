// retry_entry.cc: encoding of K:retry members.
#include "records/retry_entry.h"

#include <atomic>
#include <charconv>
#include <random>

namespace switchyard {
namespace {

std::string make_nonce() {
  static std::atomic<uint64_t> counter{0};
  static const uint64_t seed = std::random_device{}();
  uint64_t value = seed ^ (counter.fetch_add(1) * 0x9E3779B97F4A7C15ull);
  char buf[17];
  auto [ptr, ec] = std::to_chars(buf, buf + 16, value, 16);
  (void)ec;
  return std::string(buf, ptr);
}

// Reads an integer field up to the next '|'; advances pos past it.
template <typename T>
bool read_field(std::string_view s, size_t* pos, T* out) {
  size_t bar = s.find('|', *pos);
  if (bar == std::string_view::npos) return false;
  auto [ptr, ec] = std::from_chars(s.data() + *pos, s.data() + bar, *out);
  if (ec != std::errc() || ptr != s.data() + bar) return false;
  *pos = bar + 1;
  return true;
}

}  // namespace

std::string encode_retry_entry(const RetryEntry& e) {
  std::string out = "v1|" + std::to_string(e.leases) + "|" + std::to_string(e.attempt) + "|" +
                    std::to_string(e.first_failed_ms) + "|" + make_nonce() + "|" + e.handler + "|";
  out.append(e.message);
  return out;
}

bool decode_retry_entry(std::string_view s, RetryEntry* e) {
  if (s.substr(0, 3) != "v1|") return false;
  size_t pos = 3;
  RetryEntry r;
  if (!read_field(s, &pos, &r.leases) || !read_field(s, &pos, &r.attempt) ||
      !read_field(s, &pos, &r.first_failed_ms))
    return false;
  size_t bar = s.find('|', pos);  // nonce
  if (bar == std::string_view::npos) return false;
  pos = bar + 1;
  bar = s.find('|', pos);  // handler
  if (bar == std::string_view::npos || bar == pos) return false;
  r.handler = std::string(s.substr(pos, bar - pos));
  r.message = std::string(s.substr(bar + 1));
  *e = std::move(r);
  return true;
}

}  // namespace switchyard
