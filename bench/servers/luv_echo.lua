-- luv (libuv) echo server for Lua 5.4.  usage: lua5.4 luv_echo.lua [host] [port]
local uv = require("luv")
local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or "9000")

local server = uv.new_tcp()
assert(server:bind(host, port))
assert(server:listen(4096, function(err)
  if err then return end
  local client = uv.new_tcp()
  if not server:accept(client) then client:close() return end
  client:nodelay(true)
  client:read_start(function(rerr, data)
    if rerr or not data then
      client:close()
      return
    end
    client:write(data)
  end)
end))
uv.run()
