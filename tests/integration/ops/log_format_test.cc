// log_format_test.cc: the text and JSON log formats in process (make_log_formatter into a string):
// structured fields, LogScope nesting, plugin "[NAME] " lines, and escaping of control characters
// and bytes that are not UTF-8; the journald priority prefixes.
#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "log/logging.h"
#include "support/terminal_text.h"
#include "util/utf8.h"

namespace switchyard {
namespace {

using namespace std::string_literals;

// Installs a default logger writing with make_log_formatter(format) into a string; restores the
// previous default logger when destroyed.
class CapturedLog {
 public:
  explicit CapturedLog(const std::string& format, bool journal_prefix = false)
      : previous_(spdlog::default_logger()) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out_);
    sink->set_formatter(make_log_formatter(format, journal_prefix));
    auto logger = std::make_shared<spdlog::logger>("captured", sink);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~CapturedLog() { spdlog::set_default_logger(previous_); }
  std::string text() const { return out_.str(); }
  // The lines, without their '\n'.
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    std::istringstream in(out_.str());
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> previous_;
  std::ostringstream out_;
};

// Parses one JSON line, insisting on valid UTF-8; ADD_FAILUREs otherwise.
rapidjson::Document parse(const std::string& line) {
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(line.data(), line.size());
  EXPECT_FALSE(doc.HasParseError()) << rapidjson::GetParseError_En(doc.GetParseError()) << " at "
                                    << doc.GetErrorOffset() << ": " << line;
  EXPECT_TRUE(doc.IsObject()) << line;
  return doc;
}

std::string str(const rapidjson::Value& doc, const char* key) {
  if (!doc.IsObject() || !doc.HasMember(key) || !doc[key].IsString()) return "<absent>";
  return std::string(doc[key].GetString(), doc[key].GetStringLength());
}

// Hostile text: newline then a forged line, CR, tab, ESC sequence, DEL, NUL, SOH, a C1 CSI,
// bytes that are not UTF-8 (a lone 0xff, a truncated sequence, an overlong '/'), U+2028, and
// valid non-ASCII.
const std::string kHostile = "evil\nFAKE LINE\r\t\x1b[31m\x7f"s + '\0' +
                             "\x01 \xc2\x9b \xff \xe2\x82 \xc0\xaf \xe2\x80\xa8 caf\xc3\xa9";

// True when `line` holds no byte a terminal acts on (support/terminal_text.h; not even '\n') and
// is well-formed UTF-8.
bool clean(const std::string& line) {
  return test::terminal_control_at(line, false) == std::string::npos &&
         is_valid_utf8(line.data(), line.size());
}

TEST(LogFormatTest, JsonCarriesTheFieldsThatArePresentAndEscapesEverything) {
  CapturedLog log("json");
  spdlog::info("plain line");
  log_with(spdlog::level::warn,
           {.source = "events", .event = kHostile, .handler = "quotes_db", .outcome = "retry"},
           "handler answered retry: {}", kHostile);
  log_with(spdlog::level::warn, {.source = "events", .outcome = "dead_letter"},
           "dead-lettered a message: {}", "invalid JSON");

  const std::string text = log.text();
  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 3u) << text;
  ASSERT_EQ(text.back(), '\n');

  rapidjson::Document plain = parse(lines[0]);
  EXPECT_EQ(str(plain, "message"), "plain line");
  EXPECT_EQ(str(plain, "level"), "info");
  for (const char* key : {"source", "event", "handler", "outcome"})
    EXPECT_FALSE(plain.HasMember(key)) << key << " in a line without fields: " << lines[0];

  rapidjson::Document hostile = parse(lines[1]);
  // Valid UTF-8 and controls round-trip; each byte that is not UTF-8 becomes U+FFFD.
  const std::string expected =
      "evil\nFAKE LINE\r\t\x1b[31m\x7f"s + '\0' +
      "\x01 \xc2\x9b \xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xef\xbf\xbd\xef\xbf\xbd \xe2\x80\xa8 "
      "caf\xc3\xa9";
  EXPECT_EQ(str(hostile, "event"), expected);
  EXPECT_EQ(str(hostile, "message"), "handler answered retry: " + expected);
  EXPECT_EQ(str(hostile, "source"), "events");
  EXPECT_EQ(str(hostile, "handler"), "quotes_db");
  EXPECT_EQ(str(hostile, "outcome"), "retry");
  EXPECT_EQ(str(hostile, "level"), "warning");
  EXPECT_TRUE(clean(lines[1])) << "raw control or non-UTF-8 bytes in: " << lines[1];
  EXPECT_NE(lines[1].find("\\u001b"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\\u009b"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("\\u2028"), std::string::npos) << lines[1];

  rapidjson::Document dead = parse(lines[2]);
  EXPECT_EQ(str(dead, "outcome"), "dead_letter");
  EXPECT_FALSE(dead.HasMember("event")) << lines[2];
  EXPECT_FALSE(dead.HasMember("handler")) << lines[2];
}

TEST(LogFormatTest, ScopesNestAndPluginLinesGetTheirHandler) {
  CapturedLog log("json");
  {
    LogScope batch({.source = "events", .event = "quote.created", .handler = "quotes_db"});
    spdlog::info("[quotes_db] wrote 3 rows");  // as the plugin host logs a plugin's line
    log_with(spdlog::level::warn, {.outcome = "retry"}, "inner");
    {
      LogScope inner({.event = "other.event"});
      spdlog::info("[someone_else] not this scope's handler");
    }
    spdlog::info("after the inner scope");
  }
  spdlog::info("[probe] outside any scope");
  spdlog::info("no fields any more");

  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 6u) << log.text();
  rapidjson::Document plugin = parse(lines[0]);
  EXPECT_EQ(str(plugin, "handler"), "quotes_db");
  EXPECT_EQ(str(plugin, "message"), "wrote 3 rows");
  EXPECT_EQ(str(plugin, "source"), "events");
  EXPECT_EQ(str(plugin, "event"), "quote.created");
  EXPECT_FALSE(plugin.HasMember("outcome"));

  rapidjson::Document inner = parse(lines[1]);
  EXPECT_EQ(str(inner, "outcome"), "retry");
  EXPECT_EQ(str(inner, "handler"), "quotes_db");
  EXPECT_EQ(str(inner, "event"), "quote.created");

  rapidjson::Document other = parse(lines[2]);
  EXPECT_EQ(str(other, "event"), "other.event");
  EXPECT_EQ(str(other, "handler"), "quotes_db");
  EXPECT_EQ(str(other, "message"), "[someone_else] not this scope's handler");

  rapidjson::Document after = parse(lines[3]);
  EXPECT_EQ(str(after, "event"), "quote.created") << "the inner scope's event was not restored";
  EXPECT_FALSE(after.HasMember("outcome")) << "log_with's fields outlived its line";

  rapidjson::Document outside = parse(lines[4]);
  EXPECT_EQ(str(outside, "handler"), "probe");
  EXPECT_EQ(str(outside, "message"), "outside any scope");
  EXPECT_FALSE(outside.HasMember("source"));

  rapidjson::Document none = parse(lines[5]);
  for (const char* key : {"source", "event", "handler", "outcome"})
    EXPECT_FALSE(none.HasMember(key)) << key << ": " << lines[5];
}

TEST(LogFormatTest, TextPrefixesTheFieldsAndEscapesControlCharacters) {
  CapturedLog log("text");
  spdlog::info("plain line");
  log_with(spdlog::level::warn,
           {.source = "events", .event = kHostile, .handler = "quotes_db", .outcome = "reject"},
           "handler answered reject: {}", kHostile);
  {
    LogScope batch({.source = "events", .event = "a b=c", .handler = "quotes_db"});
    spdlog::info("[quotes_db] wrote 3 rows");
  }
  log_with(spdlog::level::warn, {.event = "we\"ird\\name"}, "quotes and backslashes");

  const std::string text = log.text();
  const std::vector<std::string> lines = log.lines();
  ASSERT_EQ(lines.size(), 4u) << text;
  static const std::regex kStart(R"(^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \S+ +)");
  for (const std::string& line : lines) {
    EXPECT_TRUE(std::regex_search(line, kStart)) << "not a log line: " << line;
    EXPECT_TRUE(clean(line)) << "raw control or non-UTF-8 bytes in: " << line;
  }
  EXPECT_TRUE(lines[0].ends_with(" plain line")) << lines[0];
  EXPECT_EQ(lines[0].find('['), std::string::npos) << lines[0];

  // Escapes: \n \r \t, \xNN for other controls and for bytes that are not UTF-8, \u00NN for C1.
  const std::string escaped =
      R"(evil\nFAKE LINE\r\t\x1b[31m\x7f\x00\x01 \u009b \xff \xe2\x82 \xc0\xaf )"
      "\xe2\x80\xa8 caf\xc3\xa9";
  // Inside event="..." the same escapes; a literal " or \ would be \" or \\ (there is none).
  EXPECT_NE(
      lines[1].find("[source=events event=\"" + escaped +
                    "\" handler=quotes_db outcome=reject] handler answered reject: " + escaped),
      std::string::npos)
      << lines[1];

  // A plugin's "[NAME] " already names the handler; a value with a space or '=' is quoted.
  EXPECT_TRUE(lines[2].ends_with(" [source=events event=\"a b=c\"] [quotes_db] wrote 3 rows"))
      << lines[2];
  EXPECT_TRUE(lines[3].ends_with(R"( [event="we\"ird\\name"] quotes and backslashes)")) << lines[3];
}

// With journal_prefix, each line starts with the sd-daemon priority of its level, in both formats;
// without it, with none.
TEST(LogFormatTest, JournalPrefixGivesEachLevelItsSyslogPriority) {
  const std::vector<std::pair<spdlog::level::level_enum, std::string>> levels = {
      {spdlog::level::trace, "<7>"}, {spdlog::level::debug, "<7>"},
      {spdlog::level::info, "<6>"},  {spdlog::level::warn, "<4>"},
      {spdlog::level::err, "<3>"},   {spdlog::level::critical, "<2>"}};
  for (const std::string format : {"text", "json"}) {
    SCOPED_TRACE(format);
    CapturedLog journal(format, true);
    for (const auto& [level, prefix] : levels) spdlog::log(level, "line at {}", prefix);
    std::vector<std::string> lines = journal.lines();
    ASSERT_EQ(lines.size(), levels.size()) << journal.text();
    for (size_t i = 0; i < levels.size(); ++i) {
      EXPECT_EQ(lines[i].substr(0, 3), levels[i].second) << lines[i];
      EXPECT_TRUE(lines[i].find("line at " + levels[i].second) != std::string::npos) << lines[i];
      EXPECT_EQ(journal_priority_prefix(levels[i].first), levels[i].second);
    }
    if (format == "json") parse(lines[2].substr(3));

    CapturedLog plain(format);
    spdlog::warn("no prefix");
    EXPECT_NE(plain.text().substr(0, 1), "<") << plain.text();
  }
}

}  // namespace
}  // namespace switchyard
