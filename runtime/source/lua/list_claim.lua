-- list_claim.lua: claims a consumer name at start by setting its heartbeat to this run's token,
-- unless another run's token (other than ARGV[3]) holds it.
-- KEYS: heartbeat.
-- ARGV: token, ttl_ms, a token that may be replaced ('' for none).
-- Reply: 1, or the other run's token (nothing written).
local hb = redis.call('GET', KEYS[1])
if hb and hb ~= ARGV[1] and hb ~= ARGV[3] then return hb end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
