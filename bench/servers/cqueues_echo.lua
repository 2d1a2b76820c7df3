-- cqueues echo server for Lua 5.4: one coroutine per connection, each blocked
-- in a read.  usage: lua5.4 cqueues_echo.lua [host] [port]
local cqueues = require("cqueues")
local socket = require("cqueues.socket")
local host, port = arg[1] or "127.0.0.1", tonumber(arg[2] or "9000")

local cq = cqueues.new()
local srv = assert(socket.listen({ host = host, port = port, reuseaddr = true, backlog = 4096 }))
assert(srv:listen())

local function serve(con)
  con:setmode("bn", "bn")   -- binary, unbuffered output
  con:onerror(function(_, _, err) return err end)  -- errors returned, not raised
  while true do
    local data = con:read(-4096)  -- whatever is available, up to 4096 bytes
    if not data then break end
    local ok = con:write(data)
    if not ok then break end
  end
  con:close()
end

cq:wrap(function()
  for con in srv:clients() do
    cq:wrap(serve, con)
  end
end)

while true do
  local ok, err = cq:step()
  if not ok then io.stderr:write("cqueues_echo: ", tostring(err), "\n") end
end
