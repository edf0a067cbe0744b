-- lease_ack.lua: acks the window of a `delivery: lease` source by trimming it off the head of
-- K, with the batch's dead letters and retries, archiving its messages; then, when the caller
-- read ahead the messages that followed the window, records them as the next window (what
-- lease_take.lua would do), fenced as the ack is: only while nothing is suspect, no `delivery:
-- inflight` list is registered, and its first and last messages are at positions 0 and m-1.
-- KEYS: K, lease, window, deliveries, dead, retry, archive, owners[, notify].
-- ARGV: holder, n, first message, last message, ttl_ms, m (0: nothing read ahead), first and
-- last message read ahead, then the ack writes (ack_writes.lua): retention ms, max_len, ndead,
-- dead letters..., (score, member)...
-- Reply: 1 (trimmed), 2 (trimmed, and the m messages read ahead are the window now: the lease
-- was renewed), 0 (lease or window no longer ours: nothing written), -1 (the head of K changed:
-- window dropped, nothing trimmed or written).
--@include archive.lua
--@include ack_writes.lua
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
if redis.call('HGET', KEYS[3], 'by') ~= ARGV[1] then return 0 end
local n = tonumber(ARGV[2])
if tonumber(redis.call('HGET', KEYS[3], 'n')) ~= n then return 0 end
if redis.call('LINDEX', KEYS[1], 0) ~= ARGV[3] or redis.call('LINDEX', KEYS[1], n - 1) ~= ARGV[4] then
  redis.call('DEL', KEYS[3])
  return -1
end
check_ack_writes(9, KEYS[7])
write_ack_writes(9, KEYS[5], KEYS[6], KEYS[7], function()
  return redis.call('LRANGE', KEYS[1], 0, n - 1)
end)
-- Delivery counts of the window's messages (a suspect message, or counts an earlier
-- `delivery: inflight` run left) end with the message.
if redis.call('EXISTS', KEYS[4]) == 1 then
  for _, m in ipairs(redis.call('LRANGE', KEYS[1], 0, n - 1)) do
    redis.call('HDEL', KEYS[4], redis.sha1hex(m))
  end
end
redis.call('LTRIM', KEYS[1], n, -1)
local suspect = tonumber(redis.call('HGET', KEYS[3], 'suspect') or '0')
if suspect > 0 then suspect = suspect - n end
if suspect > 0 then
  redis.call('HSET', KEYS[3], 'n', 0, 'by', '', 'suspect', suspect)
  return 1
end
local m = tonumber(ARGV[6])
if m > 0 and redis.call('EXISTS', KEYS[8]) == 0 and
   redis.call('LINDEX', KEYS[1], 0) == ARGV[7] and redis.call('LINDEX', KEYS[1], m - 1) == ARGV[8] then
  redis.call('HSET', KEYS[3], 'n', m, 'by', ARGV[1], 'suspect', 0)
  redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[5])
  if KEYS[9] then redis.call('LTRIM', KEYS[9], m, -1) end
  return 2
end
redis.call('DEL', KEYS[3])
return 1
