// mapping.cc: parses sql_sink's config and turns payloads into rows of typed SQL text values.
#include "mapping.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "switchyard/handler.hpp"

namespace switchyard::sql {
namespace {

struct TypeInfo {
  const char* name;
  ColumnType type;
};
constexpr TypeInfo kTypes[] = {{"smallint", ColumnType::kSmallint},
                               {"int", ColumnType::kInt},
                               {"integer", ColumnType::kInt},
                               {"bigint", ColumnType::kBigint},
                               {"double", ColumnType::kDouble},
                               {"text", ColumnType::kText},
                               {"boolean", ColumnType::kBoolean},
                               {"timestamptz", ColumnType::kTimestamptz},
                               {"timestamp", ColumnType::kTimestamp},
                               {"date", ColumnType::kDate},
                               {"json", ColumnType::kJson},
                               {"jsonb", ColumnType::kJsonb},
                               {"uuid", ColumnType::kUuid}};

std::string type_list() {
  std::string out;
  for (const TypeInfo& t : kTypes) out += (out.empty() ? "" : ", ") + std::string(t.name);
  return out;
}

[[noreturn]] void bad(const std::string& where, const std::string& what) {
  throw std::runtime_error("config." + where + ": " + what);
}

std::string string_at(const rapidjson::Value& object, const char* key, bool required) {
  auto it = object.FindMember(key);
  if (it == object.MemberEnd() || it->value.IsNull()) {
    if (required) bad(key, "required; see the README section \"Write to PostgreSQL / MySQL\"");
    return "";
  }
  if (!it->value.IsString()) bad(key, "expected a string");
  return std::string(it->value.GetString(), it->value.GetStringLength());
}

const char* json_kind(const rapidjson::Value& v) {
  if (v.IsString()) return "a string";
  if (v.IsBool()) return "a boolean";
  if (v.IsInt64()) return "an integer";
  if (v.IsNumber()) return "a number";
  if (v.IsObject()) return "an object";
  if (v.IsArray()) return "an array";
  return "null";
}

std::string serialise(const rapidjson::Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

bool digits(std::string_view s, size_t pos, size_t n) {
  if (pos + n > s.size()) return false;
  for (size_t i = pos; i < pos + n; ++i)
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  return true;
}
int number(std::string_view s, size_t pos, size_t n) {
  int v = 0;
  for (size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

bool valid_date(int y, int m, int d) {
  static const int days[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days[m - 1]) return false;
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return !(m == 2 && d == 29 && !leap);
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (s[i] != '-') return false;
    } else if (!std::isxdigit(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// The text for one present (non-null) JSON value, or throws RejectError.
std::string convert(const Column& c, const rapidjson::Value& v, Dialect dialect) {
  auto reject = [&](const std::string& expected) -> std::string {
    throw sdk::RejectError("column " + c.name + " (from \"" + c.from + "\"): expected " + expected +
                           ", got " + json_kind(v));
  };
  switch (c.type) {
    case ColumnType::kSmallint:
    case ColumnType::kInt:
    case ColumnType::kBigint: {
      if (!v.IsInt64()) reject("an integer");
      const int64_t i = v.GetInt64();
      const int64_t limit = c.type == ColumnType::kSmallint ? 32767
                            : c.type == ColumnType::kInt    ? 2147483647
                                                            : INT64_MAX;
      if (i > limit || i < -limit - 1) {
        throw sdk::RejectError("column " + c.name + " (from \"" + c.from + "\"): " +
                               std::to_string(i) + " is out of range for " + type_name(c.type));
      }
      return std::to_string(i);
    }
    case ColumnType::kDouble: {
      if (!v.IsNumber()) reject("a number");
      char text[32];
      std::snprintf(text, sizeof text, "%.17g", v.GetDouble());
      return text;
    }
    case ColumnType::kBoolean:
      if (!v.IsBool()) reject("a boolean");
      return v.GetBool() ? "1" : "0";
    case ColumnType::kText:
      if (!v.IsString()) reject("a string");
      if (dialect == Dialect::kPostgres &&
          std::string_view(v.GetString(), v.GetStringLength()).find('\0') != std::string_view::npos)
        throw sdk::RejectError("column " + c.name + " (from \"" + c.from +
                               "\"): PostgreSQL text cannot hold the character \\u0000");
      return std::string(v.GetString(), v.GetStringLength());
    case ColumnType::kUuid:
      if (!v.IsString() || !is_uuid({v.GetString(), v.GetStringLength()}))
        reject("a UUID string (8-4-4-4-12 hex digits)");
      return std::string(v.GetString(), v.GetStringLength());
    case ColumnType::kDate: {
      std::string_view s =
          v.IsString() ? std::string_view(v.GetString(), v.GetStringLength()) : std::string_view();
      if (!v.IsString() || s.size() != 10 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) ||
          s[7] != '-' || !digits(s, 8, 2) ||
          !valid_date(number(s, 0, 4), number(s, 5, 2), number(s, 8, 2)))
        reject("a date string YYYY-MM-DD");
      return std::string(s);
    }
    case ColumnType::kTimestamptz:
    case ColumnType::kTimestamp: {
      std::optional<std::string> ts;
      if (v.IsString()) ts = normalise_timestamp({v.GetString(), v.GetStringLength()});
      if (!ts) reject("an ISO 8601 date-time string such as 2026-05-07T10:00:00Z");
      return *ts;
    }
    case ColumnType::kJson:
    case ColumnType::kJsonb:
      return serialise(v);
  }
  reject("a known type");
  return "";
}

}  // namespace

const char* type_name(ColumnType type) {
  for (const TypeInfo& t : kTypes)
    if (t.type == type) return t.name;
  return "?";
}

bool is_identifier(std::string_view name) {
  if (name.empty() || name.size() > 63) return false;
  if (!std::isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (char ch : name)
    if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '_') return false;
  return true;
}

std::optional<std::string> normalise_timestamp(std::string_view s) {
  // YYYY-MM-DD[T ]HH:MM:SS[.fraction][Z|+HH:MM|-HH:MM|+HHMM|+HH]
  if (s.size() < 19 || !digits(s, 0, 4) || s[4] != '-' || !digits(s, 5, 2) || s[7] != '-' ||
      !digits(s, 8, 2) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !digits(s, 11, 2) ||
      s[13] != ':' || !digits(s, 14, 2) || s[16] != ':' || !digits(s, 17, 2))
    return std::nullopt;
  std::tm tm{};
  tm.tm_year = number(s, 0, 4) - 1900;
  tm.tm_mon = number(s, 5, 2) - 1;
  tm.tm_mday = number(s, 8, 2);
  tm.tm_hour = number(s, 11, 2);
  tm.tm_min = number(s, 14, 2);
  tm.tm_sec = number(s, 17, 2);
  if (!valid_date(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday) || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 59)
    return std::nullopt;
  size_t pos = 19;
  std::string micros = "000000";
  if (pos < s.size() && s[pos] == '.') {
    size_t start = ++pos;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) ++pos;
    if (pos == start) return std::nullopt;
    for (size_t i = 0; i < 6 && start + i < pos; ++i) micros[i] = s[start + i];
  }
  long offset = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    const int sign = s[pos] == '-' ? -1 : 1;
    ++pos;
    if (!digits(s, pos, 2)) return std::nullopt;
    int hours = number(s, pos, 2), minutes = 0;
    pos += 2;
    if (pos < s.size() && s[pos] == ':') ++pos;
    if (pos < s.size()) {
      if (!digits(s, pos, 2)) return std::nullopt;
      minutes = number(s, pos, 2);
      pos += 2;
    }
    if (hours > 23 || minutes > 59) return std::nullopt;
    offset = sign * (hours * 3600L + minutes * 60L);
  }
  if (pos != s.size()) return std::nullopt;
  time_t t = timegm(&tm) - offset;
  std::tm utc{};
  gmtime_r(&t, &utc);
  if (utc.tm_year + 1900 < 1 || utc.tm_year + 1900 > 9999) return std::nullopt;
  char text[40];
  std::snprintf(text, sizeof text, "%04d-%02d-%02d %02d:%02d:%02d.%s", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, micros.c_str());
  return std::string(text);
}

Mapping::Mapping(std::string_view config_json) {
  rapidjson::Document doc;
  doc.Parse(config_json.data(), config_json.size());
  if (doc.HasParseError() || !doc.IsObject()) throw std::runtime_error("config: expected a map");

  url = string_at(doc, "url", true);
  if (url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0) {
    dialect = Dialect::kPostgres;
  } else if (url.rfind("mysql://", 0) == 0 || url.rfind("mariadb://", 0) == 0) {
    dialect = Dialect::kMysql;
  } else {
    bad("url", "\"" + url +
                   "\" is not a database URL; write postgresql://USER@HOST/DB or "
                   "mysql://USER@HOST/DB");
  }
  password_file = string_at(doc, "password_file", false);
  password_env = string_at(doc, "password_env", false);
  if (!password_file.empty() && !password_env.empty())
    bad("password_env", "set either password_file or password_env, not both");

  table = string_at(doc, "table", true);
  {
    const size_t dot = table.find('.');
    const bool ok = dot == std::string::npos ? is_identifier(table)
                                             : is_identifier(table.substr(0, dot)) &&
                                                   is_identifier(table.substr(dot + 1));
    if (!ok)
      bad("table", "\"" + table +
                       "\" is not a plain identifier (letters, digits, '_'; optionally "
                       "schema.table)");
  }

  auto create = doc.FindMember("create_table");
  if (create != doc.MemberEnd() && !create->value.IsNull()) {
    if (!create->value.IsBool()) bad("create_table", "expected true or false");
    create_table = create->value.GetBool();
  }

  auto cols = doc.FindMember("columns");
  if (cols == doc.MemberEnd() || !cols->value.IsObject() || cols->value.MemberCount() == 0)
    bad("columns", "required: a map of column: {from: /json/pointer, type: TYPE}");
  for (auto& m : cols->value.GetObject()) {
    Column c;
    c.name.assign(m.name.GetString(), m.name.GetStringLength());
    const std::string where = "columns." + c.name;
    if (!is_identifier(c.name))
      bad(where, "\"" + c.name + "\" is not a plain identifier (letters, digits, '_')");
    if (!m.value.IsObject()) bad(where, "expected {from: /json/pointer, type: TYPE}");
    for (auto& f : m.value.GetObject()) {
      const std::string k(f.name.GetString(), f.name.GetStringLength());
      if (k != "from" && k != "type" && k != "optional")
        bad(where + "." + k, "unknown key; a column has from, type and optional");
    }
    auto from = m.value.FindMember("from");
    if (from == m.value.MemberEnd() || !from->value.IsString())
      bad(where + ".from",
          "required: a JSON pointer into the payload such as /quote_id (\"\" "
          "for the whole payload)");
    c.from.assign(from->value.GetString(), from->value.GetStringLength());
    c.pointer = rapidjson::Pointer(c.from.c_str(), c.from.size());
    if (!c.pointer.IsValid())
      bad(where + ".from", "\"" + c.from +
                               "\" is not a JSON pointer (RFC 6901): it starts with "
                               "'/' (e.g. /user/id), or is \"\" for the whole payload");
    auto type = m.value.FindMember("type");
    if (type == m.value.MemberEnd() || !type->value.IsString())
      bad(where + ".type", "required: one of " + type_list());
    const std::string t(type->value.GetString(), type->value.GetStringLength());
    bool known = false;
    for (const TypeInfo& info : kTypes) {
      if (t == info.name) {
        c.type = info.type;
        known = true;
      }
    }
    if (!known) bad(where + ".type", "unknown type \"" + t + "\"; use one of " + type_list());
    auto opt = m.value.FindMember("optional");
    if (opt != m.value.MemberEnd()) {
      if (!opt->value.IsBool()) bad(where + ".optional", "expected true or false");
      c.optional = opt->value.GetBool();
    }
    columns.push_back(std::move(c));
  }

  auto keys = doc.FindMember("key");
  if (keys == doc.MemberEnd())
    bad("key", "required: the idempotency key columns, e.g. key: [quote_id]");
  if (keys->value.IsString()) {
    key.emplace_back(keys->value.GetString(), keys->value.GetStringLength());
  } else if (keys->value.IsArray() && !keys->value.Empty()) {
    for (auto& k : keys->value.GetArray()) {
      if (!k.IsString()) bad("key", "expected a list of column names");
      key.emplace_back(k.GetString(), k.GetStringLength());
    }
  } else {
    bad("key", "expected a list of column names, e.g. key: [quote_id]");
  }
  is_key.assign(columns.size(), false);
  for (const std::string& k : key) {
    bool found = false;
    for (size_t i = 0; i < columns.size(); ++i) {
      if (columns[i].name == k) {
        if (columns[i].optional) bad("key", "key column \"" + k + "\" cannot be optional");
        if (is_key[i]) bad("key", "column \"" + k + "\" is listed twice");
        is_key[i] = true;
        found = true;
      }
    }
    if (!found) bad("key", "\"" + k + "\" is not one of the columns");
  }
}

Row make_row(const Mapping& mapping, std::string_view payload_json) {
  rapidjson::Document doc;
  doc.Parse(payload_json.data(), payload_json.size());
  if (doc.HasParseError()) throw sdk::RejectError("payload: invalid JSON");
  Row row;
  row.reserve(mapping.columns.size());
  for (const Column& c : mapping.columns) {
    const rapidjson::Value* v = c.pointer.Get(doc);
    if (!v || v->IsNull()) {
      if (!c.optional)
        throw sdk::RejectError("column " + c.name + " (from \"" + c.from +
                               "\"): required value is missing");
      row.emplace_back(std::nullopt);
      continue;
    }
    row.emplace_back(convert(c, *v, mapping.dialect));
  }
  return row;
}

}  // namespace switchyard::sql
