// make_source.cc: picks the source class for a configured source.
#include "source/make_source.h"

#include "source/lease_source.h"
#include "source/list_source.h"
#include "source/stream_source.h"

namespace switchyard {

MadeSource make_source(RedisConnection* connection, const SourceConfig& config,
                       const std::string& consumer, int worker, const std::string& token,
                       const RedisEndpoint& endpoint, Metrics* metrics) {
  MadeSource made;
  const std::string notify =
      config.format == SourceFormat::kLaravel ? config.key + ":notify" : std::string();
  if (config.type == SourceType::kStream) {
    auto stream =
        std::make_unique<StreamSource>(connection, config, consumer, worker, endpoint, metrics);
    stream->keep_alive(token);
    made.alive_key = stream->alive_key();
    made.alive_value = token;
    made.source = std::move(stream);
  } else if (config.delivery == Delivery::kLease) {
    auto lease = std::make_unique<LeaseSource>(connection, config.key, consumer, token,
                                               config.reclaim_after);
    if (!notify.empty()) lease->set_notify_key(notify);
    made.alive_key = lease->keys().lease();
    made.alive_value = consumer + "|" + token;
    made.source = std::move(lease);
  } else {
    auto list = std::make_unique<ListSource>(connection, config.key, consumer, worker, token,
                                             config.reclaim_after);
    if (!notify.empty()) list->set_notify_key(notify);
    list->set_workers(config.workers);
    made.alive_key = list->keys().heartbeat(consumer);
    made.alive_value = token;
    made.source = std::move(list);
  }
  made.source->set_archive(archive_settings(config));
  return made;
}

ArchiveSettings archive_settings(const SourceConfig& config) {
  ArchiveSettings archive;
  archive.on = config.archive;
  archive.retention = config.archive_retention;
  archive.max_len = config.archive_max_len;
  return archive;
}

}  // namespace switchyard
