-- unpark_retries.lua: makes due now (by Redis's clock, as retry_lease.lua reads it) every delivery
-- parked for a handler that is not among the ones still paused, so the retry runners hand it to
-- its handler, or dead-letter it when that handler is no longer configured. A parked delivery is
-- a K:retry member at a score of 2^52 or more (dispatch/pause.h: one score per handler). The walk
-- looks at each parked score once: a score whose first member belongs to a paused handler is
-- skipped whole (a delivery of another handler at that score, a 52-bit hash collision, waits for
-- that handler's resume).
-- KEYS: retry.
-- ARGV: the most members to move in one call, then the names of the handlers that stay paused.
-- At most 10000 parked scores are looked at per call (one per handler, unless K:retry holds junk).
-- Reply: how many it moved.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local max = tonumber(ARGV[1])
local paused = {}
for i = 2, #ARGV do paused[ARGV[i]] = true end
local function handler_of(m)
  return string.match(m, '^v1|[^|]*|[^|]*|[^|]*|[^|]*|([^|]*)|')
end
local moved, looks = 0, 0
local from = '4503599627370496' -- 2^52, as text: Lua's tostring would round it
while moved < max and looks < 10000 do
  looks = looks + 1
  local first = redis.call('ZRANGEBYSCORE', KEYS[1], from, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then break end
  local score = first[2]
  if not paused[handler_of(first[1]) or ''] then
    local members = redis.call('ZRANGEBYSCORE', KEYS[1], score, score, 'LIMIT', 0, max - moved)
    for _, m in ipairs(members) do
      if not paused[handler_of(m) or ''] then
        redis.call('ZADD', KEYS[1], now, m)
        moved = moved + 1
      end
    end
  end
  from = '(' .. score
end
return moved
