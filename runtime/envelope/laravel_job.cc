// laravel_job.cc: is_laravel_job, on the one bounded JSON parser, and the reason it gives.
#include "envelope/laravel_job.h"

#include "util/bounded_json.h"

namespace switchyard {

bool is_laravel_job(std::string_view message, const EnvelopeLimits& limits,
                    std::string* display_name) {
  rapidjson::Document doc;
  std::string error;
  if (!parse_bounded_json(message, {limits.max_message_bytes, limits.max_depth}, &doc, &error) ||
      !doc.IsObject())
    return false;
  for (const char* key : {"uuid", "displayName", "job", "data"})
    if (!doc.HasMember(key)) return false;
  const rapidjson::Value& name = doc["displayName"];
  *display_name = name.IsString() ? std::string(name.GetString(), name.GetStringLength()) : "?";
  return true;
}

bool explain_laravel_job(std::string_view message, const EnvelopeLimits& limits,
                         std::string_view queue, std::string* reason) {
  // A Laravel *job* (dispatch()/push()) rather than a raw event (pushRaw()): say so by name.
  std::string display;
  if (!is_laravel_job(message, limits, &display)) return false;
  *reason = "Laravel job payload (displayName " + display +
            "), not a raw event: publish events with Queue::connection('redis')->pushRaw("
            "json_encode(['event' => ..., 'payload' => [...]]), '" +
            std::string(queue) + "') instead of dispatching a job to this queue";
  return true;
}

}  // namespace switchyard
