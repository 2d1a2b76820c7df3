-- luv (libuv) equivalents.  usage: lua5.4 luv_micro.lua BENCH N
--   timeout  N x timer:start + timer:stop on one handle (armed and cancelled)
--   sleep    N timers armed at once, all firing after a fixed delay (time and RSS)
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local lib = dofile(dir .. "/micro_lib.lua")
local bench, N = arg[1], tonumber(arg[2] or "1000000")
local ok, uv = pcall(require, "luv")
if not ok then lib.na(bench, "luv", "require_luv_failed") os.exit(3) end

local res
if bench == "timeout" then
  local t = uv.new_timer()
  local function cb() end
  local t0 = lib.now()
  for _ = 1, N do t:start(10000, 0, cb); t:stop() end
  local secs = lib.now() - t0
  t:close(); uv.run()
  res = { n = N, secs = secs, rate = N / secs, unit = "timeouts/s" }
elseif bench == "sleep" then
  local SLEEP = N >= 500000 and 6.0 or 1.0
  local base = lib.rss_kb()
  local t0 = lib.now()
  local fired = 0
  for _ = 1, N do
    local t = uv.new_timer()
    t:start(math.floor(SLEEP * 1000), 0, function() fired = fired + 1; t:close() end)
  end
  local spawn_secs = lib.now() - t0
  local rss = lib.rss_kb()
  uv.run()
  local secs = lib.now() - t0
  assert(fired == N, "not all timers fired")
  res = { n = N, secs = secs, sleep_s = SLEEP, overhead_s = secs - SLEEP, spawn_s = spawn_secs,
          rss_mb = (rss - base) / 1024, peak_rss_mb = lib.rss_kb("VmHWM") / 1024,
          bytes_per_task = (rss - base) * 1024 / N }
else
  io.stderr:write("unknown benchmark ", tostring(bench), "\n") os.exit(2)
end
lib.emit(bench, "luv", res)
