-- lease_renew.lua: extends K:lease only if we hold it.
-- KEYS: lease.
-- ARGV: holder, ttl_ms.
-- Reply: 1 if it extended the lease, else 0.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
