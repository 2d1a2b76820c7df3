-- bench/pingpong_client.lua tcp HOST PORT | unix PATH, then CONNS SECONDS:
-- CONNS connections each with one 64-byte message in flight (send, wait
-- for the echo, repeat) for SECONDS; prints "requests=N seconds=S".
-- The same client for both transports, so the Unix row compares like
-- with like (loadgen speaks TCP only).
local corio = require "corio"

local kind = arg[1]
local a, b, conns, secs
if kind == "tcp" then
  a, b, conns, secs = arg[2], tonumber(arg[3]), tonumber(arg[4]), tonumber(arg[5])
else
  a, conns, secs = arg[2], tonumber(arg[3]), tonumber(arg[4])
end
local msg = ("x"):rep(63) .. "\n"

corio.run(function()
  local total, stop = 0, false
  local g <close> = corio.group()
  for _ = 1, conns do
    g:spawn(function()
      local s <close> = kind == "tcp" and assert(corio.tcp.connect(a, b))
                        or assert(corio.unix.connect(a))
      if kind == "tcp" then s:setoption("nodelay", true) end
      while not stop do
        assert(s:write(msg))
        assert(s:read_exact(#msg))
        total = total + 1
      end
    end)
  end
  local t0 = corio.now()
  corio.sleep(secs)
  stop = true
  g:wait()
  print(("requests=%d seconds=%.3f"):format(total, corio.now() - t0))
end)
