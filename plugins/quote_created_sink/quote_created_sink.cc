// quote_created_sink.cc: stores quote.created events as rows of quotes (SQLite).
#include <iterator>
#include <vector>

#include "common/sqlite_sink.h"
#include "switchyard/version.h"

namespace {

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS quotes ("
    "quote_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, product_id INTEGER NOT NULL, "
    "qty INTEGER NOT NULL, created_at TEXT, received_at TEXT NOT NULL)";

constexpr const char* kInsert =
    "INSERT INTO quotes (quote_id, user_id, product_id, qty, created_at, received_at) "
    "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (quote_id) DO NOTHING";

class QuoteCreatedSink : public switchyard::sinks::SqliteSink {
 public:
  QuoteCreatedSink(const switchyard::sdk::PluginConfig& config, switchyard::sdk::Host& host)
      : SqliteSink(config, host, kCreateTable, kInsert) {}

  // payload.quote_id, user_id, product_id, qty (integers) are required; created_at is an
  // optional string.
  void row(const switchyard::sinks::PayloadFields& payload,
           std::vector<switchyard::sinks::SqlValue>& values) const override {
    const switchyard::sinks::SqlValue row[] = {
        payload.required_int("quote_id"), payload.required_int("user_id"),
        payload.required_int("product_id"), payload.required_int("qty"),
        switchyard::sinks::text_or_null(payload.optional_string("created_at"))};
    values.insert(values.end(), std::begin(row), std::end(row));
  }
};

}  // namespace

SWITCHYARD_PLUGIN(QuoteCreatedSink, "quote_created_sink", SWITCHYARD_VERSION_STRING, "database")
