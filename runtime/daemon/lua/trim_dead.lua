-- trim_dead.lua: keeps K:dead at its configured length by dropping its oldest letters.
-- KEYS: dead.
-- ARGV: the most elements to keep.
-- Reply: how many it dropped, from the head (the oldest; the daemon appends), atomically.
local over = redis.call('LLEN', KEYS[1]) - tonumber(ARGV[1])
if over <= 0 then return 0 end
redis.call('LTRIM', KEYS[1], over, -1)
return over
