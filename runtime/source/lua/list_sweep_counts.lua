-- list_sweep_counts.lua: removes the delivery counts of messages that are neither in a
-- registered in-flight list nor among the first ARGV[1] messages of K (where recovered messages
-- return): counts left by a mode switch or by an operator removing messages, which would
-- otherwise stay for ever and keep the fast take path off.
-- KEYS: deliveries, owners, K.
-- ARGV: how many messages at the head of K to look at.
-- Reply: how many counts it removed.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local live = {}
local function mark(list)
  for _, m in ipairs(list) do live[redis.sha1hex(m)] = true end
end
if redis.call('TYPE', KEYS[2]).ok == 'hash' then
  for _, l in ipairs(redis.call('HKEYS', KEYS[2])) do
    if redis.call('TYPE', l).ok == 'list' then mark(redis.call('LRANGE', l, 0, -1)) end
  end
end
if redis.call('TYPE', KEYS[3]).ok == 'list' then
  mark(redis.call('LRANGE', KEYS[3], 0, tonumber(ARGV[1]) - 1))
end
local removed = 0
for _, h in ipairs(redis.call('HKEYS', KEYS[1])) do
  if not live[h] then
    redis.call('HDEL', KEYS[1], h)
    removed = removed + 1
  end
end
return removed
