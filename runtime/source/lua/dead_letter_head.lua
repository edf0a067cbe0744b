-- dead_letter_head.lua (a fragment scripts --@include): the function dead_letter_head(m), the text
-- `{"message":<m as a JSON string>` that encode_dead_letter (dispatch/dead_letter.cc) writes before
-- the tail. When m is not valid UTF-8, "message" holds m with U+FFFD for each invalid byte,
-- followed by `,"message_base64":"<the exact bytes>"`. A script writes a dead letter as
-- dead_letter_head(m) .. tail, where tail is encode_dead_letter_tail's text.
local function dead_letter_utf8_len(m, i)
  local c = string.byte(m, i)
  if c < 0x80 then return 1 end
  local n = 0
  if c >= 0xC2 and c <= 0xDF then n = 2 elseif c >= 0xE0 and c <= 0xEF then n = 3
  elseif c >= 0xF0 and c <= 0xF4 then n = 4 else return 0 end
  if i + n - 1 > #m then return 0 end
  for k = 1, n - 1 do
    local b = string.byte(m, i + k)
    if b < 0x80 or b > 0xBF then return 0 end
  end
  local c1 = string.byte(m, i + 1)
  if (c == 0xE0 and c1 < 0xA0) or (c == 0xED and c1 > 0x9F) or (c == 0xF0 and c1 < 0x90) or
     (c == 0xF4 and c1 > 0x8F) then return 0 end
  return n
end
local function dead_letter_head(m)
  if not string.find(m, '[\128-\255]') then return '{"message":' .. cjson.encode(m) end
  local readable, i, valid = {}, 1, true
  while i <= #m do
    local n = dead_letter_utf8_len(m, i)
    if n == 0 then
      readable[#readable + 1] = '\239\191\189'
      valid = false
      i = i + 1
    else
      readable[#readable + 1] = string.sub(m, i, i + n - 1)
      i = i + n
    end
  end
  if valid then return '{"message":' .. cjson.encode(m) end
  local alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'
  local b64 = {}
  for k = 1, #m, 3 do
    local a, b, c = string.byte(m, k, k + 2)
    local v = a * 65536 + (b or 0) * 256 + (c or 0)
    local d1, d2 = math.floor(v / 262144) % 64, math.floor(v / 4096) % 64
    local d3, d4 = math.floor(v / 64) % 64, v % 64
    b64[#b64 + 1] = string.sub(alphabet, d1 + 1, d1 + 1) .. string.sub(alphabet, d2 + 1, d2 + 1) ..
                    (b and string.sub(alphabet, d3 + 1, d3 + 1) or '=') ..
                    (c and string.sub(alphabet, d4 + 1, d4 + 1) or '=')
  end
  return '{"message":' .. cjson.encode(table.concat(readable)) .. ',"message_base64":"' ..
         table.concat(b64) .. '"'
end
