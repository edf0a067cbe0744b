// logging.cc: the text and JSON-lines log formats, their escaping, and the per-thread fields.
#include "log/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
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

// Writes "<N>" before what `inner` writes.
class JournalPrefixFormatter : public spdlog::formatter {
 public:
  explicit JournalPrefixFormatter(std::unique_ptr<spdlog::formatter> inner)
      : inner_(std::move(inner)) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string_view prefix = journal_priority_prefix(msg.level);
    dest.append(prefix.data(), prefix.data() + prefix.size());
    inner_->format(msg, dest);
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JournalPrefixFormatter>(inner_->clone());
  }

 private:
  std::unique_ptr<spdlog::formatter> inner_;
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

std::string_view journal_priority_prefix(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::critical:
      return "<2>";  // SD_CRIT
    case spdlog::level::err:
      return "<3>";  // SD_ERR
    case spdlog::level::warn:
      return "<4>";  // SD_WARNING
    case spdlog::level::info:
      return "<6>";  // SD_INFO
    default:
      return "<7>";  // SD_DEBUG: debug, trace
  }
}

bool stderr_is_journal() {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  unsigned long long device = 0, inode = 0;
  char end = 0;
  if (std::sscanf(stream, "%llu:%llu%c", &device, &inode, &end) != 2) return false;
  struct stat st;
  if (fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == device &&
         static_cast<unsigned long long>(st.st_ino) == inode;
}

std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format,
                                                      bool journal_prefix) {
  std::unique_ptr<spdlog::formatter> formatter;
  if (format == "json") {
    formatter = std::make_unique<JsonFormatter>();
  } else {
    auto text = std::make_unique<spdlog::pattern_formatter>();
    text->add_flag<TextMessageFlag>('*').set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ %*");
    formatter = std::move(text);
  }
  if (journal_prefix) return std::make_unique<JournalPrefixFormatter>(std::move(formatter));
  return formatter;
}

void setup_logging(const std::string& level, const std::string& format) {
  // Synchronous: the sink formats on the logging thread, where its LogFields are.
  auto logger = spdlog::get("switchyard");
  if (!logger) logger = spdlog::stderr_color_mt("switchyard");
  spdlog::set_default_logger(logger);
  // Under systemd with StandardError=journal, "<N>" prefixes give each entry its priority, so
  // `journalctl -p warning` works. Chosen over spdlog's systemd sink: stderr stays the one
  // output (a terminal, a pipe or the journal alike) with the same escaping, and nothing is
  // lost while journald's socket is unavailable.
  spdlog::set_formatter(make_log_formatter(format, stderr_is_journal()));
  spdlog::set_level(spdlog::level::from_str(level));
  spdlog::flush_on(spdlog::level::info);
}

}  // namespace switchyard
