-- examples/demo.lua [clients] [concurrency] [exchanges]
-- The main example (`make demo`): one server task and 10,000 client tasks,
-- at most 1,000 connected at once (a semaphore), each doing request/response
-- exchanges over loopback TCP; a progress bar while it runs, then
-- throughput and latency percentiles. Everything joins at the end.
local corio = require "corio"

local NCLIENTS = tonumber(arg[1] or 10000)
local CONCURRENCY = tonumber(arg[2] or 1000)
local EXCHANGES = tonumber(arg[3] or 10)

-- Server: one task per connection, answering each line with "ok <line>".
local function serve(conn)
  local s <close> = conn
  while true do
    local line = s:readline()
    if not line or not s:write("ok ", line, "\n") then return end
  end
end

-- Accept until the listener is closed; the group then waits for (or, on
-- an error, cancels) the connections still being served.
local function server(ls)
  local g <close> = corio.group()
  while true do
    local conn = ls:accept()
    if not conn then break end
    g:spawn(serve, conn)
  end
  g:wait()
end

-- Client: wait for a permit, connect, exchange, record each latency.
local function client(id, port, sem, lat)
  local permit <close> = sem:acquire()
  local s <close> = assert(corio.tcp.connect("127.0.0.1", port))
  for i = 1, EXCHANGES do
    local t0 = corio.now()
    assert(s:write("request ", id, " ", i, "\n"))
    local reply = assert(s:readline())
    assert(reply == ("ok request %d %d"):format(id, i), reply)
    lat[#lat + 1] = corio.now() - t0
  end
end

local function bar(done, total)
  local width = 40
  local n = math.floor(width * done / total)
  io.stdout:write(("\r[%s%s] %d/%d clients"):format(("#"):rep(n), ("."):rep(width - n), done, total))
  io.stdout:flush()
end

local function percentile(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))] * 1e3
end

corio.run(function()
  local ls <close> = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 4096 }))
  local _, port = ls:addr()
  local srv = corio.spawn(server, ls)
  local sem, lat, done = corio.semaphore(CONCURRENCY), {}, 0
  local t0 = corio.now()
  local clients = corio.group()
  for id = 1, NCLIENTS do
    clients:spawn(function() client(id, port, sem, lat); done = done + 1 end)
  end
  local progress = corio.spawn(function()
    while true do bar(done, NCLIENTS); corio.sleep(0.1) end
  end)
  clients:wait()
  local dt = corio.now() - t0
  progress:cancel()
  bar(done, NCLIENTS)
  ls:close()
  srv:join()
  table.sort(lat)
  print(("\n%d clients, %d exchanges in %.2f s: %.0f requests/s, %.0f connections/s")
    :format(NCLIENTS, #lat, dt, #lat / dt, NCLIENTS / dt))
  print(("latency ms: p50 %.3f  p90 %.3f  p99 %.3f  max %.3f")
    :format(percentile(lat, 0.5), percentile(lat, 0.9), percentile(lat, 0.99), lat[#lat] * 1e3))
  print("backend: " .. corio.backend())
end)
