// daemon.cc: starts, supervises and stops the worker and housekeeping threads.
#include "daemon/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "daemon/lua/scripts.h"
#include "records/dead_letter.h"
#include "source/lease_source.h"
#include "source/list_source.h"

namespace switchyard {
namespace {

// Its Redis scripts: daemon/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kTrimDeadScript(lua::kTrimDead);

}  // namespace

Daemon::Daemon(DaemonOptions options, std::shared_ptr<const Pipeline> pipeline)
    : options_(std::move(options)), started_(pipeline->config) {
  pipelines_.set(std::move(pipeline));
}

Daemon::~Daemon() {
  if (!threads_.empty() || housekeeper_.joinable()) stop();
}

Status Daemon::start() {
  std::shared_ptr<const Pipeline> pipeline = pipelines_.get();
  const Config& config = *pipeline->config;
  WorkerShared shared;
  shared.endpoint = options_.endpoint;
  shared.pipelines = &pipelines_;
  shared.health = &health_;
  shared.stopping = &stopping_;
  shared.give_up_at_ms = &give_up_at_ms_;
  shared.instance = instance_name();
  shared.metrics = &metrics_;

  for (const SourceConfig& source : config.sources) {
    std::unique_ptr<ConsumerIdentity> id;
    std::string scope = options_.endpoint.redacted() + "|" + source.key;
    std::string name = options_.instance_name;
    Status s = ConsumerIdentity::acquire(scope, name, &id);
    if (!s) return s;
    spdlog::info("source {}: consuming {} from {} as {} ({} worker(s), batch {})", source.name,
                 source.key, options_.endpoint.redacted(), id->name(), source.workers,
                 source.batch);
    for (int w = 0; w < source.workers; ++w) {
      workers_.push_back(std::make_unique<Worker>(source, w, id->name(), id->token(), shared));
    }
    identities_.push_back(std::move(id));
  }
  running_ = static_cast<int>(workers_.size());
  for (auto& worker : workers_) {
    Worker* w = worker.get();
    threads_.emplace_back([this, w] {
      w->run();
      std::lock_guard<std::mutex> lock(mutex_);
      --running_;
      wake_.notify_all();
    });
  }
  housekeeper_ = std::thread([this] { housekeeping(); });
  return Status::ok();
}

std::vector<std::string> Daemon::changes_needing_restart(const Config& next) const {
  const Config& now = *started_;
  std::vector<std::string> changes;
  auto note = [&](const std::string& what, const std::string& from, const std::string& to) {
    if (from != to) changes.push_back(what + " changed from \"" + from + "\" to \"" + to + "\"");
  };
  note("redis.url", now.redis.url, next.redis.url);
  note("redis.password_file", now.redis.password_file, next.redis.password_file);
  note("metrics.listen", now.metrics.listen, next.metrics.listen);
  for (const SourceConfig& s : now.sources) {
    auto it = std::find_if(next.sources.begin(), next.sources.end(),
                           [&](const SourceConfig& n) { return n.name == s.name; });
    if (it == next.sources.end()) {
      changes.push_back("source " + s.name + " was removed");
      continue;
    }
    const SourceConfig& n = *it;
    const std::string p = "sources." + s.name + ".";
    note(p + "type", to_string(s.type), to_string(n.type));
    note(p + "key", s.key, n.key);
    note(p + "format", to_string(s.format), to_string(n.format));
    note(p + "prefix", s.prefix, n.prefix);
    note(p + "queue", s.queue, n.queue);
    note(p + "cluster_hash_tag", s.cluster_hash_tag ? "true" : "false",
         n.cluster_hash_tag ? "true" : "false");
    note(p + "group", s.group, n.group);
    note(p + "start", s.start, n.start);
    note(p + "batch", std::to_string(s.batch), std::to_string(n.batch));
    note(p + "workers", std::to_string(s.workers), std::to_string(n.workers));
    note(p + "max_deliveries", std::to_string(s.max_deliveries), std::to_string(n.max_deliveries));
    note(p + "reclaim_after", std::to_string(s.reclaim_after.count()) + "ms",
         std::to_string(n.reclaim_after.count()) + "ms");
    note(p + "delivery", to_string(s.delivery), to_string(n.delivery));
  }
  for (const SourceConfig& n : next.sources) {
    if (std::none_of(now.sources.begin(), now.sources.end(),
                     [&](const SourceConfig& s) { return s.name == n.name; }))
      changes.push_back("source " + n.name + " was added");
  }
  return changes;
}

bool Daemon::stop() {
  const auto timeout = pipelines_.get()->config->shutdown_timeout;
  // Workers waiting to ack give up a little before the deadline, so that they are done by it.
  const auto margin =
      std::min<std::chrono::milliseconds>(timeout / 10, std::chrono::milliseconds(500));
  give_up_at_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                       (std::chrono::steady_clock::now() + timeout - margin).time_since_epoch())
                       .count();
  stopping_ = true;
  wake_.notify_all();
  bool finished;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    finished = wake_.wait_for(lock, timeout, [this] { return running_ == 0; });
  }
  if (!finished) {
    spdlog::error(
        "shutdown: {} worker(s) still busy after shutdown_timeout ({} ms); their "
        "messages stay in flight and are handled again after restart",
        running_, timeout.count());
    for (auto& t : threads_) t.detach();
  } else {
    for (auto& t : threads_) t.join();
  }
  threads_.clear();
  if (housekeeper_.joinable()) housekeeper_.join();
  return finished;
}

void Daemon::housekeeping() {
  // Heartbeats keep this process's in-flight lists (or its lease) its own; reclaiming returns
  // those of consumers whose heartbeat expired (they died) to the head of their source's list.
  RedisConnection connection(options_.endpoint, "switchyard:housekeeping");
  std::vector<std::unique_ptr<ListSource>> lists;
  std::vector<std::unique_ptr<LeaseSource>> leases;
  // A copy: holding the pipeline here would keep replaced handlers alive after a reload.
  const std::vector<SourceConfig> sources = pipelines_.get()->config->sources;
  std::chrono::milliseconds beat_every{1000};
  for (size_t i = 0; i < sources.size(); ++i) {
    lists.push_back(std::make_unique<ListSource>(&connection, sources[i].key,
                                                 identities_[i]->name(), 0, identities_[i]->token(),
                                                 sources[i].reclaim_after));
    leases.push_back(std::make_unique<LeaseSource>(&connection, sources[i].key,
                                                   identities_[i]->name(), identities_[i]->token(),
                                                   sources[i].reclaim_after));
    beat_every = std::min(beat_every, sources[i].reclaim_after / 3);
  }
  auto next_reclaim = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!connection.connected()) {
      Status s = connection.connect();
      if (!s) health_.report_down(options_.endpoint.redacted(), s.message());
    }
    if (connection.connected()) {
      bool reclaim = std::chrono::steady_clock::now() >= next_reclaim;
      for (size_t i = 0; i < lists.size() && connection.connected(); ++i) {
        // Streams: the group's pending list does this.
        if (sources[i].type != SourceType::kList) continue;
        // delivery: lease registers no in-flight lists: it renews its lease, and still returns
        // lists that dead `delivery: inflight` consumers left (switching modes).
        Status s = sources[i].delivery == Delivery::kLease
                       ? leases[i]->renew()
                       : lists[i]->heartbeat(sources[i].workers);
        if (s && reclaim) {
          int returned = 0, dead = 0;
          s = lists[i]->reclaim_abandoned(sources[i].max_deliveries, sources[i].name, &returned,
                                          &dead);
          if (s && (returned || dead)) {
            spdlog::warn(
                "source {}: reclaimed {} in-flight message(s) of silent consumers back "
                "to {}{}",
                sources[i].name, returned, sources[i].key,
                dead ? fmt::format(", {} dead-lettered after {} deliveries", dead,
                                   sources[i].max_deliveries)
                     : "");
          }
        }
        if (!s) health_.report_down(options_.endpoint.redacted(), s.message());
      }
      // K:dead stays within dead_letter_max and dead_letter_max_age, whatever producers send
      // (every source kind).
      for (size_t i = 0; i < sources.size() && connection.connected() && reclaim; ++i) {
        const int64_t max_age = sources[i].dead_letter_max_age.count();
        const std::string cutoff =
            max_age > 0 ? iso8601(std::chrono::duration_cast<std::chrono::milliseconds>(
                                      std::chrono::system_clock::now().time_since_epoch())
                                      .count() -
                                  max_age)
                        : "";
        Reply reply;
        Status s =
            connection.eval(kTrimDeadScript, {SourceKeys(sources[i].key).dead()},
                            {std::to_string(sources[i].dead_letter_max), cutoff, "1000"}, &reply);
        if (s && reply->type == REDIS_REPLY_INTEGER && reply->integer > 0) {
          metrics_.add_dead_letters_trimmed(sources[i].name, static_cast<uint64_t>(reply->integer));
          spdlog::warn(
              "source {}: dropped the {} oldest dead letter(s) of {} to keep it at "
              "dead_letter_max ({}){}; see switchyard_dead_letters_trimmed_total",
              sources[i].name, reply->integer, SourceKeys(sources[i].key).dead(),
              sources[i].dead_letter_max,
              max_age > 0 ? " and dead_letter_max_age (" + std::to_string(max_age) + " ms)" : "");
        }
        if (!s) health_.report_down(options_.endpoint.redacted(), s.message());
      }
      if (reclaim) next_reclaim = std::chrono::steady_clock::now() + beat_every;
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, beat_every, [this] { return stopping_.load(); });
  }
}

}  // namespace switchyard
