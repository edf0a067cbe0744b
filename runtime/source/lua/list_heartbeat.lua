-- list_heartbeat.lua: the housekeeping heartbeat of a list source: refreshes the heartbeat only
-- if it is this run's (or expired), and registers the in-flight lists in K:owners only while no
-- `delivery: lease` consumer holds K:lease (a registration would make it stand by while this
-- worker refuses to take).
-- KEYS: heartbeat, owners, lease.
-- ARGV: token, ttl_ms, consumer, in-flight lists...
-- Reply: 1, or the other run's token (nothing written).
local hb = redis.call('GET', KEYS[1])
if hb and hb ~= ARGV[1] then return hb end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('TYPE', KEYS[3]).ok ~= 'string' then
  for i = 4, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[3]) end
end
return 1
