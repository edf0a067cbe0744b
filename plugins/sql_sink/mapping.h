// mapping.h: sql_sink's configuration (URL, table, key, typed columns from JSON pointers) and the
// conversion of one payload into one row of SQL text values, shared by every database backend.
// Thread safety: a Mapping is immutable after construction; row() is safe from any thread.
#ifndef SWITCHYARD_PLUGINS_SQL_SINK_MAPPING_H_
#define SWITCHYARD_PLUGINS_SQL_SINK_MAPPING_H_

#include <rapidjson/pointer.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchyard::sql {

// The column types sql_sink understands. The value sent to the database is text in a form both
// PostgreSQL and MariaDB/MySQL parse the same way (timestamps normalised to UTC).
enum class ColumnType {
  kSmallint,
  kInt,
  kBigint,
  kDouble,
  kText,
  kBoolean,
  kTimestamptz,
  kTimestamp,
  kDate,
  kJson,
  kJsonb,
  kUuid
};

// The type's name as written in routes.yaml ("bigint", "timestamptz", ...).
const char* type_name(ColumnType type);

// One target column: its name, the JSON pointer it is read from, its type.
struct Column {
  std::string name;
  std::string from;  // the pointer as written ("" is the whole payload)
  rapidjson::Pointer pointer;
  ColumnType type;
  bool optional = false;  // missing or null -> SQL NULL instead of a reject
};

// Which database the URL names.
enum class Dialect { kPostgres, kMysql };

// The parsed `config:` of one sql_sink handler.
// Errors: the constructor throws std::runtime_error naming the key ("config.columns.qty.type: ...")
// and saying what to write instead.
struct Mapping {
  // config_json: the handler's config object. The password is not read here (see SqlSink).
  explicit Mapping(std::string_view config_json);

  Dialect dialect;
  std::string url;
  std::string password_file;  // as written (resolve it against routes.yaml's directory)
  std::string password_env;   // name of an environment variable holding the password
  std::string table;          // validated identifier, optionally schema.table
  std::vector<std::string> key;
  std::vector<Column> columns;  // in routes.yaml's order
  std::vector<bool> is_key;     // per column: part of key
  bool create_table = false;
};

// One row: a text value per column, nullopt for SQL NULL.
using Row = std::vector<std::optional<std::string>>;

// Maps a payload (JSON object text) to a row. Throws RejectError naming the JSON pointer and the
// column: `column qty (from /qty): expected an integer, got a string`.
Row make_row(const Mapping& mapping, std::string_view payload_json);

// "2026-05-07T10:00:00.5+02:00" -> "2026-05-07 08:00:00.500000" (UTC). A missing offset means UTC.
// nullopt when the text is not an ISO 8601 date-time.
std::optional<std::string> normalise_timestamp(std::string_view text);

// True for a plain SQL identifier: a letter or '_', then letters, digits, '_'; at most 63 bytes.
bool is_identifier(std::string_view name);

}  // namespace switchyard::sql

#endif  // SWITCHYARD_PLUGINS_SQL_SINK_MAPPING_H_
