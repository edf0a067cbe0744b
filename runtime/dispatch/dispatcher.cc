// dispatcher.cc: decode -> check -> route -> handle -> decide, for taken batches and due retries.
#include "dispatch/dispatcher.h"

#include <spdlog/spdlog.h>

#include <set>

#include "dispatch/pause.h"
#include "envelope/laravel_job.h"
#include "log/logging.h"
#include "records/dead_letter.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

std::string_view outcome_name(int32_t kind) {
  return kind == SY_OUTCOME_RETRY ? "retry" : kind == SY_OUTCOME_REJECT ? "reject" : "ok";
}

// The outcome field of a log line about a message dead-lettered other than by a handler's reject
// (see LogFields::outcome).
constexpr std::string_view kDeadLetter = "dead_letter";

// How soon a call that found every max_in_flight slot held looks again.
constexpr int64_t kSlotRecheckMs = 100;

std::string_view event_name(const sy_event& event) { return {event.name.data, event.name.size}; }

}  // namespace

Dispatcher::Dispatcher(SourceConfig source, std::string instance, Metrics* metrics,
                       std::function<int64_t()> now_ms)
    : source_(std::move(source)),
      instance_(std::move(instance)),
      metrics_(metrics),
      now_ms_(std::move(now_ms)) {}

void Dispatcher::dispatch(const Pipeline& pipeline, const TakenBatch& batch, AckWrites* writes) {
  const std::vector<std::string_view>& messages = batch.messages;
  const Config& config = *pipeline.config;
  const size_t handler_count = pipeline.handlers.instances.size();
  events_by_handler_.resize(handler_count);
  messages_by_handler_.resize(handler_count);
  for (size_t h = 0; h < handler_count; ++h) {
    events_by_handler_[h].clear();
    messages_by_handler_[h].clear();
  }
  unescaped_names_.clear();
  writes->clear();
  // `switchyard tap`: one relaxed load per batch while nobody taps.
  const bool tapping = tap_channel_ && tap_channel_->tapped.load(std::memory_order_relaxed);
  if (tapping) tap_samples_.assign(messages.size(), TapSample());

  for (size_t i = 0; i < messages.size(); ++i) {
    std::string_view message = messages[i];
    Envelope envelope;
    std::string reason;
    int attempts = 1;
    const Route to =
        route(pipeline, message, batch.refusals.empty() ? std::string_view() : batch.refusals[i],
              batch.deliveries.empty() ? 0 : batch.deliveries[i], &envelope, &matched_, &reason,
              &attempts);
    if (tapping) {
      TapSample& sample = tap_samples_[i];
      sample.event.assign(envelope.event);
      sample.handlers = matched_;
      if (to == Route::kDrop) sample.outcome = "dropped";
      if (to == Route::kDeadLetter) {
        sample.outcome = kDeadLetter;
        sample.reason = reason;
      }
    }
    if (to == Route::kDrop) continue;
    if (to == Route::kDeadLetter) {
      dead_letter_unrouted(message, envelope.event, reason, attempts, writes);
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

  call_count_ = 0;
  for (size_t h = 0; h < handler_count; ++h) {
    auto& events = events_by_handler_[h];
    if (events.empty()) continue;
    HandlerInstance& handler = *pipeline.handlers.instances[h];
    if (is_paused(handler.name())) {
      // Not called: the deliveries wait in K:retry, parked until the handler is resumed, and
      // count no attempt.
      const int64_t now = now_ms_();
      for (size_t i : messages_by_handler_[h]) {
        RetryEntry entry;
        entry.first_failed_ms = now;
        entry.handler = handler.name();
        entry.message.assign(messages[i]);
        writes->retries.emplace_back(parked_score(handler.name()), encode_retry_entry(entry));
      }
      metrics_->add_parked(handler.name(), events.size());
      continue;
    }
    // Duplicates are done; deliveries beyond the handler's max_rate wait in K:retry for it
    // alone, due when its bucket has their tokens, and count no attempt.
    screen(config.handlers[h], &events, &messages_by_handler_[h], &duplicates_, &deferred_);
    for (const auto& [i, due] : deferred_) {
      RetryEntry entry;
      entry.first_failed_ms = now_ms_();
      entry.handler = handler.name();
      entry.message.assign(messages[i]);
      writes->retries.emplace_back(due, encode_retry_entry(entry));
    }
    if (events.empty()) continue;
    add_call(static_cast<int>(h), &events, &messages_by_handler_[h]);
  }
  run_calls(pipeline);
  for (size_t c = 0; c < call_count_; ++c) {
    const HandlerCall& call = calls_[c];
    HandlerInstance& handler = *pipeline.handlers.instances[call.handler];
    for (size_t k = 0; k < call.events->size(); ++k) {
      const Disposition& d = call.dispositions[k];
      if (d.kind == Disposition::kDone) continue;
      std::string_view message = messages[(*call.ids)[k]];
      if (tapping) {
        TapSample& sample = tap_samples_[(*call.ids)[k]];
        if (d.kind == Disposition::kDeadLetter || sample.outcome != kDeadLetter) {
          sample.outcome = d.kind == Disposition::kDeadLetter ? kDeadLetter : "retry";
          sample.reason = handler.name() + ": " + d.log;
        }
      }
      if (d.kind == Disposition::kReschedule) {
        RetryEntry entry;
        entry.attempt = d.next_attempt;
        entry.first_failed_ms = now_ms_();
        entry.handler = handler.name();
        entry.message.assign(message);
        writes->retries.emplace_back(d.due_ms, encode_retry_entry(entry));
      } else {
        writes->dead_letters.push_back(
            encode_dead_letter(letter(message, &handler.name(), d.reason, 1)));
      }
    }
  }
  if (tapping) {
    std::vector<std::string_view> names;
    for (const TapSample& sample : tap_samples_) {
      names.clear();
      for (int h : sample.handlers) names.push_back(config.handlers[h].name);
      tap_->offer(tap_channel_, sample.event, [&] {
        return encode_tap_record(source_.name, sample.event, names, sample.outcome, sample.reason);
      });
    }
  }
}

Dispatcher::Route Dispatcher::route(const Pipeline& pipeline, std::string_view message,
                                    std::string_view refusal, int64_t deliveries,
                                    Envelope* envelope, std::vector<int>* handlers,
                                    std::string* reason, int* attempts) {
  *envelope = Envelope();
  handlers->clear();
  *attempts = 1;
  // Streams: an entry deleted before its ack, or without a "message" field.
  if (!refusal.empty()) {
    *reason = std::string(refusal);
    *attempts = deliveries > 0 ? static_cast<int>(deliveries) : 1;
    return Route::kDeadLetter;
  }
  // Streams count deliveries in the pending list: a message delivered max_deliveries times
  // without an ack (it crashed the process each time) is not handed out again.
  if (deliveries > source_.max_deliveries) {
    *reason = "exceeded max deliveries (" + std::to_string(source_.max_deliveries) + ")";
    *attempts = source_.max_deliveries;
    return Route::kDeadLetter;
  }
  // The decoder follows the pipeline's limits: (routes.yaml), so a reload changes them too.
  const Config& config = *pipeline.config;
  decoder_.set_limits({config.limits.max_message_bytes, config.limits.max_depth});
  if (!decoder_.decode(message, envelope, reason)) {
    if (source_.format == SourceFormat::kLaravel)
      explain_laravel_job(message, decoder_.limits(), source_.queue, reason);
    *envelope = Envelope();
    return Route::kDeadLetter;
  }
  // A message that breaks its event's contract (contracts:) never reaches a handler.
  if (!pipeline.contracts.check(envelope->event, envelope->payload, reason))
    return Route::kDeadLetter;
  return route_event(pipeline, envelope->event, handlers, reason);
}

Dispatcher::Route Dispatcher::route_event(const Pipeline& pipeline, std::string_view event,
                                          std::vector<int>* handlers, std::string* reason) {
  pipeline.routes.match(event, handlers);
  if (!handlers->empty()) return Route::kHandlers;
  const Config& config = *pipeline.config;
  if (config.unrouted != Unrouted::kDeadLetter) return Route::kDrop;
  *reason = "no route for event \"" + std::string(event) + "\" (add it to routes: in " +
            config.path + ", or set unrouted: drop)";
  return Route::kDeadLetter;
}

void Dispatcher::run_retries(const Pipeline& pipeline, const std::vector<LeasedRetry>& leased,
                             const std::string& retry_key,
                             std::vector<RetrySettlement>* settlements) {
  const Config& config = *pipeline.config;
  decoder_.set_limits({config.limits.max_message_bytes, config.limits.max_depth});
  unescaped_names_.clear();
  settlements->assign(leased.size(), RetrySettlement());
  // Group the runnable entries by handler; settle the rest at once.
  std::vector<std::vector<size_t>> by_handler(pipeline.handlers.instances.size());
  std::vector<Envelope> envelopes(leased.size());
  for (size_t i = 0; i < leased.size(); ++i) {
    const LeasedRetry& l = leased[i];
    RetrySettlement& st = (*settlements)[i];
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
      dead(nullptr, "malformed entry in " + retry_key + " (not written by switchyard)", 1);
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
    if (is_paused(l.entry.handler)) {  // parked again, as it was: no attempt counted
      RetryEntry next = l.entry;
      next.leases = 0;
      st.kind = RetrySettlement::kReschedule;
      st.due_ms = parked_score(l.entry.handler);
      st.data = encode_retry_entry(next);
      metrics_->add_parked(l.entry.handler, 1);
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

  std::vector<std::vector<sy_event>> events_of(by_handler.size());
  call_count_ = 0;
  for (size_t h = 0; h < by_handler.size(); ++h) {
    if (by_handler[h].empty()) continue;
    std::vector<sy_event>& events = events_of[h];
    for (size_t i : by_handler[h]) {
      const auto& e = envelopes[i];
      const std::string& m = leased[i].entry.message;
      events.push_back(sy_event{{m.data(), m.size()},
                                {e.event.data(), e.event.size()},
                                {e.payload.data(), e.payload.size()},
                                static_cast<uint32_t>(leased[i].entry.attempt)});
    }
    // Duplicates are settled as done; deliveries beyond max_rate wait again, no attempt counted.
    screen(config.handlers[h], &events, &by_handler[h], &duplicates_, &deferred_);
    for (size_t i : duplicates_) (*settlements)[i].kind = RetrySettlement::kDone;
    for (const auto& [i, due] : deferred_) {
      RetryEntry next = leased[i].entry;
      next.leases = 0;
      RetrySettlement& st = (*settlements)[i];
      st.kind = RetrySettlement::kReschedule;
      st.due_ms = due;
      st.data = encode_retry_entry(next);
    }
    if (events.empty()) continue;
    add_call(static_cast<int>(h), &events, &by_handler[h]);
  }
  run_calls(pipeline);
  for (size_t c = 0; c < call_count_; ++c) {
    const HandlerCall& call = calls_[c];
    for (size_t k = 0; k < call.events->size(); ++k) {
      const Disposition& d = call.dispositions[k];
      const RetryEntry& entry = leased[(*call.ids)[k]].entry;
      RetrySettlement& st = (*settlements)[(*call.ids)[k]];
      if (d.kind == Disposition::kDone) {
        st.kind = RetrySettlement::kDone;
      } else if (d.kind == Disposition::kReschedule) {
        RetryEntry next = entry;
        next.leases = 0;
        next.attempt = d.next_attempt;
        st.kind = RetrySettlement::kReschedule;
        st.due_ms = d.due_ms;
        st.data = encode_retry_entry(next);
      } else {
        st.kind = RetrySettlement::kDeadLetter;
        st.data =
            encode_dead_letter(letter(entry.message, &entry.handler, d.reason, entry.attempt));
      }
    }
  }
  unescaped_names_.clear();
}

void Dispatcher::screen(const HandlerConfig& config, std::vector<sy_event>* events,
                        std::vector<size_t>* ids, std::vector<size_t>* duplicates,
                        std::vector<std::pair<size_t, int64_t>>* deferred) {
  duplicates->clear();
  deferred->clear();
  marks_.assign(events->size(), std::string());
  const std::string& name = config.name;
  if (!config.dedup.key.empty() && dedup_) {
    size_t unkeyed = 0;
    std::string value;
    std::vector<std::string> keys;
    for (size_t k = 0; k < events->size(); ++k) {
      const sy_event& e = (*events)[k];
      if (!dedup_reader_.read(config.dedup.key, {e.message.data, e.message.size},
                              source_.format == SourceFormat::kRaw, event_name(e),
                              {e.payload.data, e.payload.size}, &value)) {
        ++unkeyed;
        continue;
      }
      marks_[k] = dedup_redis_key(source_.key, name, value);
      keys.push_back(marks_[k]);
    }
    if (unkeyed) {
      metrics_->add_dedup_unkeyed(name, unkeyed);
      if (log_once("dedup-unkeyed:" + name))
        log_with(spdlog::level::warn, {.source = source_.name, .handler = name},
                 "a message has no string or number at its dedup key {}: it is handled without "
                 "dedup (logged once; switchyard_handler_dedup_unkeyed_total counts them)",
                 config.dedup.key);
    }
    std::vector<bool> seen;
    Status s = dedup_->seen(keys, &seen);
    if (!s && log_once("dedup-down:" + name))
      log_with(spdlog::level::warn, {.source = source_.name, .handler = name},
               "cannot read dedup keys ({}); the deliveries are handled without dedup",
               s.message());
    std::set<std::string> handled;  // already seen in Redis, or earlier in this batch
    for (size_t j = 0; j < keys.size(); ++j)
      if (seen[j]) handled.insert(keys[j]);
    size_t kept = 0;
    for (size_t k = 0; k < events->size(); ++k) {
      if (!marks_[k].empty() && !handled.insert(marks_[k]).second) {
        duplicates->push_back((*ids)[k]);
        continue;
      }
      (*events)[kept] = (*events)[k];
      (*ids)[kept] = (*ids)[k];
      if (kept != k) marks_[kept] = std::move(marks_[k]);
      ++kept;
    }
    events->resize(kept);
    ids->resize(kept);
    marks_.resize(kept);
    if (!duplicates->empty()) metrics_->add_deduplicated(name, duplicates->size());
  }
  if (config.max_rate.limited() && pacer_ && !events->empty()) {
    Grant grant;
    Status s = pacer_->take(handler_bucket_key(source_.key, name), config.max_rate,
                            static_cast<int64_t>(events->size()), &grant);
    if (!s && log_once("pace-down:" + name))
      log_with(spdlog::level::warn, {.source = source_.name, .handler = name},
               "{}; its deliveries wait in K:retry until the bucket answers", s.message());
    if (s) forget_logged("pace-down:" + name);
    const size_t granted = static_cast<size_t>(
        std::clamp<int64_t>(grant.granted, 0, static_cast<int64_t>(events->size())));
    const int64_t now = now_ms_();
    for (size_t k = granted; k < events->size(); ++k) {
      // One token every per/tokens ms: spread the rest so each comes due near its token.
      const int64_t spread =
          static_cast<int64_t>(k - granted) * config.max_rate.per.count() / config.max_rate.tokens;
      deferred->emplace_back((*ids)[k], now + grant.wait_ms + spread);
    }
    if (granted < events->size()) {
      metrics_->add_rate_limited(name, events->size() - granted);
      events->resize(granted);
      ids->resize(granted);
      marks_.resize(granted);
    }
  }
  slot_.clear();
  if (config.max_in_flight > 0 && pacer_ && !events->empty()) {
    // One slot per call, leased for handler_timeout: a call running longer is stuck anyway, and
    // a crashed holder's slot frees itself by then.
    const std::string holder = instance_ + ":" + source_.name + ":" +
                               std::to_string(reinterpret_cast<uintptr_t>(this)) + ":" +
                               std::to_string(++slot_calls_);
    bool taken = false;
    int64_t wait_ms = 0;
    Status s = pacer_->take_slot(handler_slots_key(source_.key, name), config.max_in_flight,
                                 config.handler_timeout.count(), holder, &taken, &wait_ms);
    if (!s && log_once("slot-down:" + name))
      log_with(spdlog::level::warn, {.source = source_.name, .handler = name},
               "{}; its deliveries wait in K:retry until the call slots answer", s.message());
    if (s) forget_logged("slot-down:" + name);
    if (taken) {
      slot_ = holder;
    } else {
      // Every slot is held: the whole call waits in K:retry, looked at again soon (a slot is
      // usually given back long before its lease ends).
      const int64_t due = now_ms_() + std::clamp<int64_t>(wait_ms, 1, kSlotRecheckMs);
      for (size_t id : *ids) deferred->emplace_back(id, due);
      metrics_->add_in_flight_wait(name, events->size());
      events->clear();
      ids->clear();
      marks_.clear();
    }
  }
}

void Dispatcher::after_call(const HandlerConfig& config, HandlerCall* call) {
  if (!call->slot.empty()) {
    Status s = pacer_->give_slot(handler_slots_key(source_.key, config.name), call->slot);
    if (!s && log_once("slot-give:" + config.name))
      log_with(spdlog::level::warn, {.source = source_.name, .handler = config.name},
               "{}; the call slot frees itself after handler_timeout", s.message());
    call->slot.clear();
  }
  if (config.dedup.key.empty() || !dedup_) return;
  std::vector<std::string> done;
  for (size_t k = 0; k < call->marks.size() && k < call->dispositions.size(); ++k)
    if (!call->marks[k].empty() && call->dispositions[k].kind == Disposition::kDone)
      done.push_back(std::move(call->marks[k]));
  Status s = dedup_->mark(done, config.dedup.window);
  // Unmarked, a duplicate may be handled again: at-least-once still holds.
  if (!s && log_once("dedup-mark:" + config.name))
    log_with(spdlog::level::warn, {.source = source_.name, .handler = config.name},
             "cannot write dedup keys ({}); a later duplicate may be handled again", s.message());
}

void Dispatcher::set_watchdog(HandlerWatchdog* watchdog) {
  watchdog_ = watchdog;
  watches_.clear();
  if (watchdog_) watches_.push_back(watchdog_->add(source_.name));
}

void Dispatcher::add_call(int h, std::vector<sy_event>* events, std::vector<size_t>* ids) {
  if (calls_.size() <= call_count_) calls_.emplace_back();
  HandlerCall& call = calls_[call_count_++];
  call.handler = h;
  call.events = events;
  call.ids = ids;
  call.marks.swap(marks_);
  call.slot.swap(slot_);
  slot_.clear();
  call.flushed = Status::ok();
  call.seconds = 0;
  call.error = nullptr;
}

void Dispatcher::run_calls(const Pipeline& pipeline) {
  const Config& config = *pipeline.config;
  const LogFields outer = current_log_fields();
  auto run = [&](size_t c, size_t lane) {
    const int h = calls_[c].handler;
    call_handler(*pipeline.handlers.instances[h], config.handlers[h], &calls_[c],
                 lane < watches_.size() ? watches_[lane] : nullptr, outer);
  };
  if (call_count_ > 1 && source_.handlers_at_once) {
    // Lane c runs call c; each lane thread reports its calls in a CallWatch of its own.
    while (watchdog_ && watches_.size() < call_count_)
      watches_.push_back(watchdog_->add(source_.name));
    lanes_.run(call_count_, [&](size_t lane) { run(lane, lane); });
  } else {
    for (size_t c = 0; c < call_count_; ++c) run(c, 0);
  }
  for (size_t c = 0; c < call_count_; ++c)
    if (calls_[c].error) std::rethrow_exception(calls_[c].error);

  const int64_t now = now_ms_();
  for (size_t c = 0; c < call_count_; ++c) {
    HandlerCall& call = calls_[c];
    const std::string& name = pipeline.handlers.instances[call.handler]->name();
    metrics_->observe_handler_seconds(name, call.seconds);
    const std::vector<sy_event>& events = *call.events;
    call.dispositions.resize(events.size());
    uint64_t counts[3] = {0, 0, 0};
    for (size_t k = 0; k < events.size(); ++k) {
      const HandlerVerdict verdict{call.outcomes[k].kind, call.outcomes[k].reason,
                                   call.flushed.is_ok(), call.flushed.message(),
                                   static_cast<int>(events[k].attempt)};
      Disposition& d = call.dispositions[k] =
          decide_disposition(verdict, config.retry, now, rng_());
      ++counts[d.outcome];
      if (d.kind == Disposition::kDone) continue;
      log_with(spdlog::level::warn,
               {.source = source_.name,
                .event = event_name(events[k]),
                .handler = name,
                .outcome = d.log_outcome},
               "{}", d.log);
    }
    for (int32_t kind = 0; kind < 3; ++kind)
      if (counts[kind]) metrics_->add_handled(name, outcome_name(kind), counts[kind]);
    after_call(config.handlers[call.handler], &call);
  }
}

void Dispatcher::call_handler(HandlerInstance& handler, const HandlerConfig& config,
                              HandlerCall* call, CallWatch* watch,
                              const LogFields& outer) const noexcept {
  try {
    const std::vector<sy_event>& events = *call->events;
    // What the plugin logs meanwhile names the source, the handler and, when every event of the
    // batch has the same name, the event.
    std::string_view event = events.empty() ? std::string_view() : event_name(events[0]);
    for (const sy_event& e : events) {
      if (event_name(e) != event) {
        event = {};
        break;
      }
    }
    if (call->outcomes.size() < events.size()) call->outcomes.resize(events.size());
    auto started = std::chrono::steady_clock::now();
    if (watch) {
      watch->begin(handler.name(), events.empty() ? std::string_view() : event_name(events[0]),
                   events.size(), config.handler_timeout.count(),
                   std::chrono::duration_cast<std::chrono::milliseconds>(started.time_since_epoch())
                       .count());
    }
    {
      LogScope worker_scope(outer);  // on a lane thread: what the worker's thread has
      LogScope scope({.source = source_.name, .event = event, .handler = handler.name()});
      handler.handle_batch(events.data(), events.size(), call->outcomes.data());
      call->flushed = handler.flush();
    }
    if (watch) watch->end();
    call->seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  } catch (...) {
    if (watch) watch->end();
    call->error = std::current_exception();
  }
}

void Dispatcher::dead_letter_unrouted(std::string_view message, std::string_view event,
                                      const std::string& reason, int attempts, AckWrites* writes) {
  log_with(spdlog::level::warn, {.source = source_.name, .event = event, .outcome = kDeadLetter},
           "dead-lettered a message: {}", reason);
  writes->dead_letters.push_back(encode_dead_letter(letter(message, nullptr, reason, attempts)));
  metrics_->add_dead_lettered(source_.name, 1);
}

DeadLetter Dispatcher::letter(std::string_view message, const std::string* handler,
                              std::string reason, int attempts) const {
  DeadLetter d;
  d.message.assign(message);
  d.source = source_.name;
  if (handler) d.handler = *handler;
  d.reason = std::move(reason);
  d.attempts = attempts;
  d.failed_at = now_iso8601();
  d.instance = instance_;
  // What the size limit refused is not stored whole: its first bytes, length and SHA-256.
  if (message.size() > decoder_.limits().max_message_bytes) keep_prefix_only(&d);
  return d;
}

}  // namespace switchyard
