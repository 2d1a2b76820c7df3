-- bench/micro/idle_breakdown.lua [N [user]]: where the memory of N idle
-- connections goes. The server side is examples/echo_server.lua's task
-- (spawn(serve, conn), blocked in s:read() after one echo round trip), or
-- with "user" bench/servers/corio_user_echo.lua's (pcall around the
-- handler, nodelay, read(4096));
-- the client is a child corio process that opens all N connections, then
-- makes one round trip on each. Prints per connection: server RSS growth,
-- split by mapping (slab = the Lua state's small objects, malloc heap,
-- io_uring receive-buffer ring, big blocks (other anonymous mappings),
-- other), the Lua heap before and after a full GC
-- (the difference is garbage not yet collected), and a task's fixed parts.
-- Run from the repository root with LUA_PATH/LUA_CPATH pointing at the
-- build (bench/GAPS.md quotes its output).
local corio = require "corio"
local N = tonumber(arg[1] or 10000)
local USER = arg[2] == "user"

-- Rss (kB) of each mapping, keyed by a name and its size.
local function maps()
  local f = assert(io.open("/proc/self/smaps"))
  local res, cur = {}, nil
  for line in f:lines() do
    local a, b, name = line:match("^(%x+)-(%x+) %S+ %S+ %S+ %S+%s*(.*)$")
    if a then
      local kb = (tonumber(b, 16) - tonumber(a, 16)) // 1024
      cur = (name ~= "" and name or "anon") .. " " .. kb .. " kB"
    else
      local rss = line:match("^Rss:%s+(%d+)")
      if rss then res[cur] = (res[cur] or 0) + tonumber(rss) end
    end
  end
  f:close()
  return res
end

local function kind(key)
  local kb = tonumber(key:match(" (%d+) kB$"))
  if key:match("^%[heap%]") then return "malloc heap" end
  if key:match("^anon") and kb >= 1 << 20 then return "slab (Lua objects)" end
  if key:match("^anon") and (kb == 512 or kb == 4096) then return "receive buffers" end
  if key:match("^anon") then return "big blocks" end   -- e.g. epoll's fd table
  return "other"
end

local function serve(conn)
  local s <close> = conn
  while true do
    local data = s:read(65536)
    if not data or not s:write(data) then return end
  end
end

local function handle(conn)
  conn:setoption("nodelay", true)
  while true do
    local data = conn:read(4096)
    if not data then return end
    assert(conn:write(data))
  end
end

local function serve_user(conn)
  local ok, err = pcall(handle, conn)
  if not ok then io.stderr:write("connection failed: ", tostring(err), "\n") end
  conn:close()
end
if USER then serve = serve_user end

corio.run(function()
  local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 4096 }))
  local _, port = ls:addr()
  local client = io.popen(("ulimit -n $(ulimit -Hn); lua5.4 -e '%s'"):format(([[
    local c = require "corio"
    c.run(function()
      local t, msg = {}, ("x"):rep(64)
      for i = 1, %d do t[i] = assert(c.tcp.connect("127.0.0.1", %d)) end
      local rt = {}
      for i = 1, #t do rt[i] = c.spawn(function() t[i]:write(msg) assert(#t[i]:read_exact(64) == 64) end) end
      for i = 1, #rt do rt[i]:join() end
      t[1]:read()   -- until the server exits
    end)]]):format(N, port)))
  collectgarbage(); collectgarbage()
  local m0, k0 = maps(), collectgarbage("count")
  corio.spawn(function()
    while true do corio.spawn(serve, assert(ls:accept())) end
  end)
  while corio.stats().tasks < N + 2 do corio.sleep(0.2) end
  corio.sleep(1)
  local m1, k1 = maps(), collectgarbage("count")
  collectgarbage(); collectgarbage()
  local k2 = collectgarbage("count")
  local parts, total = {}, 0
  for key, kb in pairs(m1) do
    local d = (kb - (m0[key] or 0)) * 1024 / N
    parts[kind(key)] = (parts[kind(key)] or 0) + d
    total = total + d
  end
  print(("%d idle connections (%s server) on %s, allocator %s: %.0f bytes/conn of server RSS")
    :format(N, USER and "user-style" or "lean", corio.backend(), corio.stats().allocator, total))
  for _, k in ipairs({ "slab (Lua objects)", "malloc heap", "receive buffers", "big blocks", "other" }) do
    print(("  %-20s %6.0f"):format(k, parts[k] or 0))
  end
  print(("  Lua heap: %.0f live + %.0f garbage not yet collected")
    :format((k2 - k0) * 1024 / N, (k1 - k2) * 1024 / N))
  os.exit(0)   -- the client sees its connections close and ends
end)
