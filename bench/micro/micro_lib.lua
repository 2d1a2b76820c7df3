-- Helpers shared by the micro-benchmarks: wall clock, RSS, key=value output.
local M = {}

-- wall clock in seconds; `date` is called only around a timed section
function M.now()
  local p = io.popen("date +%s.%N")
  local s = p:read("l")
  p:close()
  return tonumber(s)
end

-- resident set size of this process, in KiB (field of /proc/self/status)
function M.rss_kb(field)
  local f = io.open("/proc/self/status")
  if not f then return 0 end
  local txt = f:read("a")
  f:close()
  return tonumber(txt:match((field or "VmRSS") .. ":%s*(%d+)")) or 0
end

-- print one machine-readable line: micro=NAME impl=IMPL k=v ...
function M.emit(name, impl, t)
  local parts = { "micro=" .. name, "impl=" .. impl }
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = t[k]
    if math.type(v) == "float" then v = string.format("%.6g", v) end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  io.write(table.concat(parts, " "), "\n")
  io.stdout:flush()
end

function M.na(name, impl, reason)
  reason = tostring(reason):gsub("%s+", "_"):sub(1, 120)
  M.emit(name, impl, { status = "n/a", reason = reason })
end

return M
