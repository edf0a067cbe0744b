-- unpark_retries.lua: makes the deliveries parked for handlers that are no longer paused due now
-- (by Redis's clock, as retry_lease.lua reads it), so the retry runners hand them to the handler.
-- A parked delivery is a K:retry member at its handler's parked score (dispatch/pause.h); members
-- of another handler that share the score (a hash collision) are left alone.
-- KEYS: retry.
-- ARGV: the most members to move per handler, then pairs: parked score, handler name.
-- Reply: how many it moved.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local moved = 0
for i = 2, #ARGV - 1, 2 do
  local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[i], ARGV[i], 'LIMIT', 0, max)
  for _, m in ipairs(members) do
    local handler = string.match(m, '^v1|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
    if handler == ARGV[i + 1] then
      redis.call('ZADD', KEYS[1], now, m)
      moved = moved + 1
    end
  end
end
return moved
