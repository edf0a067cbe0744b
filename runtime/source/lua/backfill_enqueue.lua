-- backfill_enqueue.lua: enqueues one chunk of a backfill (source/archive.h): its deliveries into
-- K:retry and the cursor's move past them, in one step, only while the cursor stands where this
-- run left it (so a chunk is never enqueued twice, even by two runs at once).
-- KEYS: cursor (K:backfill:<handler>), retry.
-- ARGV: expected last id, new last id, scanned, now ms, then (score, member) per delivery.
-- Reply: 1 (written); 0 (nothing written: the cursor is gone or elsewhere).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (redis.call('HGET', KEYS[1], 'last') or '') ~= ARGV[1] then return 0 end
for i = 5, #ARGV, 1000 do
  redis.call('ZADD', KEYS[2], unpack(ARGV, i, math.min(i + 999, #ARGV)))
end
redis.call('HINCRBY', KEYS[1], 'scanned', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'sent', (#ARGV - 4) / 2)
redis.call('HINCRBY', KEYS[1], 'scanned_total', ARGV[3])
redis.call('HINCRBY', KEYS[1], 'sent_total', (#ARGV - 4) / 2)
redis.call('HSET', KEYS[1], 'last', ARGV[2], 'updated_ms', ARGV[4])
return 1
