-- list_ack.lua: acks a whole batch of a list source with its dead letters and retries, only if
-- the in-flight list is still ours (holds exactly the batch's n elements).
-- KEYS: inflight, dead, retry, deliveries.
-- ARGV: n, ndead, dead letters..., (score, member)...
-- Reply: 1 (acked: the in-flight list is deleted); 0 (nothing written: list_heal_ack.lua runs).
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) ~= n then return 0 end
local nd = tonumber(ARGV[2])
for i = 3, 2 + nd, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 999, 2 + nd)))
end
for i = 3 + nd, #ARGV, 1000 do
  redis.call('ZADD', KEYS[3], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
if n == 1 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HDEL', KEYS[4], redis.sha1hex(redis.call('LINDEX', KEYS[1], 0)))
end
redis.call('DEL', KEYS[1])
return 1
