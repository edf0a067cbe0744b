// make_source.h: the one place that picks a source class (ListSource, LeaseSource, StreamSource)
// from a source's configuration (type, delivery, format).
// Thread safety: stateless; the source made belongs to the calling worker thread.
#ifndef SWITCHYARD_SOURCE_MAKE_SOURCE_H_
#define SWITCHYARD_SOURCE_MAKE_SOURCE_H_

#include <memory>
#include <string>

#include "config/config.h"
#include "metrics/metrics.h"
#include "redis/redis_connection.h"
#include "redis/redis_url.h"
#include "source/source.h"

namespace switchyard {

// A worker's source, and who the retries it runs name as their runner (RetrySchedule::set_runner):
// the key and value that show this worker alive while it runs a retry.
struct MadeSource {
  std::unique_ptr<Source> source;
  std::string alive_key;
  std::string alive_value;
};

// The source's `archive:` settings, for Source::set_archive (make_source applies them; so must
// any other code that makes a source of this config, such as the daemon's housekeeping).
ArchiveSettings archive_settings(const SourceConfig& config);

// Makes worker number `worker`'s source for config: type stream -> StreamSource (kept alive with
// token from now on); delivery lease -> LeaseSource; else ListSource (told config.workers).
// Format laravel sources take one token from K:notify per message. consumer names this process
// among the source's consumers; token is unique to this run. connection is borrowed and must
// outlive the source; endpoint and metrics (may be null) serve a stream's helper thread.
MadeSource make_source(RedisConnection* connection, const SourceConfig& config,
                       const std::string& consumer, int worker, const std::string& token,
                       const RedisEndpoint& endpoint, Metrics* metrics);

}  // namespace switchyard

#endif  // SWITCHYARD_SOURCE_MAKE_SOURCE_H_
