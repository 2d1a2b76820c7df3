-- Plain Lua 5.4 coroutines: the floor any Lua scheduler builds on.
-- usage: lua5.4 coroutine_micro.lua BENCH N
--   spawn    coroutine.create + resume to completion, N times
--   channel  N resume/yield round trips between a driver and one coroutine (2N messages)
local dir = arg[0]:match("^(.*)/[^/]*$") or "."
local lib = dofile(dir .. "/micro_lib.lua")
local bench, N = arg[1], tonumber(arg[2] or "1000000")
local res
if bench == "spawn" then
  local function noop() end
  local create, resume = coroutine.create, coroutine.resume
  local t0 = lib.now()
  for _ = 1, N do resume(create(noop)) end
  local secs = lib.now() - t0
  res = { n = N, secs = secs, rate = N / secs, unit = "tasks/s" }
elseif bench == "channel" then
  local co = coroutine.wrap(function(v)
    while true do v = coroutine.yield(v) end
  end)
  local t0 = lib.now()
  for i = 1, N do assert(co(i) == i) end
  local secs = lib.now() - t0
  res = { n = N, messages = 2 * N, secs = secs, rate = 2 * N / secs, unit = "msg/s" }
else
  io.stderr:write("unknown benchmark ", tostring(bench), "\n") os.exit(2)
end
lib.emit(bench, "lua-coroutine", res)
