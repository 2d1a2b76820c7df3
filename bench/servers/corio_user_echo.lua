-- bench/servers/corio_user_echo.lua [host] [port]: an echo server written
-- the way a user writes one, for the idle-memory row: one task per
-- connection, the handler under pcall (an error in one connection must not
-- kill the server), TCP_NODELAY on, reads of 4 KiB. (examples/echo_server.lua
-- is the lean shape the throughput rows use.)
local corio = require "corio"

local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or 7000)

local function handle(conn)
  conn:setoption("nodelay", true)
  while true do
    local data = conn:read(4096)
    if not data then return end
    assert(conn:write(data))
  end
end

local function serve(conn)
  local ok, err = pcall(handle, conn)
  if not ok then io.stderr:write("connection failed: ", tostring(err), "\n") end
  conn:close()
end

corio.run(function()
  local ls = assert(corio.tcp.listen(host, port, { backlog = 4096 }))
  local h, p = ls:addr()
  io.stdout:write(("listening on %s:%d\n"):format(h, p))
  io.stdout:flush()
  while true do
    local conn = ls:accept()
    if conn then corio.spawn(serve, conn) end
  end
end)
