-- call_slot.lua: takes one of `limit` call slots of a handler, shared by every instance, for one
-- call (max_in_flight). A slot is leased: it frees itself at its lease end (by Redis's clock) if
-- its holder crashed before giving it back (ZREM). The set expires with its last lease.
-- KEYS: slots (sorted set: holder -> lease end, unix ms).
-- ARGV: limit (>= 1), lease (ms, >= 1), holder (unique per call).
-- Reply: {1, 0} when taken; {0, wait} when every slot is held, wait being the ms until the first
-- lease ends (>= 1).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
  local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(last[2]) - now) + 1000)
  return {1, 0}
end
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return {0, math.max(1, tonumber(first[2]) - now)}
