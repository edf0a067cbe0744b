-- lease_drop_window.lua: drops K:window only if it is still ours: a former holder that paused
-- between its take and its LRANGE must not drop the window of the consumer that took over.
-- KEYS: window.
-- ARGV: holder.
-- Reply: 1 if it dropped the window, else 0.
if redis.call('HGET', KEYS[1], 'by') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
