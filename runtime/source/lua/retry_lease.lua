-- retry_lease.lua: leases the due entries of K:retry by Redis's clock (TIME, the same for every
-- host): each member is re-added with its lease count plus one, due at now+lease, and recorded in
-- runners as run by me. A due member whose runner is another worker that is still alive (GET
-- <alive key> is still <alive value>: its process's heartbeat, or its lease) is a slow handler,
-- not a crash: its lease is renewed instead, without counting.
-- KEYS: retry, runners.
-- ARGV: lease_ms, max, me ("<alive key>\n<alive value>\n<worker>", or '' when this source has no
-- liveness key).
-- Reply: {now_ms, leased members...}.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local out = {now}
local until_ms = now + tonumber(ARGV[1])
for _, m in ipairs(due) do
  local runner = redis.call('HGET', KEYS[2], m)
  local alive = false
  if runner and runner ~= ARGV[3] then
    local k, v = string.match(runner, '^(.-)\n(.-)\n')
    if k then alive = redis.pcall('GET', k) == v end
  end
  if alive then
    redis.call('ZADD', KEYS[1], until_ms, m)
  else
    if runner then redis.call('HDEL', KEYS[2], m) end
    local leases, rest = string.match(m, '^v1|(%d+)|(.*)$')
    local m2 = m
    redis.call('ZREM', KEYS[1], m)
    if leases then m2 = 'v1|' .. (tonumber(leases) + 1) .. '|' .. rest end
    redis.call('ZADD', KEYS[1], until_ms, m2)
    if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], m2, ARGV[3]) end
    out[#out + 1] = m2
  end
end
return out
