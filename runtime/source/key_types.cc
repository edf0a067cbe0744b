// key_types.cc: the WRONGTYPE healing script of list sources and its alerts.
#include "source/key_types.h"

#include "records/dead_letter.h"
#include "source/lua/scripts.h"
#include "source/source_alerts.h"

namespace switchyard {
namespace {

// Its Redis scripts: source/lua/<name>.lua says what each does, its KEYS, ARGV and reply.
const RedisScript kHealTypesScript(lua::kHealKeyTypes);

}  // namespace

Status heal_key_types(RedisConnection* connection, const SourceKeys& keys,
                      const std::string& consumer, int worker, const std::string& notify_key,
                      bool* pending_unusable) {
  *pending_unusable = false;
  std::vector<std::string> names = {keys.pending,
                                    keys.dead(),
                                    keys.retry(),
                                    keys.retry_runners(),
                                    keys.deliveries(),
                                    keys.owners(),
                                    keys.lease(),
                                    keys.window(),
                                    keys.heartbeat(consumer),
                                    keys.inflight(consumer, worker, 0),
                                    keys.inflight(consumer, worker, 1),
                                    keys.archive()};
  std::vector<std::string> types = {"list",   "list", "zset",   "hash", "hash", "hash",
                                    "string", "hash", "string", "list", "list", "stream"};
  if (!notify_key.empty()) {
    names.push_back(notify_key);
    types.push_back("list");
  }
  std::vector<std::string_view> key_views(names.begin(), names.end());
  std::vector<std::string_view> args(types.begin(), types.end());
  const std::string prefix = keys.pending + ":quarantine:", when = now_iso8601();
  args.push_back(prefix);
  args.push_back(when);
  Reply reply;
  Status s = connection->eval(kHealTypesScript, key_views, args, &reply);
  if (!s) return s;
  for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 4) continue;
    auto str = [&](size_t k) { return std::string(e->element[k]->str, e->element[k]->len); };
    const std::string key = str(0), type = str(1), want = str(2), aside = str(3);
    if (aside.empty()) {
      *pending_unusable = true;
      raise_alert(connection, keys, "wrongtype_pending",
                  key + " is a " + type +
                      ", not the list producers push to: nothing can be "
                      "taken from it (and producers' RPUSH fails); rename it aside, then restore "
                      "the queue as a list");
    } else {
      raise_alert(connection, keys, "wrongtype_" + key.substr(keys.pending.size() + 1),
                  key + " was a " + type + ", not a " + want +
                      " (written by someone else); "
                      "moved it to " +
                      aside +
                      " so that the source runs again; inspect it, then "
                      "DEL it");
    }
  }
  return Status::ok();
}

}  // namespace switchyard
