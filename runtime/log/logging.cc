// logging.cc: the text and JSON-lines log formats, their escaping, and the per-thread fields.
#include "log/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "util/escape.h"

namespace switchyard {
namespace {

thread_local LogFields t_fields;

void append_json_string(std::string_view s, std::string* out) {
  out->push_back('"');
  append_escaped(s, EscapeStyle::kJson, out);
  out->push_back('"');
}

// key=value for the text format; the value double-quoted unless it is plain printable ASCII
// that cannot be mistaken for the end of the value or of the field list.
void append_text_field(const char* key, std::string_view value, std::string* out) {
  *out += key;
  out->push_back('=');
  bool plain = !value.empty();
  for (char ch : value) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '=' || c == '[' || c == ']' || c == '\\') {
      plain = false;
      break;
    }
  }
  if (plain) {
    out->append(value);
    return;
  }
  out->push_back('"');
  append_escaped(value, EscapeStyle::kTextQuoted, out);
  out->push_back('"');
}

// "NAME" when `text` is a plugin's line "[NAME] ...", else empty.
std::string_view plugin_prefix(std::string_view text) {
  if (text.size() < 4 || text[0] != '[') return {};
  size_t close = text.find("] ");
  if (close == std::string_view::npos) return {};
  return text.substr(1, close - 1);
}

// {"time":"...Z","level":"warning","pid":1,"source":"events","event":"quote.created",
//  "handler":"quotes_db","outcome":"retry","message":"..."}: one object per line.
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

    LogFields fields = current_log_fields();
    std::string_view text(msg.payload.data(), msg.payload.size());
    // A plugin's line "[NAME] text": NAME is the handler (the scope's, when there is one).
    std::string_view prefix = plugin_prefix(text);
    if (!prefix.empty() && (fields.handler.empty() || fields.handler == prefix)) {
      fields.handler = prefix;
      text.remove_prefix(prefix.size() + 3);
    }

    std::string line = "{\"time\":\"";
    line += time;
    line += "\",\"level\":\"";
    auto level = spdlog::level::to_string_view(msg.level);
    line.append(level.data(), level.size());
    line += "\",\"pid\":" + std::to_string(getpid());
    auto field = [&line](const char* key, std::string_view value) {
      if (value.empty()) return;
      line += ",\"";
      line += key;
      line += "\":";
      append_json_string(value, &line);
    };
    field("source", fields.source);
    field("event", fields.event);
    field("handler", fields.handler);
    field("outcome", fields.outcome);
    line += ",\"message\":";
    append_json_string(text, &line);
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// %* in the text pattern: "[source=... event=... handler=... outcome=...] " when any field is
// present, then the message, escaped.
class TextMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const LogFields& fields = current_log_fields();
    std::string_view text(msg.payload.data(), msg.payload.size());
    // A plugin's "[NAME] text" already names its handler.
    std::string_view handler = fields.handler;
    if (!handler.empty() && plugin_prefix(text) == handler) handler = {};
    std::string line;
    bool any = false;
    auto field = [&](const char* key, std::string_view value) {
      if (value.empty()) return;
      line.push_back(any ? ' ' : '[');
      any = true;
      append_text_field(key, value, &line);
    };
    field("source", fields.source);
    field("event", fields.event);
    field("handler", handler);
    field("outcome", fields.outcome);
    if (any) line += "] ";
    append_escaped(text, EscapeStyle::kText, &line);
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::custom_flag_formatter> clone() const override {
    return std::make_unique<TextMessageFlag>();
  }
};

}  // namespace

LogScope::LogScope(const LogFields& fields) : saved_(t_fields) {
  if (!fields.source.empty()) t_fields.source = fields.source;
  if (!fields.event.empty()) t_fields.event = fields.event;
  if (!fields.handler.empty()) t_fields.handler = fields.handler;
  if (!fields.outcome.empty()) t_fields.outcome = fields.outcome;
}

LogScope::~LogScope() { t_fields = saved_; }

const LogFields& current_log_fields() { return t_fields; }

std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format) {
  if (format == "json") return std::make_unique<JsonFormatter>();
  auto text = std::make_unique<spdlog::pattern_formatter>();
  text->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %*");
  return text;
}

void setup_logging(const std::string& level, const std::string& format) {
  // Synchronous: the sink formats on the logging thread, where its LogFields are.
  auto logger = spdlog::get("switchyard");
  if (!logger) logger = spdlog::stderr_color_mt("switchyard");
  spdlog::set_default_logger(logger);
  spdlog::set_formatter(make_log_formatter(format));
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace switchyard
