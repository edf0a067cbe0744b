-- dlq_replay.lua: queues a dead letter's message again and removes the letter, in one step.
-- KEYS: dead, target (K, or K:retry for mode 'retry').
-- ARGV: the exact dead letter, mode ('list'|'stream'|'retry'), score (mode 'retry'), value.
-- Reply: 1; 0 (nothing written) when the dead letter was gone.
if redis.call('LREM', KEYS[1], 1, ARGV[1]) == 0 then return 0 end
if ARGV[2] == 'retry' then
  redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
elseif ARGV[2] == 'stream' then
  redis.call('XADD', KEYS[2], '*', 'message', ARGV[4])
else
  redis.call('RPUSH', KEYS[2], ARGV[4])
end
return 1
