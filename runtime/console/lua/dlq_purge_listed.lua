-- dlq_purge_listed.lua: removes the dead letters `switchyard dlq purge` listed, in one step.
-- KEYS: dead.
-- ARGV: n, the first and the n-th element as listed.
-- Reply: n when the n elements listed were still the first n and are removed; -1 (nothing
-- removed) when K:dead changed at its head meanwhile (the daemon trimmed it), so that the caller
-- removes them one by one instead. Letters the daemon pushed after the listing are at the tail
-- and stay.
local n = tonumber(ARGV[1])
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[2] or redis.call('LINDEX', KEYS[1], n - 1) ~= ARGV[3]
then return -1 end
redis.call('LTRIM', KEYS[1], n, -1)
return n
