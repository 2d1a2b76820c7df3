-- bench/servers/corio_unix_echo.lua PATH: the lean echo server of the
-- TCP rows (examples/echo_server.lua's shape) on a Unix socket, for the
-- Unix-against-TCP ping-pong row.
local corio = require "corio"

local path = arg[1] or "/tmp/corio-bench-unix.sock"

local function serve(conn)
  local s <close> = conn
  while true do
    local data = s:read(65536)
    if not data or not s:write(data) then return end
  end
end

corio.run(function()
  local ls = assert(corio.unix.listen(path, { backlog = 4096 }))
  io.stdout:write(("listening on %s\n"):format(ls:addr()))
  io.stdout:flush()
  while true do
    local conn = ls:accept()
    if conn then corio.spawn(serve, conn) end
  end
end)
