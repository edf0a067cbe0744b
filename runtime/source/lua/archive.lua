-- archive.lua (a fragment scripts --@include): keeps acknowledged messages in the archive stream
-- K:archive (README "History: archive, backfill, replay"), written by the ack script itself so
-- that a message leaves in-flight and enters the archive in one atomic step.
-- archive_check(key, retention_ms) fails with WRONGTYPE, before the script writes anything, when
-- the archive is on and key holds another type than a stream.
-- archive_messages(key, retention_ms, max_len, msgs) XADDs each message of msgs (field m: the
-- message bytes as taken; the entry id's time is when it was handled), then trims the stream to
-- about max_len entries (MAXLEN ~) and drops entries older than retention_ms (MINID ~).
-- retention_ms 0: the archive is off and both do nothing.
local function archive_check(key, retention_ms)
  if retention_ms == 0 then return end
  local t = redis.call('TYPE', key).ok
  if t ~= 'none' and t ~= 'stream' then
    error({err = 'WRONGTYPE ' .. key .. ' is a ' .. t .. ', not the archive stream; rename it aside'})
  end
end
local function archive_messages(key, retention_ms, max_len, msgs)
  if retention_ms == 0 or #msgs == 0 then return end
  for _, m in ipairs(msgs) do redis.call('XADD', key, '*', 'm', m) end
  redis.call('XTRIM', key, 'MAXLEN', '~', max_len)
  local t = redis.call('TIME')
  local oldest = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) - retention_ms
  if oldest > 0 then redis.call('XTRIM', key, 'MINID', '~', oldest) end
end
