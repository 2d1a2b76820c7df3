-- examples/echo_client.lua [host] [port] [connections] [messages]
-- Opens `connections` connections to an echo server, sends `messages`
-- lines on each, checks every echo and prints the rate.
local corio = require "corio"

local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or 7000)
local nconn, nmsg = tonumber(arg[3] or 100), tonumber(arg[4] or 100)

-- One connection's exchanges; returns the number of verified echoes.
local function client(id)
  local s <close> = assert(corio.tcp.connect(host, port))
  for i = 1, nmsg do
    local msg = ("client %d message %d"):format(id, i)
    assert(s:write(msg, "\n"))
    local got = assert(s:readline())
    assert(got == msg, "bad echo: " .. tostring(got))
  end
  return nmsg
end

corio.run(function()
  local t0 = corio.now()
  local tasks = {}
  for i = 1, nconn do tasks[i] = corio.spawn(client, i) end
  local total = 0
  for _, t in ipairs(tasks) do total = total + t:join() end
  local dt = corio.now() - t0
  print(("%d echoes over %d connections in %.3f s (%.0f/s)"):format(total, nconn, dt, total / dt))
end)
