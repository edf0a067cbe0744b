-- ack_writes.lua (a fragment scripts --@include): the function write_ack_writes(at, dead, retry),
-- which writes what closes a batch besides the ack itself. ARGV from index `at` on holds, up to
-- its end: ndead, the ndead dead letters (RPUSHed to the list dead, in order), then one
-- (score, member) pair per retry (ZADDed to the sorted set retry). The C++ side builds that tail
-- with append_ack_writes (source/ack_writes.h).
local function write_ack_writes(at, dead, retry)
  local nd = tonumber(ARGV[at])
  for i = at + 1, at + nd, 1000 do
    redis.call('RPUSH', dead, unpack(ARGV, i, math.min(i + 999, at + nd)))
  end
  for i = at + 1 + nd, #ARGV, 1000 do
    redis.call('ZADD', retry, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
