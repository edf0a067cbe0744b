-- ack_writes.lua (a fragment scripts --@include after archive.lua): what closes a batch besides
-- the ack itself. ARGV from index `at` on holds, up to its end: the archive's retention in ms
-- (0: archive off) and max_len, ndead, the ndead dead letters (RPUSHed to the list dead, in
-- order), then one (score, member) pair per retry (ZADDed to the sorted set retry). The C++ side
-- builds that tail with append_ack_writes (source/ack_writes.h).
-- check_ack_writes(at, archive) runs before the script writes anything (archive_check).
-- write_ack_writes(at, dead, retry, archive, messages) archives what messages() returns (the
-- batch's acknowledged messages; called only when the archive is on), then writes the rest.
local function check_ack_writes(at, archive)
  archive_check(archive, tonumber(ARGV[at]))
end
local function write_ack_writes(at, dead, retry, archive, messages)
  local retention = tonumber(ARGV[at])
  if retention > 0 then archive_messages(archive, retention, ARGV[at + 1], messages()) end
  at = at + 2
  local nd = tonumber(ARGV[at])
  for i = at + 1, at + nd, 1000 do
    redis.call('RPUSH', dead, unpack(ARGV, i, math.min(i + 999, at + nd)))
  end
  for i = at + 1 + nd, #ARGV, 1000 do
    redis.call('ZADD', retry, unpack(ARGV, i, math.min(i + 999, #ARGV)))
  end
end
