-- luv (libuv) UDP echo server for Lua 5.4.  usage: lua5.4 luv_udp_echo.lua [host] [port]
-- Every datagram goes back to its sender.  Replies use try_send (a direct
-- sendmsg, no request object), falling back to send when the socket's send
-- buffer is full: the fastest way luv offers, so the peer is not handicapped.
local uv = require("luv")
local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or "9000")

local sock = uv.new_udp()
assert(sock:bind(host, port))
sock:recv_buffer_size(4 * 1024 * 1024)   -- as examples/udp_echo.lua
assert(sock:recv_start(function(err, data, addr)
  -- data is nil (with addr nil) when libuv found nothing more to read
  if err or not data or not addr then return end
  if not sock:try_send(data, addr.ip, addr.port) then
    sock:send(data, addr.ip, addr.port)
  end
end))
io.stdout:write(("listening on %s:%d\n"):format(host, port))
io.stdout:flush()
uv.run()
