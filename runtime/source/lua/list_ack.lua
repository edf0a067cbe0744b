-- list_ack.lua: acks a whole batch of a list source with its dead letters and retries, and
-- archives its messages, only if the in-flight list is still ours (holds exactly the batch's n
-- elements).
-- KEYS: inflight, dead, retry, deliveries, archive.
-- ARGV: n, then the ack writes (ack_writes.lua): retention ms, max_len, ndead, dead letters...,
-- (score, member)...
-- Reply: 1 (acked: the in-flight list is deleted); 0 (nothing written: list_heal_ack.lua runs).
--@include archive.lua
--@include ack_writes.lua
local n = tonumber(ARGV[1])
if redis.call('LLEN', KEYS[1]) ~= n then return 0 end
check_ack_writes(2, KEYS[5])
write_ack_writes(2, KEYS[2], KEYS[3], KEYS[5], function()
  return redis.call('LRANGE', KEYS[1], 0, -1)
end)
if n == 1 and redis.call('EXISTS', KEYS[4]) == 1 then
  redis.call('HDEL', KEYS[4], redis.sha1hex(redis.call('LINDEX', KEYS[1], 0)))
end
redis.call('DEL', KEYS[1])
return 1
