-- list_recover.lua: returns the messages of an in-flight list whose consumer is gone (or this
-- process's own, at start) to the head of K in order, counting a delivery each; a message at
-- max_deliveries goes to K:dead instead, and is archived (archive.lua) when the archive is on.
-- KEYS: list, K, deliveries, dead, owners, heartbeat of the list's consumer, archive.
-- ARGV: force, max_deliveries, dead-letter tail (everything after "message"), count ('1' counts a
-- delivery per message; '0' after a lost reply, where the messages were never handled), ttl_ms,
-- the archive's retention in ms (0: off) and max_len.
-- Reply: {returned, dead}; {-1, 0} (nothing written) when the owner is alive and force is not
-- set. A heartbeat without a TTL (Switchyard always sets one: someone else wrote it) would keep
-- its list for ever: it gets ttl_ms, and the reply is {-2, 0}.
--@include dead_letter_head.lua
--@include archive.lua
if ARGV[1] ~= '1' and redis.call('EXISTS', KEYS[6]) == 1 then
  if redis.call('PTTL', KEYS[6]) == -1 then
    redis.call('PEXPIRE', KEYS[6], ARGV[5])
    return {-2, 0}
  end
  return {-1, 0}
end
local retention = tonumber(ARGV[6] or '0')
archive_check(KEYS[7], retention)
local msgs = redis.call('LRANGE', KEYS[1], 0, -1)
local max = tonumber(ARGV[2])
local returned, dead = 0, 0
local archived = {}
for i = #msgs, 1, -1 do
  local m = msgs[i]
  local h = redis.sha1hex(m)
  local c = 0
  if ARGV[4] == '1' then c = redis.call('HINCRBY', KEYS[3], h, 1) end
  if ARGV[4] == '1' and c >= max then
    redis.call('HDEL', KEYS[3], h)
    redis.call('RPUSH', KEYS[4], dead_letter_head(m) .. ARGV[3])
    table.insert(archived, 1, m)
    dead = dead + 1
  else
    redis.call('LPUSH', KEYS[2], m)
    returned = returned + 1
  end
end
archive_messages(KEYS[7], retention, ARGV[7], archived)
redis.call('DEL', KEYS[1])
redis.call('HDEL', KEYS[5], KEYS[1])
return {returned, dead}
