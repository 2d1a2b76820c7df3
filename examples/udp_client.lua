-- examples/udp_client.lua host port [clients] [count]
-- `clients` tasks, each with its own connected UDP socket, send `count`
-- datagrams one at a time to an echo server and check every reply; a
-- reply that does not come within a second is counted lost (UDP may drop).
local corio = require "corio"

local host, port = arg[1], tonumber(arg[2])
local clients, count = tonumber(arg[3] or 10), tonumber(arg[4] or 100)

corio.run(function()
  local echoed, lost = 0, 0
  local g <close> = corio.group()
  for c = 1, clients do
    g:spawn(function()
      local sock <close> = assert(corio.udp.connect(host, port))
      for i = 1, count do
        local msg = ("client %d message %d"):format(c, i)
        assert(sock:send(msg))
        local ok, reply = corio.timeout(1, sock.recv, sock)
        if ok and reply == msg then echoed = echoed + 1 else lost = lost + 1 end
      end
    end)
  end
  g:wait()
  print(("%d echoes over %d sockets, %d lost"):format(echoed, clients, lost))
end)
