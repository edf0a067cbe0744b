// user_registered_sink.cc: stores user.registered events as rows of user_registrations (SQLite).
#include <iterator>
#include <vector>

#include "common/sqlite_sink.h"
#include "switchyard/version.h"

namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS user_registrations ("
    "user_id INTEGER PRIMARY KEY, email TEXT, name TEXT, created_at TEXT, "
    "received_at TEXT NOT NULL)";

constexpr const char* kInsert =
    "INSERT INTO user_registrations (user_id, email, name, created_at, received_at) "
    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id) DO NOTHING";

class UserRegisteredSink : public switchyard::sinks::SqliteSink {
 public:
  UserRegisteredSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host)
      : SqliteSink(config, host, kCreateTable, kInsert) {}

  // payload.user_id (integer) is required; email, name, created_at are optional strings.
  void row(const switchyard::sinks::PayloadFields& payload,
           std::vector<switchyard::sinks::SqlValue>& values) const override {
    using switchyard::sinks::text_or_null;
    const switchyard::sinks::SqlValue row[] = {payload.required_int("user_id"),
                                               text_or_null(payload.optional_string("email")),
                                               text_or_null(payload.optional_string("name")),
                                               text_or_null(payload.optional_string("created_at"))};
    values.insert(values.end(), std::begin(row), std::end(row));
  }
};

}  // namespace

SWITCHYARD_PLUGIN(UserRegisteredSink, "user_registered_sink", SWITCHYARD_VERSION_STRING, "database")
