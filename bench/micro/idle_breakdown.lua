-- bench/micro/idle_breakdown.lua [N]: memory of N idle connections, each
-- with its server task blocked in s:read(), split into Lua heap and the
-- rest of the RSS. The client is a child corio process. Run from the
-- repository root with LUA_PATH/LUA_CPATH pointing at the build.
local corio = require "corio"
local N = tonumber(arg[1] or 10000)

local function rss_kb()
  local f = assert(io.open("/proc/self/status"))
  local kb = tonumber(f:read("a"):match("VmRSS:%s+(%d+)"))
  f:close()
  return kb
end

corio.run(function()
  local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 4096 }))
  local _, port = ls:addr()
  local client = io.popen(("ulimit -n $(ulimit -Hn); lua5.4 -e '%s'"):format(
    ([[local c = require "corio"
      c.run(function() local t = {} for i = 1, %d do t[i] = assert(c.tcp.connect("127.0.0.1", %d)) end c.sleep(3) end)]])
    :format(N, port)))
  collectgarbage(); collectgarbage()
  local r0, k0 = rss_kb(), collectgarbage("count")
  for _ = 1, N do
    local s = assert(ls:accept())
    corio.spawn(function() s:read(10) end)
  end
  corio.sleep(0.5)
  collectgarbage(); collectgarbage()
  local lua_b = (collectgarbage("count") - k0) * 1024 / N
  local rss_b = (rss_kb() - r0) * 1024 / N
  print(("%d idle connections on %s: %.0f bytes/conn RSS, of which %.0f Lua heap, %.0f C heap and malloc overhead")
    :format(N, corio.backend(), rss_b, lua_b, rss_b - lua_b))
  os.exit(0)
end)
