// source_alerts.cc: writes K:alerts and logs each alert once per process.
#include "source/source_alerts.h"

#include <spdlog/spdlog.h>

#include <mutex>
#include <set>

#include "records/dead_letter.h"

namespace switchyard {
namespace {

std::mutex logged_mutex;
std::set<std::string, std::less<>> logged;  // texts logged once already

}  // namespace

bool log_once(std::string_view text) {
  std::lock_guard<std::mutex> lock(logged_mutex);
  if (logged.size() > 1000) logged.clear();  // bounded: at worst a line is logged again
  return logged.emplace(text).second;
}

void forget_logged(std::string_view text) {
  std::lock_guard<std::mutex> lock(logged_mutex);
  auto it = logged.find(text);
  if (it != logged.end()) logged.erase(it);
}

Status raise_alert(RedisConnection* connection, const SourceKeys& keys, std::string_view code,
                   std::string_view text) {
  const std::string alerts = keys.alerts();
  if (log_once(text)) spdlog::error("{} (alert {} in {})", text, code, alerts);
  const std::string line = now_iso8601() + " " + std::string(text);
  Reply reply;
  return connection->command_ok({"HSET", alerts, code, line}, &reply);
}

}  // namespace switchyard
