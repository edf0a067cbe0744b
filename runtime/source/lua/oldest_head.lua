-- oldest_head.lua: when the daemon first saw the oldest message not yet taken from list K, so
-- that its age can be told without the producer writing a time. The head element is known by its
-- SHA-1; K:stats field "head" holds "<sha1> <first seen ms>" and is kept while the same element
-- stays at the head. delivery: lease skips the taken window at the head of K. Uses only list and
-- hash commands (pcall instead of TYPE), so that a key-and-type-limited ACL user can run it.
-- KEYS: K, K:stats, K:window.
-- ARGV: now_ms, "1" for delivery: lease else "0".
-- Reply: the first-seen time in ms of the head; -1 when nothing waits (or K is not a list);
-- -2 when K:stats is not a hash (nothing written).
local seen = redis.pcall('HGET', KEYS[2], 'head')
if type(seen) == 'table' and seen.err then return -2 end
local index = 0
if ARGV[2] == '1' then
  local n = redis.pcall('HGET', KEYS[3], 'n')
  if type(n) == 'string' then index = tonumber(n) or 0 end
end
local head = redis.pcall('LINDEX', KEYS[1], index)
if type(head) ~= 'string' then
  if seen then redis.call('HDEL', KEYS[2], 'head') end
  return -1
end
local id = redis.sha1hex(head)
if seen and string.sub(seen, 1, 40) == id then
  local at = tonumber(string.sub(seen, 42))
  if at then return at end
end
redis.call('HSET', KEYS[2], 'head', id .. ' ' .. ARGV[1])
return tonumber(ARGV[1])
