-- oldest_head.lua: when the daemon first saw the oldest message not yet taken from list K, so
-- that its age can be told without the producer writing a time. The head element is known by its
-- SHA-1; K:stats field "head" holds "<sha1> <first seen ms>" and is kept while the same element
-- stays at the head. delivery: lease skips the taken window at the head of K.
-- KEYS: K, K:stats, K:window.
-- ARGV: now_ms (Redis TIME), "1" for delivery: lease else "0".
-- Reply: the first-seen time in ms of the head; -1 when nothing waits; -2 when K:stats is not a
-- hash (nothing written).
local stats_type = redis.call('TYPE', KEYS[2]).ok
if stats_type ~= 'hash' and stats_type ~= 'none' then return -2 end
if redis.call('TYPE', KEYS[1]).ok ~= 'list' then
  redis.call('HDEL', KEYS[2], 'head')
  return -1
end
local index = 0
if ARGV[2] == '1' and redis.call('TYPE', KEYS[3]).ok == 'hash' then
  index = tonumber(redis.call('HGET', KEYS[3], 'n') or '0') or 0
end
local head = redis.call('LINDEX', KEYS[1], index)
if not head then
  redis.call('HDEL', KEYS[2], 'head')
  return -1
end
local id = redis.sha1hex(head)
local seen = redis.call('HGET', KEYS[2], 'head')
if seen and string.sub(seen, 1, 40) == id then
  local at = tonumber(string.sub(seen, 42))
  if at then return at end
end
redis.call('HSET', KEYS[2], 'head', id .. ' ' .. ARGV[1])
return tonumber(ARGV[1])
