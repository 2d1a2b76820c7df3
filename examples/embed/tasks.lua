-- examples/embed/tasks.lua: the tasks host.c runs. It spawns them and
-- returns at once: the host's loop drives them with corio.step.
local corio = require "corio"

RESULT = nil
local ls = assert(corio.tcp.listen("127.0.0.1", 0))
local _, port = ls:addr()

corio.spawn(function()                      -- an echo server for 3 clients
  for _ = 1, 3 do
    local s = assert(ls:accept())
    corio.spawn(function()
      local s <close> = s
      while true do
        local line = s:readline()
        if not line then return end
        s:write(line, "\n")
      end
    end)
  end
  ls:close()
end)

local clients = {}
for i = 1, 3 do                             -- clients, with a timer each
  clients[i] = corio.spawn(function()
    corio.sleep(0.01 * i)
    local s <close> = assert(corio.tcp.connect("127.0.0.1", port))
    s:write("hello ", i, "\n")
    return s:readline()
  end)
end

corio.spawn(function()
  local got = {}
  for i, t in ipairs(clients) do got[i] = t:join() end
  RESULT = table.concat(got, ",")
end)
