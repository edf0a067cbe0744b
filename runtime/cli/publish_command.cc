// publish_command.cc: `switchyard publish`: push envelopes onto a source's key (for demos/tests).
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <fstream>
#include <iostream>

#include "cli/commands.h"
#include "redis/redis_connection.h"

namespace switchyard {
namespace {

constexpr size_t kChunk = 1000;  // values per RPUSH when publishing a file

const SourceConfig* find_source(const Config& config, const std::string& name) {
  if (name.empty()) return &config.sources.front();
  for (const auto& s : config.sources)
    if (s.name == name) return &s;
  return nullptr;
}

}  // namespace

int publish_command(const CommonOptions& common, const PublishOptions& options) {
  Loaded loaded;
  if (int rc = load_common(common, &loaded)) return rc;
  const SourceConfig* source = find_source(*loaded.config, options.source);
  if (!source) {
    std::cerr << "switchyard: no source named \"" << options.source << "\" in "
              << loaded.config->path << "\n";
    return 2;
  }
  std::vector<std::string> messages;
  if (!options.file.empty()) {
    std::ifstream file;
    std::istream* in = &std::cin;
    if (options.file != "-") {
      file.open(options.file, std::ios::binary);
      if (!file) {
        std::cerr << "switchyard: cannot read " << options.file << "\n";
        return 2;
      }
      in = &file;
    }
    std::string line;
    while (std::getline(*in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (!line.empty()) messages.push_back(line);
    }
  } else {
    if (options.event.empty()) {
      std::cerr << "switchyard: publish needs EVENT [PAYLOAD_JSON] or --file F\n";
      return 2;
    }
    rapidjson::Document payload;
    payload.Parse(options.payload.data(), options.payload.size());
    if (payload.HasParseError() || !payload.IsObject()) {
      std::cerr << "switchyard: PAYLOAD_JSON must be a JSON object"
                << (payload.HasParseError()
                        ? std::string(" (offset ") + std::to_string(payload.GetErrorOffset()) +
                              ": " + rapidjson::GetParseError_En(payload.GetParseError()) + ")"
                        : std::string())
                << "\n";
      return 2;
    }
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> w(buffer);
    w.StartObject();
    w.Key("event");
    w.String(options.event.data(), static_cast<rapidjson::SizeType>(options.event.size()));
    w.Key("payload");
    payload.Accept(w);
    w.EndObject();
    messages.emplace_back(buffer.GetString(), buffer.GetSize());
  }

  RedisConnection connection(loaded.endpoint, "switchyard:publish");
  Status s = connection.connect();
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  // format laravel: push as Laravel's pushRaw does, the message and then one token on :notify.
  const bool laravel = source->format == SourceFormat::kLaravel;
  const bool stream = source->type == SourceType::kStream || options.stream;
  const std::string notify = source->key + ":notify";
  size_t chunks = 0;
  for (size_t i = 0; i < messages.size(); i += kChunk) {
    size_t end = std::min(messages.size(), i + kChunk);
    if (stream) {
      // Streams: one XADD per message, field "message", pipelined.
      for (size_t j = i; j < end && s; ++j) {
        s = connection.append({"XADD", source->key, "*", "message", messages[j]});
        ++chunks;
      }
      if (!s) break;
      continue;
    }
    std::vector<std::string_view> argv = {"RPUSH", source->key};
    for (size_t j = i; j < end; ++j) argv.push_back(messages[j]);
    s = connection.append(argv);
    if (!s) break;
    ++chunks;
    if (laravel) {
      std::vector<std::string_view> tokens = {"RPUSH", notify};
      tokens.insert(tokens.end(), end - i, "1");
      s = connection.append(tokens);
      if (!s) break;
      ++chunks;
    }
  }
  Reply reply;
  for (size_t c = 0; s && c < chunks; ++c) {
    s = connection.read_reply(&reply);
    if (s && reply->type == REDIS_REPLY_ERROR)
      s = Status::error((stream ? "XADD " : "RPUSH ") + source->key + ": " +
                        std::string(reply->str, reply->len));
  }
  if (!s) {
    std::cerr << "switchyard: " << s.message() << "\n";
    return 1;
  }
  std::cout << "published " << messages.size() << " message(s) to " << source->key << "\n";
  return 0;
}

}  // namespace switchyard
