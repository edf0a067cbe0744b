-- trim_dead.lua: keeps K:dead within its configured length and age by dropping its oldest letters.
-- KEYS: dead.
-- ARGV: the most elements to keep; optionally a cutoff (failed_at as ISO 8601 UTC, the format
-- dead letters use, which compares in time order; "" for none) and the most letters to drop for
-- age in this call (bounds the time the script holds Redis).
-- Reply: how many it dropped, from the head (the oldest; the daemon appends), atomically. Age
-- looks at the head only: it stops at the first letter not older than the cutoff, or whose
-- failed_at it cannot find (the length cap still applies to it).
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over > 0 then
  redis.call('LTRIM', KEYS[1], over, -1)
else
  over = 0
end
local aged = 0
if ARGV[2] and ARGV[2] ~= '' then
  local most = tonumber(ARGV[3] or '1000')
  while aged < most do
    local head = redis.call('LINDEX', KEYS[1], 0)
    if not head then break end
    -- Inside a JSON string every quote is escaped, so this finds the letter's own field, never
    -- text in its message.
    local failed_at = string.match(head, '"failed_at":"([^"]*)"')
    if not failed_at or failed_at >= ARGV[2] then break end
    redis.call('LPOP', KEYS[1])
    aged = aged + 1
  end
end
return over + aged
