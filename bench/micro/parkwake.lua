-- bench/micro/parkwake.lua [N]: ping-pong between two tasks on the bare
-- runtime primitive (corio._core.suspend / wake), the floor under every
-- channel, semaphore and select. Messages are counted in both directions.
local corio = require "corio"
local core = corio._core
local N = tonumber(arg[1] or 1000000)

corio.run(function()
  local a, b
  local t0 = corio.now()
  b = corio.spawn(function()
    for _ = 1, N do core.wake(a, core.suspend()) end
  end)
  a = corio.current()
  corio.yield()
  for i = 1, N do core.wake(b, i); core.suspend() end
  local dt = corio.now() - t0
  print(("park/wake ping-pong: %.2fM msg/s"):format(2 * N / dt / 1e6))
end)
