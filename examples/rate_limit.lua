-- examples/rate_limit.lua: thousands of fetches from a local corio
-- server, with at most 100 in flight at any time, enforced by a
-- semaphore. Prints the largest number in flight observed.
--
--   lua5.4 examples/rate_limit.lua [fetches]
local corio = require "corio"

local FETCHES = tonumber(arg and arg[1]) or 3000
local LIMIT = 100

-- The server: answer each line with its upper-case version.
local function serve(ls, conns)
  while true do
    local s = ls:accept()
    if not s then return end
    conns:spawn(function()
      local sock <close> = s
      for line in function() return sock:readline() end do
        sock:write(line:upper(), "\n")
      end
    end)
  end
end

-- One fetch: connect, ask, read the answer.
local function fetch(port, i)
  local s <close> = assert(corio.tcp.connect("127.0.0.1", port))
  assert(s:write("item " .. i .. "\n"))
  return assert(s:readline())
end

corio.run(function()
  local ls = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 512 }))
  local _, port = ls:addr()
  local server <close> = corio.group()
  server:spawn(serve, ls, server)

  local sem = corio.semaphore(LIMIT)
  local in_flight, max_in_flight, answered = 0, 0, 0
  local t0 = corio.now()
  local clients <close> = corio.group()
  for i = 1, FETCHES do
    local permit = sem:acquire()   -- waits while LIMIT fetches run
    clients:spawn(function()
      local _ <close> = permit
      in_flight = in_flight + 1
      max_in_flight = math.max(max_in_flight, in_flight)
      local answer = fetch(port, i)
      in_flight = in_flight - 1
      if answer == "ITEM " .. i then answered = answered + 1 end
    end)
  end
  clients:wait()
  ls:close()
  print(("%d fetches, %d answered in %.2fs, max in flight: %d (limit %d)")
    :format(FETCHES, answered, corio.now() - t0, max_in_flight, LIMIT))
end)
