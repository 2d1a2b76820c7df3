-- examples/unix_echo.lua [path]
-- A Unix-socket echo server that also hands out its listener: a client
-- that sends the line "LISTENER" gets the listening socket itself back as
-- a passed fd (it can then accept on it, e.g. to take over without
-- dropping connections). Every other line is echoed.
-- Run from the repository root after `make`:
--   LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' \
--     lua5.4 examples/unix_echo.lua /tmp/echo.sock
local corio = require "corio"

local path = arg[1] or "/tmp/corio-echo.sock"

local function serve(conn, ls)
  local s <close> = conn
  local pid, uid = s:peercred()
  io.stdout:write(("client pid %d uid %d\n"):format(pid, uid))
  io.stdout:flush()
  while true do
    local line = s:readline()
    if not line then return end
    if line == "LISTENER" then
      s:send_fd(ls, "here it is")
    elseif not s:write(line, "\n") then
      return
    end
  end
end

corio.run(function()
  local ls <close> = assert(corio.unix.listen(path, { perm = "0600" }))
  io.stdout:write(("listening on %s\n"):format(ls:addr()))
  io.stdout:flush()
  while true do
    local conn = ls:accept()
    if conn then corio.spawn(serve, conn, ls) end
  end
end)
