-- spec/faults/sweep.lua: the exhaustive allocation-failure sweep (make
-- faults), as SQLite tests its malloc failures. A short scenario (listen,
-- connect, echo, timeout, channel, group, close) is run once to count the
-- allocations it makes (the Lua state's and corio's own), then once per
-- allocation N with exactly the Nth failing. Every run must end in
-- success or a clean Lua error out of corio.run, and leave nothing
-- behind: no task, timer or waiter, no fd, no memory above the first
-- run's. A crash fails the sweep by itself (the build has ASan); the last
-- "sweep: N" line on stderr then names the run. SWEEP_EVERY=k runs only
-- every kth N (for a quick look); SWEEP_FROM starts later.
local corio = require "corio"
assert(corio.faults_arm, "spec/faults/sweep.lua needs a faults build (make faults)")
corio.faults_disarm()

local EVERY = tonumber(os.getenv("SWEEP_EVERY") or "1")
local FROM = tonumber(os.getenv("SWEEP_FROM") or "1")
local PID = corio._core.getpid()
local proc = dofile("spec/faults/proc.lua")
local function nfds() return proc.nfds(PID) end

corio.on_error(function() end)   -- children's errors: the run's verdict is run's own

-- Every part runs in one group, so a part that fails (an allocation
-- error in it) cancels the others: the run ends, and never waits on a
-- peer that is gone. Only a real hang reaches the 5 s bound.
local function scenario()
  local echoed
  corio.run(function()
    local l <close> = assert(corio.tcp.listen("127.0.0.1", 0))
    local _, port = l:addr()
    local g = corio.group()
    local parts = {}
    parts.server = g:spawn(function()
      local s <close> = assert(l:accept())
      local d = assert(s:read())
      assert(s:write(d))
    end)
    parts.client = g:spawn(function()
      local c <close> = assert(corio.tcp.connect("127.0.0.1", port))
      assert(c:write("hello, sweep"))
      echoed = assert(c:read_exact(12))
      assert(not corio.timeout(0.001, corio.sleep, 1))
    end)
    parts.channel = g:spawn(function()
      local ch = corio.channel(1)
      local g2 = corio.group()
      g2:spawn(function() ch:send(42) end)
      g2:wait()   -- (a receive before it would wait forever for a sender that failed)
      assert(ch:recv() == 42)
    end)
    if not corio.timeout(5, g.wait, g) then
      local st = {}
      for name, t in pairs(parts) do st[#st + 1] = name .. " " .. t:status() end
      error("HANG: the scenario did not finish in 5 s: " .. table.concat(st, ", "))
    end
  end)
  assert(echoed == "hello, sweep", "echo corrupted")
end

local function settle()
  for _ = 1, 2 do collectgarbage("collect") end
  corio.run(function() end)   -- closes what the collection released
  collectgarbage("collect")
end

-- A clean run first, twice (lazily made things exist after the first),
-- counting the allocations of the second.
scenario()
settle()
corio.faults_arm("seed=1")
scenario()
local total = corio.faults_stats().allocs
corio.faults_disarm()
settle()
local base_fds, base_mem = nfds(), corio.stats().memory_bytes

local passed, failed, clean_errors, successes, runs = 0, 0, 0, 0, 0
local findings = {}
local function finding(n, what)
  failed = failed + 1
  if #findings < 10 then findings[#findings + 1] = ("N=%d: %s"):format(n, what) end
end

local n = FROM
while n <= total do
  io.stderr:write(("sweep: %d\n"):format(n))
  corio.faults_arm("failat=" .. n)
  local ok, err = pcall(scenario)
  local hit = corio.faults_stats().allocs >= n
  corio.faults_disarm()
  runs = runs + 1
  if ok then successes = successes + 1 else clean_errors = clean_errors + 1 end
  if not ok and not hit then finding(n, "error without a failed allocation: " .. tostring(err)) end
  if not ok and tostring(err):find("echo corrupted", 1, true) then finding(n, "corrupt echo") end
  if not ok and tostring(err):find("HANG", 1, true) then finding(n, tostring(err)) end
  settle()
  local st = corio.stats()
  if st.tasks ~= 0 or st.timers ~= 0 or st.io_waiting ~= 0 or st.channel_waiting ~= 0 then
    finding(n, ("left tasks=%d timers=%d io=%d chan=%d"):format(st.tasks, st.timers, st.io_waiting,
      st.channel_waiting))
  end
  local fds = nfds()
  if fds ~= base_fds then finding(n, ("fds %d -> %d"):format(base_fds, fds)); base_fds = fds end
  if st.memory_bytes > base_mem + 16384 then
    finding(n, ("memory %d -> %d"):format(base_mem, st.memory_bytes)); base_mem = st.memory_bytes
  end
  n = n + EVERY
end
passed = runs - failed

print(("sweep %s: %d allocations in the scenario, %d runs (every %d): %d succeeded, %d ended in "
  .. "a clean error"):format(corio.backend(), total, runs, EVERY, successes, clean_errors))
for _, f in ipairs(findings) do print("FAIL " .. f) end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
