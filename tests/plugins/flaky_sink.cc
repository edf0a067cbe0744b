// flaky_sink.cc: test plugin that answers RETRY "transient failure k of N" the first N
// (config.fail_times, default 1) times it sees each distinct message, then appends it as a line
// to config.path. Counts live in PATH.attempts.db (SQLite) so they survive process restarts.
// config.sleep_ms (default 0) makes it slow on retries: it sleeps that long before answering a
// batch holding an event on attempt 2 or later.
#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "common/sqlite_db.h"
#include "switchyard/handler.hpp"
#include "switchyard/payload.hpp"

namespace {

using switchyard::sinks::SqliteDb;
using switchyard::sinks::Statement;

class FlakySink : public switchyard::sdk::Handler {
 public:
  FlakySink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host) {
    switchyard::sdk::JsonObject options(config.json(), "config");
    path_ = host.resolve_path(options.required_string("path"));
    fail_times_ = options.optional_int("fail_times").value_or(1);
    sleep_ms_ = options.optional_int("sleep_ms").value_or(0);
    db_ = std::make_unique<SqliteDb>(path_ + ".attempts.db");
    db_->exec("CREATE TABLE IF NOT EXISTS attempts (message TEXT PRIMARY KEY, failures INTEGER)");
    select_ = std::make_unique<Statement>(*db_, "SELECT failures FROM attempts WHERE message = ?");
    upsert_ = std::make_unique<Statement>(*db_,
                                          "INSERT INTO attempts VALUES (?, 1) ON CONFLICT "
                                          "(message) DO UPDATE SET failures = failures + 1");
  }

  switchyard::sdk::Result handle(const switchyard::sdk::Event& event) override {
    std::vector<switchyard::sdk::Event> events{event};
    std::vector<switchyard::sdk::Result> results(1, switchyard::sdk::Result::ok());
    handle_batch(events, results);
    return results[0];
  }

  void handle_batch(const std::vector<switchyard::sdk::Event>& events,
                    std::vector<switchyard::sdk::Result>& results) override {
    std::string lines;
    // sleep_ms: a slow handler on retries (attempt > 1), e.g. longer than reclaim_after.
    for (const auto& event : events) {
      if (sleep_ms_ > 0 && event.attempt() > 1) {
        std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms_));
        break;
      }
    }
    try {
      db_->exec("BEGIN IMMEDIATE");
      for (size_t i = 0; i < events.size(); ++i) {
        select_->bind_text(1, events[i].message());
        int64_t failures = select_->step() ? select_->column_int(0) : 0;
        select_->reset();
        if (failures < fail_times_) {
          upsert_->bind_text(1, events[i].message());
          upsert_->step();
          results[i] =
              switchyard::sdk::Result::retry("transient failure " + std::to_string(failures + 1) +
                                             " of " + std::to_string(fail_times_));
        } else {
          lines.append(events[i].message()).append("\n");
        }
      }
      db_->exec("COMMIT");
    } catch (const switchyard::sinks::SqliteError& e) {
      sqlite3_exec(db_->handle(), "ROLLBACK", nullptr, nullptr, nullptr);
      throw switchyard::sdk::RetryError(std::string("flaky_sink: ") + e.what());
    }
    if (lines.empty()) return;
    std::FILE* file = std::fopen(path_.c_str(), "ab");
    if (!file) throw switchyard::sdk::RetryError("flaky_sink: cannot open " + path_);
    bool ok = std::fwrite(lines.data(), 1, lines.size(), file) == lines.size();
    ok = std::fclose(file) == 0 && ok;
    if (!ok) throw switchyard::sdk::RetryError("flaky_sink: cannot write " + path_);
  }

 private:
  std::string path_;
  int64_t fail_times_ = 1;
  int64_t sleep_ms_ = 0;
  std::unique_ptr<SqliteDb> db_;
  std::unique_ptr<Statement> select_;
  std::unique_ptr<Statement> upsert_;
};

}  // namespace

SWITCHYARD_PLUGIN(FlakySink, "flaky_sink", "1.0.0", "path", "fail_times", "sleep_ms")
