-- examples/http_server.lua [host] [port]
-- A minimal HTTP/1.1 keep-alive server answering "Hello, World!" to every
-- request (the plaintext benchmark). Request bodies are not supported.
local corio = require "corio"

local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or 8080)
local RESPONSE = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n" ..
                 "Content-Length: 13\r\nServer: corio\r\n\r\nHello, World!"

-- Serve requests until the peer closes or sends "Connection: close".
local function serve(conn)
  local s <close> = conn
  while true do
    local line = s:readline()
    if not line then return end
    local close = false
    repeat                                 -- skip the headers
      local h = s:readline()
      if not h then return end
      if h:lower() == "connection: close" then close = true end
    until h == ""
    if not s:write(RESPONSE) or close then return end
  end
end

corio.run(function()
  local ls = assert(corio.tcp.listen(host, port, { backlog = 4096 }))
  local h, p = ls:addr()
  io.stdout:write(("listening on %s:%d\n"):format(h, p))
  io.stdout:flush()
  while true do
    local conn = ls:accept()
    if conn then corio.spawn(serve, conn) else corio.sleep(0.01) end
  end
end)
