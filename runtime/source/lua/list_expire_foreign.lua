-- list_expire_foreign.lua: gives a TTL to a key Switchyard always writes with one (K:lease): a
-- key without one was written by someone else (an operator, a restore) and would never expire.
-- KEYS: the key.
-- ARGV: ttl_ms (a live holder renews it).
-- Reply: 1 if it gave the key a TTL, else 0.
if redis.call('PTTL', KEYS[1]) == -1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  return 1
end
return 0
