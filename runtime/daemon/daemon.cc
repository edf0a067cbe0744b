// daemon.cc: starts, supervises and stops the worker and housekeeping threads.
#include "daemon/daemon.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "daemon/lua/scripts.h"
#include "records/dead_letter.h"
#include "source/behind_sampler.h"
#include "source/lease_source.h"
#include "source/list_source.h"
#include "source/make_source.h"
#include "source/source_alerts.h"
#include "util/escape.h"

namespace switchyard {
namespace {

// Its Redis scripts: daemon/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kTrimDeadScript(lua::kTrimDead);
const RedisScript kUnparkScript(lua::kUnparkRetries);
// The most parked deliveries made due again per source at each beat.
constexpr int kUnparkPerBeat = 10000;

std::vector<std::string> handler_names(const Config& config) {
  std::vector<std::string> names;
  for (const HandlerConfig& h : config.handlers) names.push_back(h.name);
  return names;
}

}  // namespace

Daemon::Daemon(DaemonOptions options, std::shared_ptr<const Pipeline> pipeline)
    : options_(std::move(options)), started_(pipeline->config) {
  pipelines_.set(std::move(pipeline));
}

Daemon::~Daemon() {
  if (!threads_.empty() || housekeeper_.joinable() || tap_thread_.joinable()) stop();
}

void Daemon::set_pipeline(std::shared_ptr<const Pipeline> pipeline) {
  metrics_.set_handlers(handler_names(*pipeline->config));
  pipelines_.set(std::move(pipeline));
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
  tap_ = std::make_unique<Tap>(config.sources);
  shared.tap = tap_.get();
  shared.watchdog = &watchdog_;
  metrics_.set_handlers(handler_names(config));

  for (const SourceConfig& source : config.sources) {
    pauses_.push_back(std::make_unique<PauseBoard>());
    shared.pause = pauses_.back().get();
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
  if (options_.endpoint.mode == RedisMode::kSentinel) {
    sentinel_watcher_ = std::make_unique<SentinelWatcher>(
        options_.endpoint,
        [](const std::string& announced) {
          spdlog::warn(
              "Redis Sentinel: +switch-master {}: following the new master (in-flight work "
              "is reclaimed as after any outage)",
              announced);
        },
        [](const std::string& problem) { spdlog::warn("{}", problem); });
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
  tap_thread_ = std::thread([this] { tap_->run(options_.endpoint); });
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
  auto list = [](const std::vector<std::string>& urls) {
    std::string out;
    for (const std::string& u : urls) out += (out.empty() ? "" : ", ") + u;
    return out;
  };
  note("redis.cluster", list(now.redis.cluster), list(next.redis.cluster));
  note("redis.sentinel.master", now.redis.sentinel_master, next.redis.sentinel_master);
  note("redis.sentinel.nodes", list(now.redis.sentinel_nodes), list(next.redis.sentinel_nodes));
  note("redis.sentinel.password_file", now.redis.sentinel_password_file,
       next.redis.sentinel_password_file);
  note("redis.sentinel.user", now.redis.sentinel_user, next.redis.sentinel_user);
  note("metrics.listen", now.metrics.listen, next.metrics.listen);
  note("ui.enabled", now.ui.enabled ? "true" : "false", next.ui.enabled ? "true" : "false");
  note("ui.write", now.ui.write ? "true" : "false", next.ui.write ? "true" : "false");
  note("ui.token_file", now.ui.token_file, next.ui.token_file);
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
  if (tap_) tap_->stop();
  if (tap_thread_.joinable()) tap_thread_.join();
  sentinel_watcher_.reset();
  return finished;
}

void Daemon::follow_pauses(RedisConnection& connection, const std::vector<SourceConfig>& sources) {
  std::vector<std::string> handlers;
  {
    std::shared_ptr<const Pipeline> pipeline = pipelines_.get();
    for (const HandlerConfig& h : pipeline->config->handlers) handlers.push_back(h.name);
  }
  std::set<std::string> paused_handlers;
  for (size_t i = 0; i < sources.size(); ++i) {
    const SourceConfig& source = sources[i];
    const std::string key = paused_key(source.key);
    Reply reply;
    Status s = connection.command({"HGETALL", key}, &reply);
    if (!s) {
      health_.report_failure(options_.endpoint.redacted(), s.message(), connection.connected());
      return;
    }
    std::map<std::string, std::string> fields;
    if (reply->type == REDIS_REPLY_ARRAY) {
      for (size_t f = 0; f + 1 < reply->elements; f += 2)
        fields[std::string(reply->element[f]->str, reply->element[f]->len)] =
            std::string(reply->element[f + 1]->str, reply->element[f + 1]->len);
    } else {
      const std::string why = "source " + source.name + ": " + key +
                              " is not a hash, so nothing is paused; DEL it, then pause again "
                              "with switchyard pause";
      if (log_once(why)) spdlog::error("{}", why);
    }
    PausedState state = PausedState::from_fields(fields);
    PauseBoard& board = *pauses_[i];
    if (state.source && !(board.loaded() && board.source_paused())) {
      spdlog::info("source {}: paused ({}): taking nothing until `switchyard resume {}`",
                   source.name, printable(fields[std::string(kPausedSourceField)]), source.name);
    } else if (!state.source && board.loaded() && board.source_paused()) {
      spdlog::info("source {}: resumed", source.name);
    }
    const std::vector<std::string> before = board.handlers();
    std::string unknown;  // paused names that are no handler of the config, for one line
    size_t unknown_count = 0;
    for (const std::string& h : state.handlers) {
      paused_handlers.insert(h);
      if (std::find(handlers.begin(), handlers.end(), h) == handlers.end()) {
        if (++unknown_count <= 3)
          unknown += (unknown.empty() ? "" : ", ") + printable(h.substr(0, 64)) +
                     (h.size() > 64 ? "..." : "");
        continue;
      }
      if (!std::binary_search(before.begin(), before.end(), h))
        spdlog::info(
            "source {}: handler {} paused: its deliveries wait in {} until `switchyard "
            "resume --handler {}`",
            source.name, h, SourceKeys(source.key).retry(), h);
    }
    for (const std::string& h : before)
      if (!std::binary_search(state.handlers.begin(), state.handlers.end(), h) &&
          std::find(handlers.begin(), handlers.end(), h) != handlers.end())
        spdlog::info("source {}: handler {} resumed", source.name, h);
    if (unknown_count > 0) {
      const std::string why =
          "source " + source.name + ": " + key + " pauses " + std::to_string(unknown_count) +
          " handler(s) not in " + pipelines_.get()->config->path + " (" + unknown +
          (unknown_count > 3 ? ", ..." : "") +
          "): deliveries parked for them are dead-lettered; `switchyard resume --handler NAME " +
          source.name + "` clears such a pause";
      if (log_once(why)) spdlog::warn("{}", why);
    }
    // Deliveries parked for a handler that is not paused (any more), or no longer configured, are
    // due now: the retry runners hand them to their handler, or dead-letter them naming the
    // handler that is gone. Before the workers learn of a resume they may park a few more: the
    // next beat makes those due too.
    std::vector<std::string> args{std::to_string(kUnparkPerBeat)};
    for (const std::string& h : state.handlers)
      if (std::find(handlers.begin(), handlers.end(), h) != handlers.end()) args.push_back(h);
    const bool source_paused = state.source;
    board.publish(std::move(state));
    metrics_.set_paused("source", source.name, source_paused);  // after: the gauge means obeyed
    const std::vector<std::string_view> views(args.begin(), args.end());
    s = connection.eval(kUnparkScript, {SourceKeys(source.key).retry()}, views, &reply);
    if (!s) {
      health_.report_failure(options_.endpoint.redacted(), s.message(), connection.connected());
      return;
    }
    if (reply->type == REDIS_REPLY_INTEGER && reply->integer > 0)
      spdlog::info(
          "source {}: {} delivery(ies) parked for handlers no longer paused (resumed, or removed "
          "from {}: those are dead-lettered) are due again",
          source.name, reply->integer, pipelines_.get()->config->path);
  }
  for (const std::string& h : handlers) metrics_.set_paused("handler", h, paused_handlers.count(h));
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
    // What reclaiming dead-letters after max_deliveries is archived like an ack's messages.
    lists.back()->set_archive(archive_settings(sources[i]));
    leases.push_back(std::make_unique<LeaseSource>(&connection, sources[i].key,
                                                   identities_[i]->name(), identities_[i]->token(),
                                                   sources[i].reclaim_after));
    beat_every = std::min(beat_every, sources[i].reclaim_after / 3);
  }
  std::vector<std::string> consumers;
  for (const auto& id : identities_) consumers.push_back(id->name());
  BehindSampler behind(sources, consumers, &metrics_);
  std::string behind_error;  // the last sampling error logged, to log each one once
  auto next_behind = std::chrono::steady_clock::now();
  auto next_reclaim = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (!connection.connected()) {
      // Either way is news: a read that timed out here may have been the only sign of an outage
      // (the workers' connections can live through a partition), so its end is logged here too.
      Status s = connection.connect();
      if (s) {
        health_.report_up(options_.endpoint.redacted());
      } else {
        health_.report_down(options_.endpoint.redacted(), s.message());
      }
    }
    if (connection.connected()) follow_pauses(connection, sources);
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
        if (s) health_.report_ok(options_.endpoint.redacted());
        if (!s)
          health_.report_failure(options_.endpoint.redacted(), s.message(), connection.connected());
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
        if (!s)
          health_.report_failure(options_.endpoint.redacted(), s.message(), connection.connected());
      }
      if (reclaim) next_reclaim = std::chrono::steady_clock::now() + beat_every;
      if (connection.connected() && std::chrono::steady_clock::now() >= next_behind) {
        next_behind =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(kBehindSampleEveryMs);
        Status s = behind.sample(connection, handler_names(*pipelines_.get()->config));
        // Redis refusing writes is logged once, by the health view.
        const bool refused =
            !s && health_.report_refused(options_.endpoint.redacted(), s.message());
        if (!s && !refused && s.message() != behind_error)
          spdlog::warn("how far behind: {} (the switchyard_source_* gauges keep their last values)",
                       s.message());
        behind_error = s ? "" : s.message();
      }
    }
    std::unique_lock<std::mutex> lock(mutex_);
    wake_.wait_for(lock, beat_every, [this] { return stopping_.load(); });
  }
  if (connection.connected()) behind.withdraw(connection);
}

}  // namespace switchyard
