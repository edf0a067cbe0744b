// router_fixture.cc: the shared fixture and dead-letter assertions of the router tests.
#include "router_fixture.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <unistd.h>

#include <algorithm>
#include <iostream>
#include <regex>
#include <sstream>
#include <stdexcept>

#include "support/dead_letters.h"
#include "support/sqlite_db.h"
#include "support/wait.h"

namespace switchyard::test {

void RouterTest::SetUp() {
  redis_.start();
  client_.emplace(redis_.client());
}

void RouterTest::TearDown() {
  if (HasFailure()) {
    std::cerr << "---- diagnostics ----\n" << diagnostics() << "\n";
  }
}

RoutesYaml RouterTest::base_spec() const {
  RoutesYaml spec;
  spec.redis_url = redis_.url();
  spec.plugins_dir = SWITCHYARD_PLUGIN_DIR;
  spec.database = db_path();
  spec.source_name = kKey;
  spec.source_key = kKey;
  return spec;
}

std::string RouterTest::write_config(const RoutesYaml& spec, const std::string& name) const {
  return dir_.write(name, routes_yaml(spec));
}

void RouterTest::start_daemon(const std::string& config_path) {
  daemon_ = SwitchyardProcess::run(config_path, dir_.file("daemon.log"));
}

std::vector<std::string> RouterTest::inflight_lists() {
  return client().keys(std::string(kKey) + ":inflight:*");
}

bool RouterTest::wait_drained(std::chrono::milliseconds timeout, const std::string& what) {
  // A daemon that died ends the wait at once (failing) rather than at the timeout.
  const bool done = wait_until(
      [&] {
        return !daemon_.is_running() || (client().llen(kKey) == 0 && inflight_lists().empty());
      },
      timeout, what.empty() ? std::string(kKey) + " drained and acknowledged" : what);
  if (done && !daemon_.is_running()) {
    ADD_FAILURE() << "the daemon exited (status " << daemon_.process().exit_status().value_or(-1)
                  << ") before " << kKey << " was drained:\n"
                  << daemon_.log_tail();
    return false;
  }
  return done;
}

bool RouterTest::wait_idle(std::chrono::milliseconds timeout) {
  return wait_until(
      [&] {
        // The worker's connection, blocked in BLMOVE on K: Redis flags it 'b'.
        const std::string list = client().command({"CLIENT", "LIST"}).str;
        std::istringstream lines(list);
        for (std::string line; std::getline(lines, line);) {
          if (line.find(" cmd=blmove") != std::string::npos &&
              std::regex_search(line, std::regex(" flags=[A-Za-z]*b")))
            return true;
        }
        return false;
      },
      timeout, "the daemon's worker blocked in BLMOVE on " + std::string(kKey));
}

std::vector<rapidjson::Document> RouterTest::dead_letters() {
  std::vector<rapidjson::Document> out;
  for (const std::string& raw : client().lrange(std::string(kKey) + ":dead")) {
    rapidjson::Document doc;
    doc.Parse(raw.data(), raw.size());
    if (doc.HasParseError() || !doc.IsObject()) {
      ADD_FAILURE() << "a K:dead element is not a JSON object: " << raw;
      continue;
    }
    out.push_back(std::move(doc));
  }
  return out;
}

int64_t RouterTest::rows(const std::string& table) const { return count_rows(db_path(), table); }

std::string RouterTest::diagnostics() {
  std::string out = "daemon log (" + daemon_.log_path() + "):\n" + daemon_.log_tail(40);
  try {
    out += "\nkeys: ";
    for (const auto& k : client().keys("*")) out += k + " ";
    out += "\n" + std::string(kKey) + ": " + std::to_string(client().llen(kKey)) +
           " pending, dead " + std::to_string(client().llen(std::string(kKey) + ":dead"));
  } catch (const std::exception& e) {
    out += std::string("(redis: ") + e.what() + ")";
  }
  return out;
}

std::string dead_message(const rapidjson::Value& letter) {
  // Decoded as Switchyard decodes K:dead: the exact bytes, from "message_base64" when the
  // message was not UTF-8.
  rapidjson::StringBuffer json;
  rapidjson::Writer<rapidjson::StringBuffer> writer(json);
  letter.Accept(writer);
  return read_dead_letter(std::string(json.GetString(), json.GetSize())).message;
}

std::string dead_reason(const rapidjson::Value& letter) {
  auto it = letter.FindMember("reason");
  if (it == letter.MemberEnd() || !it->value.IsString()) return "";
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

void expect_dead_letter(const rapidjson::Value& letter, const std::string& message,
                        const std::string& source, const char* handler,
                        const std::vector<std::string>& reason_parts, int attempts,
                        pid_t daemon_pid) {
  ASSERT_TRUE(letter.IsObject());
  SCOPED_TRACE("dead letter of message " + json_string(message));
  // Exactly the README's fields.
  for (const char* field :
       {"message", "source", "handler", "reason", "attempts", "failed_at", "instance"}) {
    EXPECT_TRUE(letter.HasMember(field)) << "missing field " << field;
  }
  // An oversize message's letter holds its first bytes plus message_bytes and message_sha256.
  EXPECT_EQ(letter.MemberCount(), 7u + (letter.HasMember("message_base64") ? 1 : 0) +
                                      (letter.HasMember("message_sha256") ? 2 : 0))
      << "unexpected extra fields";

  ASSERT_TRUE(letter["message"].IsString());
  EXPECT_EQ(dead_message(letter), message) << "message is not the original bytes verbatim";

  ASSERT_TRUE(letter["source"].IsString());
  EXPECT_EQ(std::string(letter["source"].GetString()), source);

  if (handler == nullptr) {
    EXPECT_TRUE(letter["handler"].IsNull()) << "handler should be null (failed before routing)";
  } else {
    ASSERT_TRUE(letter["handler"].IsString());
    EXPECT_EQ(std::string(letter["handler"].GetString()), handler);
  }

  ASSERT_TRUE(letter["reason"].IsString());
  const std::string reason = dead_reason(letter);
  for (const std::string& part : reason_parts) {
    EXPECT_NE(reason.find(part), std::string::npos)
        << "reason \"" << reason << "\" does not say \"" << part << "\"";
  }

  ASSERT_TRUE(letter["attempts"].IsInt());
  EXPECT_EQ(letter["attempts"].GetInt(), attempts);

  ASSERT_TRUE(letter["failed_at"].IsString());
  static const std::regex kIsoUtc(R"(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|\+00:00))");
  EXPECT_TRUE(std::regex_match(std::string(letter["failed_at"].GetString()), kIsoUtc))
      << "failed_at is not ISO 8601 UTC: " << letter["failed_at"].GetString();

  ASSERT_TRUE(letter["instance"].IsString());
  char host[256] = {0};
  ASSERT_EQ(gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(std::string(letter["instance"].GetString()),
            std::string(host) + ":" + std::to_string(daemon_pid));
}

std::string line_col(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  if (at == std::string::npos) return "?";
  const size_t line_start = text.rfind('\n', at);
  const size_t col = line_start == std::string::npos ? at + 1 : at - line_start;
  const size_t line = 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + at, '\n'));
  return std::to_string(line) + ":" + std::to_string(col);
}

}  // namespace switchyard::test
