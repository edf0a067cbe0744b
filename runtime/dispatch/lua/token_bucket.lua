-- token_bucket.lua: takes up to `wanted` tokens from a token bucket shared by every instance, by
-- Redis's clock (TIME). The bucket holds at most `capacity` tokens and gains `rate` tokens per
-- `period` ms; it starts full. It is a hash (tokens, at) that expires once it would be full again.
-- KEYS: bucket.
-- ARGV: rate (whole tokens per period, >= 1), period (ms, >= 1), capacity (>= 1), wanted (>= 0).
-- Reply: {granted, wait, now}: granted <= wanted tokens taken; wait: when granted < wanted, the
-- ms until the next whole token (>= 1), else 0; now: Redis's clock (unix ms).
local rate = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local capacity = tonumber(ARGV[3])
local wanted = tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil or tokens ~= tokens then
  tokens = capacity
  at = now
end
-- A clock that went back refills nothing (and does not move `at` back).
if now > at then
  tokens = tokens + (now - at) * rate / period
  at = now
end
if tokens > capacity then tokens = capacity end
if tokens < 0 then tokens = 0 end
local granted = math.min(wanted, math.floor(tokens))
tokens = tokens - granted
local wait = 0
if granted < wanted then
  wait = math.max(1, math.ceil((1 - tokens) * period / rate))
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens), 'at', tostring(at))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) * period / rate) + 1000)
return {granted, wait, now}
