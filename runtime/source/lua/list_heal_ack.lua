-- list_heal_ack.lua: runs when list_ack.lua refused a batch because the in-flight list holds
-- other elements too: removes the batch's messages (one occurrence each) and their delivery
-- counts, writes the batch's dead letters and retries if any of its messages was still there,
-- and returns every other element to the head of K, uncounted (nobody handled them here).
-- KEYS: inflight, dead, retry, deliveries, K.
-- ARGV: n, ndead, nretry, dead letters..., (score, member)..., the batch's n messages.
-- Reply: {found, returned}; {0, 0} (nothing written) when the list is gone (reclaimed by another
-- instance, or an earlier ack went through); {-1, 0} (nothing written) when it is not a list.
--@include push_head.lua
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {0, 0} end
if t ~= 'list' then return {-1, 0} end
local n, nd, nr = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local first = 4 + nd + 2 * nr
local counted = redis.call('EXISTS', KEYS[4]) == 1
local found = 0
for i = first, first + n - 1 do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    found = found + 1
    if counted then redis.call('HDEL', KEYS[4], redis.sha1hex(ARGV[i])) end
  end
end
if found > 0 then
  for i = 4, 3 + nd, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, 3 + nd)))
  end
  for i = 4 + nd, first - 1, 1000 do
    redis.call('ZADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, first - 1)))
  end
end
local rest = redis.call('LRANGE', KEYS[1], 0, -1)
push_head(KEYS[5], rest)
redis.call('DEL', KEYS[1])
return {found, #rest}
