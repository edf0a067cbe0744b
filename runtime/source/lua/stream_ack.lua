-- stream_ack.lua: XACKs a stream batch together with its dead letters and retries, but only
-- while every id of the batch is still pending for this consumer: otherwise (another consumer
-- claimed an entry while this one was silent, an earlier ack of this batch went through and its
-- reply was lost, or the group or the stream is gone) it writes nothing, so no dead letter or
-- retry is written twice and a lost group cannot wedge the ack. One exception: ids pending for
-- nobody while this consumer no longer exists in the group (XGROUP DELCONSUMER dropped its
-- pending entries) are still this batch's, and it is written.
-- The acked entries' messages (field "message") are archived; an entry deleted meanwhile or
-- without that field has no message to keep.
-- KEYS: stream, dead, retry, archive.
-- ARGV: group, consumer, nids, ids..., then the ack writes (ack_writes.lua): retention ms,
-- max_len, ndead, dead letters..., (score, member)...
-- Reply: {acked, 1 if this consumer had been deleted else 0}; -1 when it wrote nothing.
--@include archive.lua
--@include ack_writes.lua
local nids = tonumber(ARGV[3])
local deleted = nil
local function consumer_deleted()
  for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do
    if c[2] == ARGV[2] then return false end
  end
  return true
end
for i = 4, 3 + nids do
  local p = redis.pcall('XPENDING', KEYS[1], ARGV[1], ARGV[i], ARGV[i], 1)
  if type(p) ~= 'table' or p.err then return -1 end
  if #p == 0 then
    if deleted == nil then deleted = consumer_deleted() end
    if not deleted then return -1 end
  elseif p[1][2] ~= ARGV[2] then
    return -1
  end
end
check_ack_writes(4 + nids, KEYS[4])
local function messages()
  local out = {}
  for i = 4, 3 + nids do
    local e = redis.call('XRANGE', KEYS[1], ARGV[i], ARGV[i])
    if #e == 1 then
      local fields = e[1][2]
      for f = 1, #fields - 1, 2 do
        if fields[f] == 'message' then
          out[#out + 1] = fields[f + 1]
          break
        end
      end
    end
  end
  return out
end
local acked = 0
for i = 4, 3 + nids, 1000 do
  acked = acked + redis.call('XACK', KEYS[1], ARGV[1], unpack(ARGV, i, math.min(i + 999, 3 + nids)))
end
write_ack_writes(4 + nids, KEYS[2], KEYS[3], KEYS[4], messages)
return {acked, deleted and 1 or 0}
