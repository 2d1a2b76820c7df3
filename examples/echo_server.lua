-- examples/echo_server.lua [host] [port]
-- A TCP echo server: one task per connection, every byte sent back.
-- Run from the repository root after `make`:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' \
--     lua5.4 examples/echo_server.lua 127.0.0.1 7000
local corio = require "corio"

local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or 7000)

-- Echo until the peer closes; the stream closes when the task ends.
local function serve(conn)
  local s <close> = conn
  while true do
    local data = s:read(65536)
    if not data or not s:write(data) then return end
  end
end

corio.run(function()
  local ls = assert(corio.tcp.listen(host, port, { backlog = 4096 }))
  local h, p = ls:addr()
  io.stdout:write(("listening on %s:%d\n"):format(h, p))
  io.stdout:flush()
  while true do
    local conn, err = ls:accept()
    if conn then
      corio.spawn(serve, conn)
    else
      io.stderr:write("accept: ", err, "\n")
      corio.sleep(0.01)   -- e.g. EMFILE: let connections close
    end
  end
end)
