-- cqueues equivalents.  usage: lua5.4 cqueues_micro.lua BENCH N
--   spawn    N coroutines wrapped on a controller and run to completion (batches of 1000)
--   sleep    N coroutines each in cqueues.sleep (time and RSS)
--   channel  N round trips between two coroutines with condition variables (2N messages)
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local lib = dofile(dir .. "/micro_lib.lua")
local bench, N = arg[1], tonumber(arg[2] or "1000000")
local ok, cqueues = pcall(require, "cqueues")
if not ok then lib.na(bench, "cqueues", "require_cqueues_failed") os.exit(3) end
local condition = require("cqueues.condition")

local res
if bench == "spawn" then
  local cq = cqueues.new()
  local function noop() end
  local t0 = lib.now()
  local done = 0
  while done < N do
    local b = math.min(1000, N - done)
    for _ = 1, b do cq:wrap(noop) end
    assert(cq:loop())
    done = done + b
  end
  local secs = lib.now() - t0
  res = { n = N, secs = secs, rate = N / secs, unit = "tasks/s" }
elseif bench == "sleep" then
  local SLEEP = N >= 500000 and 6.0 or 1.0
  local cq = cqueues.new()
  local base = lib.rss_kb()
  local t0 = lib.now()
  local rss, spawn_secs
  local function sleeper() cqueues.sleep(SLEEP) end
  for _ = 1, N do cq:wrap(sleeper) end
  cq:wrap(function()
    cqueues.sleep(0)                 -- runs after every sleeper has started
    spawn_secs = lib.now() - t0
    rss = lib.rss_kb()
  end)
  assert(cq:loop())
  local secs = lib.now() - t0
  res = { n = N, secs = secs, sleep_s = SLEEP, overhead_s = secs - SLEEP, spawn_s = spawn_secs,
          rss_mb = (rss - base) / 1024, peak_rss_mb = lib.rss_kb("VmHWM") / 1024,
          bytes_per_task = (rss - base) * 1024 / N }
elseif bench == "channel" then
  local cq = cqueues.new()
  local ca, cb = condition.new(), condition.new()
  local va, vb
  local t0 = lib.now()
  cq:wrap(function()
    for _ = 1, N do
      while va == nil do ca:wait() end
      vb, va = va, nil
      cb:signal()
    end
  end)
  cq:wrap(function()
    for i = 1, N do
      va = i
      ca:signal()
      while vb == nil do cb:wait() end
      assert(vb == i)
      vb = nil
    end
  end)
  assert(cq:loop())
  local secs = lib.now() - t0
  res = { n = N, messages = 2 * N, secs = secs, rate = 2 * N / secs, unit = "msg/s" }
else
  io.stderr:write("unknown benchmark ", tostring(bench), "\n") os.exit(2)
end
lib.emit(bench, "cqueues", res)
