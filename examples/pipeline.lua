-- examples/pipeline.lua: stages connected by bounded channels. The sink
-- is slow, so the buffers fill up and the producer is held back
-- (backpressure) instead of piling up items in memory.
local corio = require "corio"

local ITEMS = 50

-- Produce numbers; report how long send had to wait for room.
local function producer(out)
  local waited = 0
  for i = 1, ITEMS do
    local t0 = corio.now()
    out:send(i)
    waited = waited + (corio.now() - t0)
  end
  out:close()
  print(("producer waited %.3fs in total for room downstream"):format(waited))
end

-- Transform each value, passing the end (close) on.
local function stage(name, input, out, fn)
  for v in input:iter() do out:send(fn(v)) end
  out:close()
  print(name .. " done")
end

-- A slow consumer, showing how full the channel before it is.
local function sink(input)
  local n = 0
  for v in input:iter() do
    n = n + 1
    if n % 10 == 0 then print(("sink at item %d (value %d), %d buffered"):format(n, v, #input)) end
    corio.sleep(0.002)
  end
  print(("sink got %d items"):format(n))
end

corio.run(function()
  local a, b, c = corio.channel(4), corio.channel(4), corio.channel(4)
  local g <close> = corio.group()
  g:spawn(producer, a)
  g:spawn(stage, "square", a, b, function(v) return v * v end)
  g:spawn(stage, "plus one", b, c, function(v) return v + 1 end)
  g:spawn(sink, c)
  g:wait()
end)
