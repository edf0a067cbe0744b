-- retry_settle.lua: settles leased K:retry entries once their handlers ran: each one still in
-- K:retry is removed and, by its action, rescheduled or dead-lettered; its runner is forgotten.
-- KEYS: retry, dead, runners.
-- ARGV: quadruples (member, action, score, data); action done|retry|dead (retry: ZADD data at
-- score; dead: RPUSH data to K:dead).
-- Reply: how many members were still in K:retry (settled).
local settled = 0
for i = 1, #ARGV, 4 do
  redis.call('HDEL', KEYS[3], ARGV[i])
  if redis.call('ZREM', KEYS[1], ARGV[i]) == 1 then
    if ARGV[i + 1] == 'retry' then
      redis.call('ZADD', KEYS[1], ARGV[i + 2], ARGV[i + 3])
    elseif ARGV[i + 1] == 'dead' then
      redis.call('RPUSH', KEYS[2], ARGV[i + 3])
    end
    settled = settled + 1
  end
end
return settled
