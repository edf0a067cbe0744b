// laravel_job.h: recognises a Laravel *job* payload (Queue::push/dispatch) where a raw event was
// expected, to say so in its dead letter. Thread safety: pure functions; reentrant.
#ifndef SWITCHYARD_ENVELOPE_LARAVEL_JOB_H_
#define SWITCHYARD_ENVELOPE_LARAVEL_JOB_H_

#include <string>
#include <string_view>

#include "envelope/envelope.h"

namespace switchyard {

// Whether `message` is a JSON object with the members of a Laravel job ("uuid", "displayName",
// "job", "data"), parsed with parse_bounded_json within `limits` (a message over them is no job
// as far as this says: its size or depth is its reason). On true, *display_name is the
// "displayName" string as it is (unescaped bytes: the caller escapes it where it prints it), or
// "?" when it is not a string. Never throws; any bytes are safe to pass.
bool is_laravel_job(std::string_view message, const EnvelopeLimits& limits,
                    std::string* display_name);

// For a message of a `format: laravel` source that did not decode: when it is a Laravel job
// (is_laravel_job), replaces *reason with one that names the job and says how to publish a raw
// event onto `queue` instead, and returns true; otherwise leaves *reason and returns false.
bool explain_laravel_job(std::string_view message, const EnvelopeLimits& limits,
                         std::string_view queue, std::string* reason);

}  // namespace switchyard

#endif  // SWITCHYARD_ENVELOPE_LARAVEL_JOB_H_
