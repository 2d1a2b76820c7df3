-- bench/lib.lua: what the report scripts (report.lua, ab_report.lua,
-- udp_report.lua) share: reading the key=value lines of raw results,
-- medians, and number formats. Loaded with dofile from beside them.
local lib = {}

-- The key=value pairs of a raw result line, as a table of strings.
function lib.parse_line(line)
  local t = {}
  for k, v in line:gmatch("(%S-)=(%S*)") do t[k] = v end
  return t
end

-- The median of a list of numbers (the list is left as it was), or nil.
function lib.median(xs)
  if #xs == 0 then return nil end
  local s = table.move(xs, 1, #xs, 1, {})
  table.sort(s)
  local n = #s
  return n % 2 == 1 and s[(n + 1) // 2] or (s[n // 2] + s[n // 2 + 1]) / 2
end

-- x with p decimals (default 1), or "n/a".
function lib.fmt(x, p)
  return x and string.format("%." .. (p or 1) .. "f", x) or "n/a"
end

-- x rounded, with thousands separators ("1,234,567"), or "n/a".
function lib.fmt_int(x)
  if not x then return "n/a" end
  return (string.format("%.0f", x):reverse():gsub("(%d%d%d)", "%1,"):reverse():gsub("^,", ""))
end

-- a / b, or nil when either is missing or b is not positive.
function lib.ratio(a, b)
  return a and b and b > 0 and a / b or nil
end

-- "1.23x", or "n/a".
function lib.fmt_ratio(r)
  return r and string.format("%.2fx", r) or "n/a"
end

return lib
