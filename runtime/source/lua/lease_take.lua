-- lease_take.lua: takes (or re-reads) the lease and the window at the head of K for a
-- `delivery: lease` source; messages a dead holder left there count a delivery each, and go to
-- K:dead at max_deliveries.
-- KEYS: K, lease, window, deliveries, dead, owners[, notify].
-- ARGV: consumer, holder, ttl_ms, max, max_deliveries, dead-letter tail, tokens already consumed,
-- replaceable (the value of K:lease left by a dead run of this consumer name, or "").
-- Reply: {n, dead}: the window is the first n messages of K (0: K is empty), dead suspect
-- messages went to K:dead on the way; {n, dead, n found, suspect found} when K:window held values
-- out of range (clamped). {-1, 0, holder}: another consumer, or another run of this consumer name
-- that may be alive, holds the lease. {-2, 0}: `delivery: inflight` consumers have in-flight lists
-- on K.
--@include dead_letter_head.lua
local me = ARGV[2]
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= me and holder ~= ARGV[8] then
  -- Held by another consumer, or by another run of this consumer name that the caller has not
  -- seen dead: stand by. Free, or left by a dead run (ARGV[8]): this process owns it.
  return {-1, 0, holder}
end
if redis.call('EXISTS', KEYS[6]) == 1 then
  -- `delivery: inflight` consumers came first: stand by, and let go of the lease (they refuse to
  -- take while it is held, and a renewed lease would keep both sides waiting for ever).
  if holder == me then
    redis.call('DEL', KEYS[2])
    if redis.call('HGET', KEYS[3], 'by') == me then redis.call('DEL', KEYS[3]) end
  end
  return {-2, 0}
end
redis.call('SET', KEYS[2], me, 'PX', ARGV[3])
-- n and suspect never exceed K's length: values out of [0, LLEN K] (or not numbers) were written
-- by someone else and are clamped; the reply then carries the values found.
local len = redis.call('LLEN', KEYS[1])
local raw_n, raw_suspect = redis.call('HGET', KEYS[3], 'n'), redis.call('HGET', KEYS[3], 'suspect')
local corrupt = false
local function clamp(v)
  if not v then return 0 end
  local x = tonumber(v)
  if not x or x ~= x or x < 0 then corrupt = true; return 0 end
  if x > len then corrupt = true; return len end
  return math.floor(x)
end
local n = clamp(raw_n)
local suspect = clamp(raw_suspect)
local function reply(a, b)
  if corrupt then return {a, b, raw_n or '', raw_suspect or ''} end
  return {a, b}
end
if n > 0 then
  -- Our own window whose take reply was lost: read it again, it was never handled.
  if redis.call('HGET', KEYS[3], 'by') == me then return reply(n, 0) end
  -- A consumer died holding this window: each of its messages is now suspect.
  if suspect < n then suspect = n end
end
local dead = 0
while suspect > 0 do
  local m = redis.call('LINDEX', KEYS[1], 0)
  if not m then suspect = 0 break end
  local h = redis.sha1hex(m)
  local c = redis.call('HINCRBY', KEYS[4], h, 1)
  if c < tonumber(ARGV[5]) then
    redis.call('HSET', KEYS[3], 'n', 1, 'by', me, 'suspect', suspect)
    return reply(1, dead)
  end
  redis.call('LPOP', KEYS[1])
  redis.call('HDEL', KEYS[4], h)
  redis.call('RPUSH', KEYS[5], dead_letter_head(m) .. ARGV[6])
  dead = dead + 1
  suspect = suspect - 1
end
len = redis.call('LLEN', KEYS[1])
if len == 0 then
  redis.call('DEL', KEYS[3])
  return reply(0, dead)
end
n = math.min(len, tonumber(ARGV[4]))
redis.call('HSET', KEYS[3], 'n', n, 'by', me, 'suspect', 0)
if KEYS[7] then
  local trim = n - tonumber(ARGV[7])
  if trim > 0 then redis.call('LTRIM', KEYS[7], trim, -1) end
end
return reply(n, dead)
