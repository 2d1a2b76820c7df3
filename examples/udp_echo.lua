-- examples/udp_echo.lua [host] [port]
-- A UDP echo server: every datagram goes back to its sender. One task
-- serves them all; a second task on the same socket would share the load
-- (waiting tasks are served in order).
-- Run from the repository root after `make`:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' \
--     lua5.4 examples/udp_echo.lua 127.0.0.1 7001
local corio = require "corio"

local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or 7001)

corio.run(function()
  local sock = assert(corio.udp.bind(host, port))
  sock:setoption("rcvbuf", 4 * 1024 * 1024)   -- absorb bursts from many clients
  local h, p = sock:addr()
  io.stdout:write(("listening on %s:%d\n"):format(h, p))
  io.stdout:flush()
  while true do
    local data, from, from_port = sock:recvfrom()
    if data then
      sock:sendto(data, from, from_port)
    else
      io.stderr:write("recvfrom: ", from, "\n")
    end
  end
end)
