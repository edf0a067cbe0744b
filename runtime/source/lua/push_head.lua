-- push_head.lua (a fragment scripts --@include): the function push_head(k, t), which pushes the
-- elements of table t, in order, onto the head of list k (ahead of what it holds).
local function push_head(k, t)
  local rev = {}
  for i = #t, 1, -1 do rev[#rev + 1] = t[i] end
  for i = 1, #rev, 1000 do redis.call('LPUSH', k, unpack(rev, i, math.min(i + 999, #rev))) end
end
