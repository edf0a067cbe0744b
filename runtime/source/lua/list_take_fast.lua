-- list_take_fast.lua: the common case of list_take.lua, same KEYS and ARGV, without copying the
-- messages through Lua (which costs Redis about 1 us per message): when no message has a
-- delivery count and the in-flight list is empty, SORT K BY nosort LIMIT 0 max STORE inflight
-- copies the head of K, in list order, into the in-flight list inside Redis; the caller then
-- reads it with LRANGE.
-- KEYS: K, inflight, owners, heartbeat, deliveries, lease, other[, notify] (as list_take.lua).
-- ARGV: max, consumer, ttl_ms, token, tokens already consumed.
-- Reply: how many it took (0: K is empty); -1 when list_take.lua must run instead (checked
-- before K's length, so that elements this worker did not take never wait for new traffic); -2 when SORT
-- is refused (an ACL without @dangerous); -3 when a `delivery: lease` consumer holds K:lease (the
-- two modes must not mix: it acknowledges by trimming the head), checked even when K is empty so
-- that the worker does not wait on K with BLMOVE meanwhile; -4 as list_take.lua. On a reply
-- other than a count above 0 nothing was written.
if redis.call('TYPE', KEYS[6]).ok == 'string' then return -3 end
local hb = redis.call('GET', KEYS[4])
if hb and hb ~= ARGV[4] then return -4 end
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[7]) == 1 then return -1 end
if redis.call('LLEN', KEYS[1]) == 0 then return 0 end
if redis.call('EXISTS', KEYS[5]) == 1 then return -1 end
local n = redis.pcall('SORT', KEYS[1], 'BY', 'nosort', 'LIMIT', 0, tonumber(ARGV[1]), 'STORE',
                      KEYS[2])
if type(n) == 'table' then
  local e = tostring(n.err)
  if string.find(e, "can't run this command", 1, true) or string.find(e, 'NOPERM', 1, true) then
    return -2
  end
  return n
end
redis.call('HSET', KEYS[3], KEYS[2], ARGV[2])
redis.call('SET', KEYS[4], ARGV[4], 'PX', ARGV[3])
redis.call('LTRIM', KEYS[1], n, -1)
if KEYS[8] then
  local trim = n - tonumber(ARGV[5])
  if trim > 0 then redis.call('LTRIM', KEYS[8], trim, -1) end
end
return n
