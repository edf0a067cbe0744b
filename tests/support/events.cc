// events.cc: envelope builders and the routes.yaml writer.
#include "support/events.h"

#include <cstdio>

namespace switchyard::test {
namespace {

constexpr const char* kCreatedAt = "\"2026-05-07T10:00:00+00:00\"";

// Prefixes every non-empty line of `text` with `spaces` spaces; ensures a trailing newline.
std::string indent(const std::string& text, int spaces) {
  std::string out;
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty()) out += std::string(static_cast<std::size_t>(spaces), ' ') + line + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string envelope(const std::string& event, const std::string& payload_json) {
  return "{\"event\":" + json_string(event) + ",\"payload\":" + payload_json + "}";
}

std::string user_registered(int64_t user_id) {
  const std::string n = std::to_string(user_id);
  return envelope("user.registered", "{\"user_id\":" + n + ",\"email\":\"user" + n +
                                         "@example.com\",\"name\":\"User " + n +
                                         "\",\"created_at\":" + kCreatedAt + "}");
}

std::string quote_created(int64_t quote_id) {
  const std::string q = std::to_string(quote_id);
  return envelope("quote.created", "{\"quote_id\":" + q + ",\"user_id\":" + q +
                                       ",\"product_id\":" + std::to_string(quote_id % 100 + 1) +
                                       ",\"qty\":" + std::to_string(quote_id % 10 + 1) +
                                       ",\"created_at\":" + kCreatedAt + "}");
}

std::vector<std::string> mixed_events(std::size_t n, int64_t first_id) {
  std::vector<std::string> out;
  out.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    const int64_t id = first_id + static_cast<int64_t>(i / 2);
    out.push_back(i % 2 == 0 ? user_registered(id) : quote_created(id));
  }
  return out;
}

std::string routes_yaml(const RoutesYaml& spec) {
  const std::string db = json_string(spec.database);
  std::string y;
  y += "version: 1\n";
  y += "redis:\n  url: " + json_string(spec.redis_url) + "\n";
  if (!spec.plugins_dir.empty()) y += "plugins_dir: " + json_string(spec.plugins_dir) + "\n";
  y += "sources:\n";
  y += "  " + json_string(spec.source_name) + ":\n";
  y += "    type: " + spec.source_type + "\n";
  y += "    key: " + json_string(spec.source_key) + "\n";
  if (!spec.source_format.empty()) {
    y += "    format: " + spec.source_format + "\n";
    if (spec.source_format == "laravel")
      y += "    prefix: " + json_string(spec.laravel_prefix) + "\n";
  }
  if (spec.source_type == "stream") {
    if (!spec.stream_group.empty()) y += "    group: " + json_string(spec.stream_group) + "\n";
    if (!spec.stream_start.empty()) y += "    start: " + json_string(spec.stream_start) + "\n";
  }
  y += indent(spec.source_extra, 4);
  y += "handlers:\n";
  y += "  users_db:\n    plugin: user_registered_sink\n    config: { database: " + db + " }\n";
  y += "  quotes_db:\n    plugin: quote_created_sink\n    config: { database: " + db + " }\n";
  y += indent(spec.extra_handlers, 2);
  y += "routes:\n";
  y += "  user.registered: [users_db]\n";
  y += "  quote.created: [quotes_db]\n";
  y += indent(spec.extra_routes, 2);
  if (!spec.extra_yaml.empty()) {
    y += spec.extra_yaml;
    if (y.back() != '\n') y += '\n';
  }
  return y;
}

std::string routes_yaml(const std::string& redis_url, const std::string& plugins_dir,
                        const std::string& database_path, const std::string& source_key,
                        const std::string& extra_yaml) {
  RoutesYaml spec;
  spec.redis_url = redis_url;
  spec.plugins_dir = plugins_dir;
  spec.database = database_path;
  spec.source_name = source_key;
  spec.source_key = source_key;
  spec.extra_yaml = extra_yaml;
  return routes_yaml(spec);
}

}  // namespace switchyard::test
