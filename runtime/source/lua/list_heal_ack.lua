-- list_heal_ack.lua: runs when list_ack.lua refused a batch because the in-flight list holds
-- other elements too: removes the batch's messages (one occurrence each) and their delivery
-- counts, writes the batch's dead letters and retries and archives the messages it removed if
-- any of its messages was still there, and returns every other element to the head of K,
-- uncounted (nobody handled them here).
-- KEYS: inflight, dead, retry, deliveries, K, archive.
-- ARGV: n, the batch's n messages, then the ack writes (ack_writes.lua): retention ms, max_len,
-- ndead, dead letters..., (score, member)...
-- Reply: {found, returned}; {0, 0} (nothing written) when the list is gone (reclaimed by another
-- instance, or an earlier ack went through); {-1, 0} (nothing written) when it is not a list.
--@include push_head.lua
--@include archive.lua
--@include ack_writes.lua
local t = redis.call('TYPE', KEYS[1]).ok
if t == 'none' then return {0, 0} end
if t ~= 'list' then return {-1, 0} end
local n = tonumber(ARGV[1])
check_ack_writes(2 + n, KEYS[6])
local counted = redis.call('EXISTS', KEYS[4]) == 1
local removed = {}
for i = 2, 1 + n do
  if redis.call('LREM', KEYS[1], 1, ARGV[i]) == 1 then
    removed[#removed + 1] = ARGV[i]
    if counted then redis.call('HDEL', KEYS[4], redis.sha1hex(ARGV[i])) end
  end
end
if #removed > 0 then
  write_ack_writes(2 + n, KEYS[2], KEYS[3], KEYS[6], function() return removed end)
end
local rest = redis.call('LRANGE', KEYS[1], 0, -1)
push_head(KEYS[5], rest)
redis.call('DEL', KEYS[1])
return {#removed, #rest}
