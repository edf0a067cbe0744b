// logging.cc: the text and JSON-lines log formats, their escaping, and the per-thread fields.
#include "ops/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include "util/utf8.h"

namespace switchyard {
namespace {

thread_local LogFields t_fields;

enum class Style {
  kJson,        // inside a JSON string: " and \ escaped, controls as \n or \u00XX, bad bytes U+FFFD
  kText,        // a text-format message: only controls and bad bytes escaped (\n, \x1b, \xNN)
  kTextQuoted,  // a double-quoted text-format value: as kText, plus \" and \\ .
};

void append_escaped(std::string_view s, Style style, std::string* out) {
  const bool json = style == Style::kJson;
  const bool quote_escapes = style != Style::kText;
  char buf[16];
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t n = utf8_sequence_length(s.data() + i, s.size() - i);
    if (n == 0) {
      if (json) {
        *out += "\\ufffd";
      } else {
        snprintf(buf, sizeof(buf), "\\x%02x", c);
        *out += buf;
      }
      ++i;
      continue;
    }
    if (n == 1) {
      switch (c) {
        case '\n': *out += "\\n"; break;
        case '\r': *out += "\\r"; break;
        case '\t': *out += "\\t"; break;
        case '"':
        case '\\':
          if (quote_escapes) out->push_back('\\');
          out->push_back(static_cast<char>(c));
          break;
        default:
          if (c < 0x20 || c == 0x7f) {
            snprintf(buf, sizeof(buf), json ? "\\u%04x" : "\\x%02x", c);
            *out += buf;
          } else {
            out->push_back(static_cast<char>(c));
          }
      }
    } else if (n == 2 && c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      // U+0080..U+009F, the C1 controls (U+009B is a CSI to some terminals).
      snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned char>(s[i + 1]));
      *out += buf;
    } else if (json && n == 3 && s.compare(i, 2, "\xe2\x80") == 0 &&
               (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
      // U+2028/U+2029: valid JSON, but line breaks to JavaScript and to some log viewers.
      *out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
    } else {
      out->append(s.data() + i, n);
    }
    i += n;
  }
}

void append_json_string(std::string_view s, std::string* out) {
  out->push_back('"');
  append_escaped(s, Style::kJson, out);
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
  append_escaped(value, Style::kTextQuoted, out);
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
    append_escaped(text, Style::kText, &line);
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
