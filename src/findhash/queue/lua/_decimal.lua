-- Non-negative integers held as decimal strings. Candidate indices outgrow the
-- 2^53 that a Lua number holds exactly, and finite spaces can be far larger.

-- Below this many digits, plain Lua arithmetic is exact and much faster.
local EXACT_DIGITS = 15

local function dec_norm(a)
  return string.match(a, '^0*(%d+)$')
end

local function dec_cmp(a, b)
  if #a ~= #b then
    return #a < #b and -1 or 1
  end
  if a == b then
    return 0
  end
  return a < b and -1 or 1
end

local function dec_add(a, b)
  if #a < EXACT_DIGITS and #b < EXACT_DIGITS then
    return string.format('%.0f', tonumber(a) + tonumber(b))
  end
  local out, carry = {}, 0
  local i, j = #a, #b
  while i > 0 or j > 0 or carry > 0 do
    local digit = carry
    if i > 0 then
      digit = digit + string.byte(a, i) - 48
      i = i - 1
    end
    if j > 0 then
      digit = digit + string.byte(b, j) - 48
      j = j - 1
    end
    carry = digit >= 10 and 1 or 0
    out[#out + 1] = string.char(48 + digit % 10)
  end
  return string.reverse(table.concat(out))
end

-- a - b, for a >= b.
local function dec_sub(a, b)
  if #a < EXACT_DIGITS then
    return string.format('%.0f', tonumber(a) - tonumber(b))
  end
  local out, borrow = {}, 0
  local j = #b
  for i = #a, 1, -1 do
    local digit = string.byte(a, i) - 48 - borrow
    if j > 0 then
      digit = digit - (string.byte(b, j) - 48)
      j = j - 1
    end
    borrow = digit < 0 and 1 or 0
    out[#out + 1] = string.char(48 + digit + 10 * borrow)
  end
  return dec_norm(string.reverse(table.concat(out)))
end
