// logging.h: spdlog setup for the daemon (text or JSON lines on stderr, which journald picks up
// under systemd, with sd-daemon priority prefixes there), and the structured fields (source,
// event, handler, outcome) of lines about a message.
#ifndef SWITCHYARD_LOG_LOGGING_H_
#define SWITCHYARD_LOG_LOGGING_H_

#include <spdlog/formatter.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>

namespace switchyard {

// The structured fields of a log line about a message. Each one is a view of the caller's text;
// an empty view means "absent": the key is left out of the line. Values are passed raw (event
// names straight from a message included): the formatter escapes them.
struct LogFields {
  std::string_view source = {};   // the source's name under sources:
  std::string_view event = {};    // the message's event name; absent when it did not decode
  std::string_view handler = {};  // the handler instance's name under handlers:
  // What happened to the message: retry (scheduled again), reject (a handler refused it; it is
  // dead-lettered), dead_letter (dead-lettered otherwise: undecodable, unrouted, contract broken,
  // given up after retries, too many deliveries). ok | retry | reject are the outcome labels of
  // switchyard_events_handled_total too.
  std::string_view outcome = {};
};

// While a LogScope lives, every line logged on its thread carries its fields, on top of (and
// overriding, field by field, when not empty) those of the enclosing scope. The worker opens one
// around each handler call, so a plugin's own log lines say which source, handler and (when the
// whole batch has one) event they are about.
// Ownership: the views must outlive the scope. Scopes nest: destroy them in reverse order of
// construction (keep them on the stack). Not copyable.
// Thread safety: affects the calling thread only. Cheap (copies four views), so it is fine
// around every handler call on the hot path.
class LogScope {
 public:
  explicit LogScope(const LogFields& fields);
  ~LogScope();
  LogScope(const LogScope&) = delete;
  LogScope& operator=(const LogScope&) = delete;

 private:
  LogFields saved_;
};

// The fields of the calling thread's innermost LogScope (all absent outside any scope).
// Thread safety: reads the calling thread's state only.
const LogFields& current_log_fields();

// Logs one line through the default logger, like spdlog::log(level, format, args...), with
// `fields` merged over the thread's current ones. Errors: as spdlog (a bad format throws at
// compile time; spdlog's own errors go to its error handler).
// Thread safety: as spdlog; the fields apply to this line only.
template <typename... Args>
void log_with(spdlog::level::level_enum level, const LogFields& fields,
              spdlog::format_string_t<Args...> format, Args&&... args) {
  LogScope scope(fields);
  spdlog::log(level, format, std::forward<Args>(args)...);
}

// A formatter for `format` ("json", else text) that renders the thread's LogFields. Text:
//   2026-05-07 10:00:00.123 warning [source=events event=quote.created handler=quotes_db
//   outcome=retry] handler answered retry: ...
// (one line; the bracket only when a field is present; a value with spaces, quotes, '=', ']',
// backslashes, control characters or non-ASCII is double-quoted with \" and \\). Control
// characters (< 0x20, 0x7f, U+0080..U+009F) in the message and the values are written as \n, \r,
// \t, \x1b, \xNN, \u0085, and bytes that are not UTF-8 as \xNN, so that message-derived text (an
// event name, a handler's error) can neither start a forged line nor send terminal escapes.
// JSON: one object per line, {"time","level","pid", then "source","event","handler","outcome"
// when present, "message"}; strings are JSON-escaped, control characters as \n or \u00XX, bytes
// that are not UTF-8 as \ufffd. A message "[NAME] text" from a plugin becomes "handler": NAME and
// "message": "text" in JSON (the text format keeps "[NAME] " and leaves handler= out).
// The fields are read on the logging thread, so the logger must be synchronous (as
// setup_logging's is). Ownership: the caller owns the result. Thread safety: as any spdlog
// formatter (the sink calls it under its lock).
// journal_prefix: start each line with the sd-daemon(3) priority of its level, "<7>" (trace,
// debug), "<6>" (info), "<4>" (warning), "<3>" (error), "<2>" (critical), which journald strips
// and stores as the entry's PRIORITY (SyslogLevelPrefix=, on by default).
std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& format,
                                                      bool journal_prefix = false);

// The sd-daemon(3) priority prefix of `level` ("<3>" for error; see make_log_formatter).
std::string_view journal_priority_prefix(spdlog::level::level_enum level);

// Whether stderr is connected to the systemd journal: $JOURNAL_STREAM ("DEVICE:INODE", set by
// systemd for StandardError=journal, see systemd.exec(5)) names file descriptor 2 itself. A
// variable inherited by a process whose stderr was redirected elsewhere does not count.
// Thread safety: reads the environment; call before starting threads.
bool stderr_is_journal();

// Makes the default logger a synchronous stderr logger with make_log_formatter(format,
// stderr_is_journal()).
// level: trace|debug|info|warn|error; format: text|json (as validated by the config loader).
// Thread safety: call once, before starting threads.
void setup_logging(const std::string& level, const std::string& format);

}  // namespace switchyard

#endif  // SWITCHYARD_LOG_LOGGING_H_
