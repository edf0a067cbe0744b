// worker.cc: the consume -> decode -> route -> handle -> ack loop of one worker thread.
#include "dispatch/worker.h"

#include <spdlog/spdlog.h>

#include <random>
#include <thread>

#include "dispatch/dead_letter.h"
#include "envelope/laravel_job.h"
#include "ops/logging.h"
#include "source/key_types.h"
#include "source/make_source.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// How long a take blocks on an empty list before looking at retries and shutdown again.
constexpr std::chrono::milliseconds kIdleBlock{100};
// How long a worker waits after Redis refused a take or a source start (an error reply).
constexpr std::chrono::milliseconds kRefusalPause{1000};
// How often due retries are looked for while the queue is busy.
constexpr std::chrono::milliseconds kRetryCheckEvery{100};

int64_t steady_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string_view outcome_name(int32_t kind) {
  return kind == SY_OUTCOME_RETRY ? "retry" : kind == SY_OUTCOME_REJECT ? "reject" : "ok";
}

// The outcome field of a log line about a message dead-lettered other than by a handler's reject
// (see LogFields::outcome).
constexpr std::string_view kDeadLetter = "dead_letter";

std::string_view event_name(const sy_event& event) { return {event.name.data, event.name.size}; }

}  // namespace

std::chrono::milliseconds retry_delay(const RetryConfig& retry, int attempt) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t initial = std::max<int64_t>(1, retry.initial_backoff.count());
  int64_t cap = std::max<int64_t>(initial, retry.max_backoff.count());
  int shift = std::min(std::max(attempt - 1, 0), 40);
  int64_t delay = initial;
  for (int i = 0; i < shift && delay < cap; ++i) delay *= 2;
  delay = std::min(delay, cap);
  std::uniform_int_distribution<int64_t> jitter(delay / 2, delay);
  return std::chrono::milliseconds(std::clamp(jitter(rng), initial, cap));
}

Worker::Worker(SourceConfig source, int index, std::string consumer, std::string token,
               WorkerShared shared)
    : source_(std::move(source)), index_(index), consumer_(std::move(consumer)),
      shared_(std::move(shared)) {
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

DeadLetter Worker::letter(std::string_view message, const std::string* handler, std::string reason,
                          int attempts) const {
  DeadLetter d;
  d.message.assign(message);
  d.source = source_.name;
  if (handler) d.handler = *handler;
  d.reason = std::move(reason);
  d.attempts = attempts;
  d.failed_at = now_iso8601();
  d.instance = shared_.instance;
  // What the size limit refused is not stored whole: its first bytes, length and SHA-256.
  if (message.size() > decoder_.limits().max_message_bytes) keep_prefix_only(&d);
  return d;
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
    std::shared_ptr<const Pipeline> pipeline = shared_.pipelines->get();
    if (std::chrono::steady_clock::now() >= next_retry_check_) {
      run_due_retries(*pipeline);
      if (!connection_->connected()) continue;
    }
    Status s = source_kind_->take(source_.batch, kIdleBlock, &batch_);
    if (!s) {
      // Redis went away (the reply may be lost), or it answered with a refusal: only the first
      // is an outage to report.
      take_reply_lost_ = !connection_->connected();
      if (take_reply_lost_) {
        shared_.health->report_down(shared_.endpoint.redacted(), s.message());
      } else if (!heal_wrong_types(s)) {
        pause_after_refusal(s.message());
      }
      continue;
    }
    if (!last_refusal_.empty()) {
      forget_logged(last_refusal_);  // should it come back, it is news again
      last_refusal_.clear();
    }
    if (batch_.messages.empty()) continue;
    shared_.metrics->add_received(source_.name, batch_.messages.size());
    // Taken afresh: a reload that finished while take() blocked applies to this batch.
    pipeline = shared_.pipelines->get();
    dispatch(*pipeline, batch_.messages);
    ack_batch();
    batch_.clear();
  }
  spdlog::debug("source {}: worker {} stopped", source_.name, index_);
}

bool Worker::heal_wrong_types(const Status& s) {
  if (source_.type == SourceType::kStream || s.message().find("WRONGTYPE") == std::string::npos)
    return false;
  bool pending_unusable = false;
  const std::string notify =
      source_.format == SourceFormat::kLaravel ? source_.key + ":notify" : "";
  Status healed = heal_key_types(connection_.get(), source_kind_->keys(), consumer_, index_,
                                 notify, &pending_unusable);
  // K itself cannot be moved: stand by (the alert says what to do) instead of asking again.
  if (healed && !pending_unusable) return true;
  pause_after_refusal(s.message());
  return true;
}

void Worker::pause_after_refusal(const std::string& why) {
  // Redis answered, with an error: asking again at once would only repeat it, and the log line.
  // Logged once while it lasts, by one worker of the process (or as an alert by the source).
  if (why != last_refusal_ && log_once(why)) spdlog::error("source {}: {}", source_.name, why);
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
      Status s = source_kind_->ack(batch_, writes_, &owned);
      if (s) {
        if (!owned) {
          spdlog::warn("source {}: batch of {} is no longer this worker's ({}): either an "
                       "earlier ack went through but its reply was lost, or another instance "
                       "took it over while this one was silent (then it is handled again "
                       "there: at-least-once); nothing was written",
                       source_.name, count, source_kind_->describe_inflight());
        }
        break;
      }
      if (connection_->connected() && heal_wrong_types(s) && !shared_.stopping->load()) continue;
      shared_.health->report_down(shared_.endpoint.redacted(), s.message());
    }
    // Redis is away: the batch was handled; keep it in flight and ack once Redis is back. When
    // shutting down, give up at the give-up time, or at once when disconnected (ensure_connected
    // does not reconnect while stopping): the messages stay in flight for the next run.
    auto give_up = [&] {
      return shared_.stopping->load() &&
             (!connection_->connected() || steady_ms() > shared_.give_up_at_ms->load());
    };
    if (give_up()) {
      spdlog::error("source {}: shutting down with {} handled message(s) not acknowledged; they "
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

void Worker::dead_letter_unrouted(std::string_view message, std::string_view event,
                                  const std::string& reason, int attempts) {
  log_with(spdlog::level::warn, {.source = source_.name, .event = event, .outcome = kDeadLetter},
           "dead-lettered a message: {}", reason);
  writes_.dead_letters.push_back(encode_dead_letter(letter(message, nullptr, reason, attempts)));
  shared_.metrics->add_dead_lettered(source_.name, 1);
}

void Worker::explain_laravel_job(std::string_view message, std::string* reason) {
  // A Laravel *job* (dispatch()/push()) rather than a raw event (pushRaw()): say so by name.
  std::string display;
  if (!is_laravel_job(message, decoder_.limits(), &display)) return;
  *reason = "Laravel job payload (displayName " + display +
            "), not a raw event: publish events with Queue::connection('redis')->pushRaw("
            "json_encode(['event' => ..., 'payload' => [...]]), '" + source_.queue +
            "') instead of dispatching a job to this queue";
}

Status Worker::call_handler(HandlerInstance& handler, const std::vector<sy_event>& events) {
  // What the plugin logs meanwhile names the source, the handler and, when every event of the
  // batch has the same name, the event.
  std::string_view event = events.empty() ? std::string_view() : event_name(events[0]);
  for (const sy_event& e : events) {
    if (event_name(e) != event) {
      event = {};
      break;
    }
  }
  LogScope scope({.source = source_.name, .event = event, .handler = handler.name()});
  auto started = std::chrono::steady_clock::now();
  handler.handle_batch(events.data(), events.size(), outcomes_.data());
  Status flushed = handler.flush();
  std::chrono::duration<double> took = std::chrono::steady_clock::now() - started;
  shared_.metrics->observe_handler_seconds(handler.name(), took.count());
  uint64_t counts[3] = {0, 0, 0};
  for (size_t k = 0; k < events.size(); ++k) {
    int32_t kind = outcomes_[k].kind;
    if (!flushed && kind == SY_OUTCOME_OK) kind = SY_OUTCOME_RETRY;
    ++counts[kind >= 0 && kind <= 2 ? kind : 2];
  }
  for (int32_t kind = 0; kind < 3; ++kind)
    if (counts[kind]) shared_.metrics->add_handled(handler.name(), outcome_name(kind), counts[kind]);
  return flushed;
}

void Worker::dispatch(const Pipeline& pipeline, const std::vector<std::string_view>& messages) {
  const Config& config = *pipeline.config;
  const size_t handler_count = pipeline.handlers.instances.size();
  events_by_handler_.resize(handler_count);
  messages_by_handler_.resize(handler_count);
  for (size_t h = 0; h < handler_count; ++h) {
    events_by_handler_[h].clear();
    messages_by_handler_[h].clear();
  }
  unescaped_names_.clear();
  writes_.clear();

  // The decoder follows the pipeline's limits: (routes.yaml), so a reload changes them too.
  decoder_.set_limits({config.limits.max_message_bytes, config.limits.max_depth});
  for (size_t i = 0; i < messages.size(); ++i) {
    std::string_view message = messages[i];
    // Streams: an entry deleted before its ack, or without a "message" field.
    if (!batch_.refusals.empty() && !batch_.refusals[i].empty()) {
      const int attempts = batch_.deliveries.empty() ? 1 : static_cast<int>(batch_.deliveries[i]);
      dead_letter_unrouted(message, {}, batch_.refusals[i], attempts);
      continue;
    }
    // Streams count deliveries in the pending list: a message delivered max_deliveries times
    // without an ack (it crashed the process each time) is not handed out again.
    if (!batch_.deliveries.empty() && batch_.deliveries[i] > source_.max_deliveries) {
      dead_letter_unrouted(
          message, {},
          "exceeded max deliveries (" + std::to_string(source_.max_deliveries) + ")",
          source_.max_deliveries);
      continue;
    }
    Envelope envelope;
    std::string reason;
    if (!decoder_.decode(message, &envelope, &reason)) {
      if (source_.format == SourceFormat::kLaravel) explain_laravel_job(message, &reason);
      dead_letter_unrouted(message, {}, reason, 1);
      continue;
    }
    // A message that breaks its event's contract (contracts:) never reaches a handler.
    if (!pipeline.contracts.check(envelope.event, envelope.payload, &reason)) {
      dead_letter_unrouted(message, envelope.event, reason, 1);
      continue;
    }
    pipeline.routes.match(envelope.event, &matched_);
    if (matched_.empty()) {
      if (config.unrouted == Unrouted::kDeadLetter) {
        dead_letter_unrouted(message, envelope.event,
                             "no route for event \"" + std::string(envelope.event) +
                                 "\" (add it to routes: in " + config.path +
                                 ", or set unrouted: drop)",
                             1);
      }
      continue;
    }
    // The event name may point into the decoder's buffer (it had escapes): keep a copy.
    std::string_view name = envelope.event;
    if (name.data() < message.data() || name.data() >= message.data() + message.size()) {
      name = unescaped_names_.emplace_back(name);
    }
    sy_event event{{message.data(), message.size()},
                   {name.data(), name.size()},
                   {envelope.payload.data(), envelope.payload.size()},
                   1};
    for (int h : matched_) {
      events_by_handler_[h].push_back(event);
      messages_by_handler_[h].push_back(i);
    }
  }

  for (size_t h = 0; h < handler_count; ++h) {
    auto& events = events_by_handler_[h];
    if (events.empty()) continue;
    HandlerInstance& handler = *pipeline.handlers.instances[h];
    if (outcomes_.size() < events.size()) outcomes_.resize(events.size());
    Status flushed = call_handler(handler, events);
    for (size_t k = 0; k < events.size(); ++k) {
      sy_outcome& outcome = outcomes_[k];
      if (!flushed && outcome.kind == SY_OUTCOME_OK) {
        outcome.kind = SY_OUTCOME_RETRY;
        snprintf(outcome.reason, sizeof(outcome.reason), "%s", flushed.message().c_str());
      }
      if (outcome.kind == SY_OUTCOME_OK) continue;
      std::string_view message = messages[messages_by_handler_[h][k]];
      const std::string& name = handler.name();
      LogFields fields{.source = source_.name, .event = event_name(events[k]), .handler = name};
      if (outcome.kind == SY_OUTCOME_RETRY && config.retry.max_attempts > 1) {
        const auto delay = retry_delay(config.retry, 1);
        fields.outcome = "retry";
        log_with(spdlog::level::warn, fields,
                 "handler answered retry on attempt 1 of {}: {}; retrying in {} ms",
                 config.retry.max_attempts, outcome.reason, delay.count());
        RetryEntry entry;
        entry.attempt = 2;
        entry.first_failed_ms = now_ms();
        entry.handler = name;
        entry.message.assign(message);
        writes_.retries.emplace_back(now_ms() + delay.count(), encode_retry_entry(entry));
      } else {
        if (outcome.kind == SY_OUTCOME_REJECT) {
          fields.outcome = "reject";
          log_with(spdlog::level::warn, fields, "handler answered reject: {}; dead-lettered",
                   outcome.reason);
        } else {
          fields.outcome = kDeadLetter;
          log_with(spdlog::level::warn, fields,
                   "handler answered retry: {}; dead-lettered (retry.max_attempts is {})",
                   outcome.reason, config.retry.max_attempts);
        }
        std::string reason = outcome.kind == SY_OUTCOME_RETRY
                                 ? "gave up after 1 attempt: " + std::string(outcome.reason)
                                 : std::string(outcome.reason);
        writes_.dead_letters.push_back(encode_dead_letter(letter(message, &name, reason, 1)));
      }
    }
  }
}

void Worker::run_due_retries(const Pipeline& pipeline) {
  const Config& config = *pipeline.config;
  decoder_.set_limits({config.limits.max_message_bytes, config.limits.max_depth});
  std::vector<LeasedRetry> leased;
  // A lease lasts reclaim_after: if this process dies, another leases the entry after that.
  const int64_t host_ms = now_ms() - retries_->clock_offset_ms();
  Status s = retries_->lease(source_.batch, host_ms, source_.reclaim_after.count(), &leased);
  if (!s) {
    if (connection_->connected() && heal_wrong_types(s)) return;
    shared_.health->report_down(shared_.endpoint.redacted(), s.message());
    return;
  }
  if (leased.size() < static_cast<size_t>(source_.batch))
    next_retry_check_ = std::chrono::steady_clock::now() + kRetryCheckEvery;
  if (leased.empty()) return;

  std::vector<RetrySettlement> settlements(leased.size());
  // Group the runnable entries by handler; settle the rest at once.
  std::vector<std::vector<size_t>> by_handler(pipeline.handlers.instances.size());
  std::vector<Envelope> envelopes(leased.size());
  for (size_t i = 0; i < leased.size(); ++i) {
    LeasedRetry& l = leased[i];
    RetrySettlement& st = settlements[i];
    st.member = l.member;
    auto dead = [&](const std::string* handler, std::string reason, int attempts) {
      log_with(spdlog::level::warn,
               {.source = source_.name,
                .handler = handler ? std::string_view(*handler) : std::string_view(),
                .outcome = kDeadLetter},
               "dead-lettered a scheduled retry: {}", reason);
      st.kind = RetrySettlement::kDeadLetter;
      st.data = encode_dead_letter(
          letter(l.malformed ? std::string_view(l.member) : std::string_view(l.entry.message),
                 handler, std::move(reason), attempts));
    };
    if (l.malformed) {
      dead(nullptr, "malformed entry in " + source_kind_->keys().retry() + " (not written by switchyard)", 1);
      continue;
    }
    if (l.entry.leases > source_.max_deliveries) {
      dead(&l.entry.handler,
           "exceeded max deliveries (" + std::to_string(source_.max_deliveries) + ")",
           l.entry.attempt);
      continue;
    }
    int h = pipeline.handler_index(l.entry.handler);
    if (h < 0) {
      dead(&l.entry.handler,
           "handler " + l.entry.handler + " is no longer in " + config.path +
               "; replay it with `switchyard dlq replay` once it is back",
           l.entry.attempt - 1);
      continue;
    }
    std::string reason;
    if (!decoder_.decode(l.entry.message, &envelopes[i], &reason) ||
        !pipeline.contracts.check(envelopes[i].event, envelopes[i].payload, &reason)) {
      dead(&l.entry.handler, reason, l.entry.attempt - 1);
      continue;
    }
    if (envelopes[i].event.data() < l.entry.message.data() ||
        envelopes[i].event.data() >= l.entry.message.data() + l.entry.message.size()) {
      envelopes[i].event = unescaped_names_.emplace_back(envelopes[i].event);
    }
    by_handler[h].push_back(i);
  }

  for (size_t h = 0; h < by_handler.size(); ++h) {
    if (by_handler[h].empty()) continue;
    HandlerInstance& handler = *pipeline.handlers.instances[h];
    std::vector<sy_event> events;
    for (size_t i : by_handler[h]) {
      const auto& e = envelopes[i];
      const std::string& m = leased[i].entry.message;
      events.push_back(sy_event{{m.data(), m.size()},
                                {e.event.data(), e.event.size()},
                                {e.payload.data(), e.payload.size()},
                                static_cast<uint32_t>(leased[i].entry.attempt)});
    }
    if (outcomes_.size() < events.size()) outcomes_.resize(events.size());
    Status flushed = call_handler(handler, events);
    for (size_t k = 0; k < events.size(); ++k) {
      size_t i = by_handler[h][k];
      const RetryEntry& entry = leased[i].entry;
      RetrySettlement& st = settlements[i];
      sy_outcome& outcome = outcomes_[k];
      if (!flushed && outcome.kind == SY_OUTCOME_OK) {
        outcome.kind = SY_OUTCOME_RETRY;
        snprintf(outcome.reason, sizeof(outcome.reason), "%s", flushed.message().c_str());
      }
      if (outcome.kind == SY_OUTCOME_OK) {
        st.kind = RetrySettlement::kDone;
        continue;
      }
      LogFields fields{
          .source = source_.name, .event = envelopes[i].event, .handler = handler.name()};
      if (outcome.kind == SY_OUTCOME_RETRY && entry.attempt < config.retry.max_attempts) {
        const auto delay = retry_delay(config.retry, entry.attempt);
        fields.outcome = "retry";
        log_with(spdlog::level::warn, fields,
                 "handler answered retry on attempt {} of {}: {}; retrying in {} ms",
                 entry.attempt, config.retry.max_attempts, outcome.reason, delay.count());
        RetryEntry next = entry;
        next.leases = 0;
        next.attempt = entry.attempt + 1;
        st.kind = RetrySettlement::kReschedule;
        st.due_ms = now_ms() + delay.count();
        st.data = encode_retry_entry(next);
      } else {
        if (outcome.kind == SY_OUTCOME_REJECT) {
          fields.outcome = "reject";
          log_with(spdlog::level::warn, fields,
                   "handler answered reject on attempt {}: {}; dead-lettered", entry.attempt,
                   outcome.reason);
        } else {
          fields.outcome = kDeadLetter;
          log_with(spdlog::level::warn, fields,
                   "handler answered retry on attempt {} of {}: {}; gave up, dead-lettered",
                   entry.attempt, config.retry.max_attempts, outcome.reason);
        }
        std::string reason = outcome.kind == SY_OUTCOME_RETRY
                                 ? "gave up after " + std::to_string(entry.attempt) +
                                       " attempts: " + outcome.reason
                                 : std::string(outcome.reason);
        st.kind = RetrySettlement::kDeadLetter;
        st.data = encode_dead_letter(letter(entry.message, &entry.handler, reason, entry.attempt));
      }
    }
  }
  unescaped_names_.clear();
  s = retries_->settle(settlements);
  if (!s) {
    // The leases expire after reclaim_after and the entries run again (at-least-once).
    shared_.health->report_down(shared_.endpoint.redacted(), s.message());
  }
}

}  // namespace switchyard
