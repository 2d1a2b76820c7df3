-- corio micro-benchmarks.  usage: lua5.4 corio_micro.lua BENCH N
--   spawn      spawn+join N tasks (in batches of 1000)
--   sleep      N concurrent tasks each in corio.sleep (time and RSS)
--   timeout    N x corio.timeout(10, fn) around a function that returns at once
--   channel    N round trips between two tasks over two channels (2N messages)
--   semaphore  N uncontended acquire/release
--   semaphore_contended  N acquire/yield/release spread over 4 tasks on semaphore(1)
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local lib = dofile(dir .. "/micro_lib.lua")
local bench, N = arg[1], tonumber(arg[2] or "1000000")

local ok, corio = pcall(require, "corio")
if not ok then lib.na(bench, "corio", "require_corio_failed: " .. tostring(corio)) os.exit(3) end
-- only what this benchmark uses has to exist
local needs = {
  spawn = { "run", "spawn" }, sleep = { "run", "spawn", "sleep", "yield" }, timeout = { "run", "timeout" },
  channel = { "run", "spawn", "channel" }, semaphore = { "run", "semaphore" },
  semaphore_contended = { "run", "spawn", "yield", "semaphore" },
}
for _, fn in ipairs(needs[bench] or {}) do
  if type(corio[fn]) ~= "function" then lib.na(bench, "corio", "corio." .. fn .. " missing") os.exit(3) end
end

local benches = {}

function benches.spawn()
  local function noop() end
  local B = 1000
  local t0 = lib.now()
  corio.run(function()
    local tasks = {}
    local done = 0
    while done < N do
      local b = math.min(B, N - done)
      for i = 1, b do tasks[i] = corio.spawn(noop) end
      for i = 1, b do tasks[i]:join() end
      done = done + b
    end
  end)
  local secs = lib.now() - t0
  return { n = N, secs = secs, rate = N / secs, unit = "tasks/s" }
end

function benches.sleep()
  local SLEEP = N >= 500000 and 6.0 or 1.0
  local base = lib.rss_kb()
  local rss, spawn_secs
  local t0 = lib.now()
  corio.run(function()
    local tasks = {}
    local function sleeper() corio.sleep(SLEEP) end
    for i = 1, N do tasks[i] = corio.spawn(sleeper) end
    corio.yield()                       -- let every task reach its sleep
    spawn_secs = lib.now() - t0
    rss = lib.rss_kb()
    for i = 1, N do tasks[i]:join() end
  end)
  local secs = lib.now() - t0
  local peak = lib.rss_kb("VmHWM")
  return { n = N, secs = secs, sleep_s = SLEEP, overhead_s = secs - SLEEP, spawn_s = spawn_secs,
           rss_mb = (rss - base) / 1024, peak_rss_mb = peak / 1024,
           bytes_per_task = (rss - base) * 1024 / N }
end

function benches.timeout()
  local function quick() return 1 end
  local t0 = lib.now()
  corio.run(function()
    for _ = 1, N do corio.timeout(10, quick) end
  end)
  local secs = lib.now() - t0
  return { n = N, secs = secs, rate = N / secs, unit = "timeouts/s" }
end

function benches.channel()
  local t0 = lib.now()
  corio.run(function()
    local ping, pong = corio.channel(1), corio.channel(1)
    local peer = corio.spawn(function()
      for _ = 1, N do pong:send(ping:recv()) end
    end)
    for i = 1, N do
      ping:send(i)
      local v = pong:recv()
      if v ~= i then error("channel returned " .. tostring(v) .. ", expected " .. i) end
    end
    peer:join()
  end)
  local secs = lib.now() - t0
  return { n = N, messages = 2 * N, secs = secs, rate = 2 * N / secs, unit = "msg/s" }
end

function benches.semaphore()
  local t0 = lib.now()
  corio.run(function()
    local sem = corio.semaphore(1)
    for _ = 1, N do sem:acquire():release() end
  end)
  local secs = lib.now() - t0
  return { n = N, secs = secs, rate = N / secs, unit = "acquire+release/s" }
end

function benches.semaphore_contended()
  local W = 4
  local t0 = lib.now()
  corio.run(function()
    local sem = corio.semaphore(1)
    local tasks = {}
    for w = 1, W do
      tasks[w] = corio.spawn(function()
        for _ = 1, N // W do
          local p = sem:acquire()
          corio.yield()
          p:release()
        end
      end)
    end
    for w = 1, W do tasks[w]:join() end
  end)
  local secs = lib.now() - t0
  local n = (N // W) * W
  return { n = n, secs = secs, rate = n / secs, unit = "acquire+release/s" }
end

local fn = benches[bench]
if not fn then io.stderr:write("unknown benchmark ", tostring(bench), "\n") os.exit(2) end
local okr, res = pcall(fn)
if not okr then lib.na(bench, "corio", "error: " .. tostring(res)) os.exit(1) end
lib.emit(bench, "corio", res)
