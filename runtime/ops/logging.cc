// logging.cc: the text and JSON-lines log formats.
#include "ops/logging.h"

#include <spdlog/formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <ctime>

namespace switchyard {
namespace {

// {"time":"...Z","level":"info","pid":1,"handler":"quotes_db","message":"..."}: one object per
// line. A message of the form "[handler] text" (plugin lines) gets a "handler" field.
class JsonFormatter : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto since_epoch = msg.time.time_since_epoch();
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch).count();
    std::time_t secs = static_cast<std::time_t>(ms / 1000);
    std::tm tm;
    gmtime_r(&secs, &tm);
    char time[40];
    size_t n = std::strftime(time, sizeof(time), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(time + n, sizeof(time) - n, ".%03dZ", static_cast<int>(ms % 1000));
    std::string_view text(msg.payload.data(), msg.payload.size());
    std::string_view handler;
    if (text.size() > 2 && text[0] == '[') {
      size_t close = text.find("] ");
      if (close != std::string_view::npos) {
        handler = text.substr(1, close - 1);
        text = text.substr(close + 2);
      }
    }
    std::string line = "{\"time\":\"";
    line += time;
    line += "\",\"level\":\"";
    auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",\"pid\":" + std::to_string(getpid());
    if (!handler.empty()) {
      line += ",\"handler\":";
      append_string(handler, &line);
    }
    line += ",\"message\":";
    append_string(text, &line);
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }

 private:
  static void append_string(std::string_view s, std::string* out) {
    out->push_back('"');
    for (unsigned char c : s) {
      switch (c) {
        case '"': *out += "\\\""; break;
        case '\\': *out += "\\\\"; break;
        case '\n': *out += "\\n"; break;
        case '\r': *out += "\\r"; break;
        case '\t': *out += "\\t"; break;
        default:
          if (c < 0x20) {
            char buf[8];
            snprintf(buf, sizeof(buf), "\\u%04x", c);
            *out += buf;
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
    }
    out->push_back('"');
  }
};

}  // namespace

void setup_logging(const std::string& level, const std::string& format) {
  auto logger = spdlog::get("switchyard");
  if (!logger) logger = spdlog::stderr_color_mt("switchyard");
  spdlog::set_default_logger(logger);
  if (format == "json") {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
  } else {
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %v");
  }
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace switchyard
