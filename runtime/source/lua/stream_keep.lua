-- stream_keep.lua: keeps the entries of the batch in hand this consumer's: each id that is still
-- pending for this consumer and still in the stream gets its idle time reset (XCLAIM JUSTID: the
-- delivery count stays); ids claimed by others, acked or deleted are left alone.
-- KEYS: stream.
-- ARGV: group, consumer, ids...
-- Reply: how many ids it kept.
local n = 0
for i = 3, #ARGV do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1, ARGV[2])
  if type(p) == 'table' and not p.err and #p == 1 and
     #redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i]) == 1 then
    redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[i], 'JUSTID')
    n = n + 1
  end
end
return n
