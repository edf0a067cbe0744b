// worker.cc: the take -> dispatch -> ack loop of one worker thread, and its Redis upkeep.
#include "dispatch/worker.h"

#include <spdlog/spdlog.h>

#include <thread>

#include "log/logging.h"
#include "source/key_types.h"
#include "source/make_source.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// How long a take blocks on an empty list before looking at retries and shutdown again.
constexpr std::chrono::milliseconds kIdleBlock{100};
// How long a worker waits after Redis refused a take or a source start (an error reply).
constexpr std::chrono::milliseconds kRefusalPause{1000};
// How long a worker of a paused source waits before looking again.
constexpr std::chrono::milliseconds kPausedWait{100};
// How often due retries are looked for while the queue is busy.
constexpr std::chrono::milliseconds kRetryCheckEvery{100};
// The take size when idle: a message published alone is taken (and acked) at once.
constexpr int kMinTakeSize = 16;

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Worker::Worker(SourceConfig source, int index, std::string consumer, std::string token,
               WorkerShared shared)
    : source_(std::move(source)),
      index_(index),
      consumer_(std::move(consumer)),
      shared_(std::move(shared)),
      dispatcher_(source_, shared_.instance, shared_.metrics, [this] { return now_ms(); }) {
  dispatcher_.set_tap(shared_.tap);
  // The read timeout must exceed the longest blocking command (BLMOVE kIdleBlock).
  connection_ = std::make_unique<RedisConnection>(
      shared_.endpoint, "switchyard:" + consumer_ + ":" + std::to_string(index_),
      std::chrono::milliseconds(15000));
  MadeSource made = make_source(connection_.get(), source_, consumer_, index_, token,
                                shared_.endpoint, shared_.metrics);
  source_kind_ = std::move(made.source);
  retries_ = std::make_unique<RetrySchedule>(connection_.get(), source_kind_->keys());
  // A retry run by a live worker (however slow its handler) is not leased again elsewhere.
  retries_->set_runner(made.alive_key, made.alive_value, index_);
  dispatcher_.set_watchdog(shared_.watchdog);
  // A pipeline runs on one node: with Redis Cluster the source's keys and the pacer's may not.
  pipelined_ = shared_.endpoint.mode != RedisMode::kCluster;
  take_size_ = std::min(source_.batch, kMinTakeSize);
  pacer_ = std::make_unique<Pacer>(connection_.get());
  dedup_ = std::make_unique<DedupStore>(connection_.get());
  dispatcher_.set_pace(pacer_.get(), dedup_.get());
}

int64_t Worker::now_ms() const {
  // Redis's clock (as of the last retry lease): every host schedules retries by the same clock.
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         retries_->clock_offset_ms();
}

bool Worker::ensure_connected() {
  while (!connection_->connected()) {
    if (shared_.stopping->load()) return false;
    Status s = connection_->connect();
    if (s) {
      shared_.health->report_up(shared_.endpoint.redacted());
      backoff_.reset();
      break;
    }
    shared_.health->report_down(shared_.endpoint.redacted(), s.message());
    auto wait = backoff_.next();
    auto until = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < until && !shared_.stopping->load())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return connection_->connected();
}

void Worker::run() {
  spdlog::debug("source {}: worker {} started as consumer {}", source_.name, index_, consumer_);
  while (!shared_.stopping->load()) {
    if (!ensure_connected()) break;
    if (!recovered_) {
      Status started = source_kind_->start(source_.max_deliveries, source_.name);
      recovered_ = started.is_ok();
      if (!recovered_ && connection_->connected() && !heal_wrong_types(started))
        pause_after_refusal(started.message());
      continue;
    }
    if (take_reply_lost_) {
      // A take whose reply was lost may have moved messages into our in-flight list.
      if (!source_kind_->after_lost_take(source_.name)) continue;
      take_reply_lost_ = false;
    }
    if (shared_.pause && !follow_pause()) {
      release_next();
      continue;
    }
    std::shared_ptr<const Pipeline> pipeline = shared_.pipelines->get();
    if (std::chrono::steady_clock::now() >= next_retry_check_) {
      run_due_retries(*pipeline);
      if (!connection_->connected()) continue;
    }
    if (!next_.messages.empty()) {
      std::swap(batch_, next_);  // the views stay valid: they point into the moved replies
      next_.clear();
      learn_take_size(batch_.messages.size(), take_size_);
    } else {
      const int take_size = paced_take_size(*pipeline);
      if (take_size == 0) continue;
      Status s = source_kind_->take(take_size, kIdleBlock, &batch_);
      if (!s) {
        // Redis went away (the reply may be lost), or it answered with a refusal: only the
        // first is an outage to report.
        take_reply_lost_ = !connection_->connected();
        if (take_reply_lost_) {
          shared_.health->report_down(shared_.endpoint.redacted(), s.message());
        } else if (!heal_wrong_types(s)) {
          pause_after_refusal(s.message());
        }
        continue;
      }
      if (!rate_limited_) learn_take_size(batch_.messages.size(), take_size);
    }
    shared_.health->report_ok(shared_.endpoint.redacted());
    if (!last_refusal_.empty()) {
      forget_logged(last_refusal_);  // should it come back, it is news again
      last_refusal_.clear();
    }
    if (batch_.messages.empty()) continue;
    shared_.metrics->add_received(source_.name, batch_.messages.size());
    // The next take goes out now and is read after this batch's ack: Redis works on it while
    // the handlers run. Not while stopping (nothing new is taken), nor under max_rate (its
    // tokens are granted per take).
    if (pipelined_ && !rate_limited_ && !shared_.stopping->load()) {
      Status p = source_kind_->prefetch(batch_, adaptive_take_size());
      prefetched_ = p.is_ok();
      if (!p) take_reply_lost_ = true;  // connection dropped: ack_batch reconnects first
    }
    // Taken afresh: a reload that finished while take() blocked applies to this batch.
    pipeline = shared_.pipelines->get();
    follow_paused_handlers();  // a pause that landed while take() blocked applies too
    dispatcher_.dispatch(*pipeline, batch_, &writes_);
    ack_batch();
    batch_.clear();
  }
  release_next();
  spdlog::debug("source {}: worker {} stopped", source_.name, index_);
}

int Worker::adaptive_take_size() const { return take_size_; }

void Worker::learn_take_size(size_t taken, int asked) {
  // A full take means more is waiting: double (up to batch). A take well short of what was
  // asked means the backlog is gone: halve (down to kMinTakeSize).
  const int floor = std::min(source_.batch, kMinTakeSize);
  if (taken >= static_cast<size_t>(asked))
    take_size_ = std::min(source_.batch, std::max(take_size_, asked) * 2);
  else if (taken * 2 < static_cast<size_t>(asked))
    take_size_ = std::max(floor, take_size_ / 2);
}

void Worker::release_next() {
  if (next_.messages.empty()) return;
  if (connection_->connected()) {
    Status s = source_kind_->release(next_);
    // Unreturned, the batch stays in flight and is recovered as any in-flight batch is.
    if (!s)
      spdlog::warn("source {}: could not give back {} message(s) taken ahead ({}); they stay in {}",
                   source_.name, next_.messages.size(), s.message(),
                   source_kind_->describe_inflight());
  }
  next_.clear();
}

void Worker::follow_paused_handlers() {
  if (!shared_.pause) return;
  const uint64_t version = shared_.pause->version();
  if (version == paused_version_) return;
  paused_version_ = version;
  dispatcher_.set_paused_handlers(shared_.pause->handlers());
}

int Worker::paced_take_size(const Pipeline& pipeline) {
  // max_rate follows reloads: the current pipeline's entry for this source.
  Rate rate = source_.max_rate;
  for (const SourceConfig& s : pipeline.config->sources)
    if (s.name == source_.name) rate = s.max_rate;
  rate_limited_ = rate.limited();
  if (!rate_limited_) return adaptive_take_size();
  Grant grant;
  Status s = pacer_->take(source_bucket_key(source_.key), rate, source_.batch, &grant);
  if (!s) {
    if (!connection_->connected()) {
      shared_.health->report_down(shared_.endpoint.redacted(), s.message());
      return 0;
    }
    pause_after_refusal(s.message());  // an error reply: logged once, asked again in a second
    return 0;
  }
  if (grant.granted > 0) return static_cast<int>(grant.granted);
  // No token: wait for the next one (computed by the bucket; never a spin), interruptibly.
  const int64_t start = steady_ms();
  const int64_t until = start + grant.wait_ms;
  while (steady_ms() < until && !shared_.stopping->load())
    std::this_thread::sleep_for(std::chrono::milliseconds(
        std::min<int64_t>(20, std::max<int64_t>(1, until - steady_ms()))));
  shared_.metrics->add_source_rate_limited_seconds(source_.name, (steady_ms() - start) / 1000.0);
  return 0;
}

bool Worker::follow_pause() {
  const PauseBoard& board = *shared_.pause;
  if (board.loaded() && !board.source_paused()) return true;
  if (board.loaded()) shared_.metrics->add_paused_wait(source_.name);
  const int64_t until = steady_ms() + kPausedWait.count();
  while (steady_ms() < until && !shared_.stopping->load())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return false;
}

bool Worker::heal_wrong_types(const Status& s) {
  if (source_.type == SourceType::kStream || s.message().find("WRONGTYPE") == std::string::npos)
    return false;
  bool pending_unusable = false;
  const std::string notify =
      source_.format == SourceFormat::kLaravel ? source_.key + ":notify" : "";
  Status healed = heal_key_types(connection_.get(), source_kind_->keys(), consumer_, index_, notify,
                                 &pending_unusable);
  // K itself cannot be moved: stand by (the alert says what to do) instead of asking again.
  if (healed && !pending_unusable) return true;
  pause_after_refusal(s.message());
  return true;
}

void Worker::pause_after_refusal(const std::string& why) {
  // Redis answered, with an error: asking again at once would only repeat it, and the log line.
  // Logged once while it lasts, by one worker of the process (or as an alert by the source).
  // A refusal of all writes (maxmemory, ...) is Redis' state, logged once by the health view.
  if (!shared_.health->report_refused(shared_.endpoint.redacted(), why) && why != last_refusal_ &&
      log_once(why))
    spdlog::error("source {}: {}", source_.name, why);
  last_refusal_ = why;
  const int64_t until = steady_ms() + kRefusalPause.count();
  while (steady_ms() < until && !shared_.stopping->load())
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Worker::ack_batch() {
  const size_t count = batch_.messages.size();
  while (true) {
    if (ensure_connected() || connection_->connected()) {
      bool owned = true;
      Status s;
      if (prefetched_) {
        // Acks, and collects the batch taken ahead; unknown after an error: its lane is
        // returned (after_lost_take) once this ack went through.
        prefetched_ = false;
        s = source_kind_->ack_and_take(batch_, writes_, &owned, &next_);
        if (!s) take_reply_lost_ = true;
      } else {
        s = source_kind_->ack(batch_, writes_, &owned);
      }
      if (s) {
        if (!owned) {
          spdlog::warn(
              "source {}: batch of {} is no longer this worker's ({}): either an "
              "earlier ack went through but its reply was lost, or another instance "
              "took it over while this one was silent (then it is handled again "
              "there: at-least-once); nothing was written",
              source_.name, count, source_kind_->describe_inflight());
        }
        break;
      }
      if (connection_->connected() && heal_wrong_types(s) && !shared_.stopping->load()) continue;
      shared_.health->report_failure(shared_.endpoint.redacted(), s.message(),
                                     connection_->connected());
    }
    // Redis is away: the batch was handled; keep it in flight and ack once Redis is back. When
    // shutting down, give up at the give-up time, or at once when disconnected (ensure_connected
    // does not reconnect while stopping): the messages stay in flight for the next run.
    auto give_up = [&] {
      return shared_.stopping->load() &&
             (!connection_->connected() || steady_ms() > shared_.give_up_at_ms->load());
    };
    if (give_up()) {
      spdlog::error(
          "source {}: shutting down with {} handled message(s) not acknowledged; they "
          "stay in {} and are handled again after restart",
          source_.name, count, source_kind_->describe_inflight());
      break;
    }
    // The backoff (up to seconds) must not outlast a shutdown: wake up for it.
    const int64_t until = steady_ms() + backoff_.next().count();
    while (steady_ms() < until && !give_up())
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  writes_.clear();
}

void Worker::run_due_retries(const Pipeline& pipeline) {
  std::vector<LeasedRetry> leased;
  // A lease lasts reclaim_after: if this process dies, another leases the entry after that.
  const int64_t host_ms = now_ms() - retries_->clock_offset_ms();
  Status s = retries_->lease(source_.batch, host_ms, source_.reclaim_after.count(), &leased);
  if (!s) {
    if (connection_->connected() && heal_wrong_types(s)) return;
    shared_.health->report_failure(shared_.endpoint.redacted(), s.message(),
                                   connection_->connected());
    return;
  }
  if (leased.size() < static_cast<size_t>(source_.batch))
    next_retry_check_ = std::chrono::steady_clock::now() + kRetryCheckEvery;
  if (leased.empty()) return;

  std::vector<RetrySettlement> settlements;
  follow_paused_handlers();
  dispatcher_.run_retries(pipeline, leased, source_kind_->keys().retry(), &settlements);
  s = retries_->settle(settlements);
  if (!s) {
    // The leases expire after reclaim_after and the entries run again (at-least-once).
    shared_.health->report_failure(shared_.endpoint.redacted(), s.message(),
                                   connection_->connected());
  }
}

}  // namespace switchyard
