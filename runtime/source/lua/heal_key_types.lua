-- heal_key_types.lua: moves aside the keys of a list source that another writer left with the
-- wrong type (WRONGTYPE would stop the source).
-- KEYS: K, then the other keys.
-- ARGV: the type each key must have (same order), the quarantine prefix, a time suffix.
-- Renames every key but K whose type differs (and is not 'none') to
-- <prefix><key without "K:"><':'><time suffix>.
-- Reply: {key, type, expected, new name ('' for K, which is never renamed)} for each mismatch.
local out = {}
for i, k in ipairs(KEYS) do
  local t = redis.call('TYPE', k).ok
  local want = ARGV[i]
  if t ~= 'none' and t ~= want then
    local aside = ''
    if i > 1 then
      aside = ARGV[#KEYS + 1] .. string.sub(k, #KEYS[1] + 2) .. ':' .. ARGV[#KEYS + 2]
      redis.call('RENAME', k, aside)
    end
    out[#out + 1] = {k, t, want, aside}
  end
end
return out
