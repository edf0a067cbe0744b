-- list_take.lua: moves up to max messages from the head of K to the tail of the in-flight list
-- in one step, copying them through Lua; with a notify list (Laravel), removes one token per
-- message taken. A redelivered message (one with a delivery count) travels alone. An in-flight
-- list that is not empty before the take holds what this worker did not take (its own batches
-- are acked or returned before it takes again): an older state restored into Redis, an
-- operator's push, another process under this consumer name. So does `other`, the worker's
-- other in-flight list (where it takes ahead), when the worker takes afresh. Those elements go
-- back to the head of K first (the in-flight list's, then other's), uncounted (nobody handled
-- them here).
-- KEYS: K, inflight, owners, heartbeat, deliveries, lease, other (inflight again when the other
-- list holds the batch in hand: nothing is checked then)[, notify].
-- ARGV: max, consumer, ttl_ms, token, tokens already consumed.
-- Reply: {returned, messages}; the integer -3 when a `delivery: lease` consumer holds K:lease;
-- -4 when the heartbeat holds another run's token (another live process uses this name); -5 when
-- the in-flight key is not a list, -6 when other is not. On a negative reply nothing was written.
--@include push_head.lua
if redis.call('TYPE', KEYS[6]).ok == 'string' then return -3 end
local hb = redis.call('GET', KEYS[4])
if hb and hb ~= ARGV[4] then return -4 end
local t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'none' and t ~= 'list' then return -5 end
local other = KEYS[7] ~= KEYS[2] and KEYS[7] or nil
if other then
  t = redis.call('TYPE', other).ok
  if t ~= 'none' and t ~= 'list' then return -6 end
end
local stale = redis.call('LRANGE', KEYS[2], 0, -1)
if other then
  local ahead = redis.call('LRANGE', other, 0, -1)
  for i = 1, #ahead do stale[#stale + 1] = ahead[i] end
end
if #stale > 0 then
  push_head(KEYS[1], stale)
  redis.call('DEL', KEYS[2])
  if other then redis.call('DEL', other) end
end
local msgs = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
local n = #msgs
if n == 0 then return {#stale, msgs} end
if redis.call('EXISTS', KEYS[5]) == 1 then
  -- Redelivered messages (they have a delivery count) travel alone.
  if redis.call('HEXISTS', KEYS[5], redis.sha1hex(msgs[1])) == 1 then
    n = 1
  else
    for i = 2, n do
      if redis.call('HEXISTS', KEYS[5], redis.sha1hex(msgs[i])) == 1 then n = i - 1; break end
    end
  end
end
redis.call('HSET', KEYS[3], KEYS[2], ARGV[2])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[3])
redis.call('LTRIM', KEYS[1], n, -1)
if KEYS[8] then
  local trim = n - tonumber(ARGV[5])
  if trim > 0 then redis.call('LTRIM', KEYS[8], trim, -1) end
end
for i = 1, n, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(msgs, i, math.min(i + 999, n)))
end
if n < #msgs then
  local taken = {}
  for i = 1, n do taken[i] = msgs[i] end
  return {#stale, taken}
end
return {#stale, msgs}
