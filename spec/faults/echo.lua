-- spec/faults/echo.lua: an echo workload run under fault injection (make
-- faults; a -DCORIO_FAULTS build, faults from $CORIO_FAULTS).
--
-- Clients send random payloads to an echo server in the same process and
-- compare what comes back byte for byte, while timers, channels, groups
-- and task churn run beside them. Faults (failed allocations, short
-- writes, resets, a dry buffer ring, CQ overflow, EINTR/EBUSY from
-- io_uring_enter, EAGAIN and spurious wake-ups on epoll) are armed for
-- FAULTS_S seconds. The verdict:
--   * every exchange either returns its bytes intact or reports an error
--     (nil, msg, CODE, or "not enough memory" raised in the task);
--   * no exchange waits forever (each has a 10 s bound far above its need);
--   * afterwards no task, timer, waiter or fd is left and the state's
--     memory is back to what it was after a fault-free warm-up round.
-- Prints one line per check and "N passed, N failed" last; exit 1 on a
-- failure.
local corio = require "corio"
assert(corio.faults_arm, "spec/faults/echo.lua needs a faults build (make faults)")
corio.faults_disarm()   -- armed by $CORIO_FAULTS at load: start clean

local SPEC = os.getenv("CORIO_FAULTS") or ""
local SECONDS = tonumber(os.getenv("FAULTS_S") or "10")
local CLIENTS = tonumber(os.getenv("FAULTS_CLIENTS") or "24")
local BOUND = 10                          -- seconds any one exchange may take
local seed = tonumber(SPEC:match("seed=(%d+)") or "1")
math.randomseed(seed)

local PID = corio._core.getpid()
local proc = dofile("spec/faults/proc.lua")
local function nfds() return proc.nfds(PID) end

local phase = {}   -- what each client and the churn do now (for a hang report)
local counts = { ok = 0, bytes = 0, errors = {}, corrupt = 0, stuck = 0, unexpected = {} }
local function count_error(code)
  code = tostring(code)
  counts.errors[code] = (counts.errors[code] or 0) + 1
end

-- Errors a fault may legitimately cause; anything else is a finding.
local function expected(err)
  local s = tostring(err)
  return corio.is_cancelled(err) or s:find("not enough memory", 1, true)
      or s:find("error in error handling", 1, true)
end

local function unexpected(where, err)   -- the first few are kept
  counts.nunexpected = (counts.nunexpected or 0) + 1
  if #counts.unexpected < 5 then counts.unexpected[#counts.unexpected + 1] = where .. ": " .. tostring(err) end
end

corio.on_error(function(tb, _, err)
  if not expected(err) then unexpected("task", tb or err) end
end)

-- A random payload: slices of a random block, so order errors show.
local block = {}
for i = 1, 4096 do block[i] = string.char(math.random(0, 255)) end
block = table.concat(block)
local function payload()
  local n = math.random() < 0.8 and math.random(1, 512) or math.random(513, 65536)
  local parts, have = {}, 0
  while have < n do
    local off = math.random(1, 4096)
    local piece = block:sub(off, off + n - have - 1)
    parts[#parts + 1] = piece
    have = have + #piece
  end
  return table.concat(parts)
end

-- Echo one connection until it ends or fails.
local function serve(s)
  local _ <close> = s
  while true do
    local data, err, code = s:read()
    if not data then return code end
    local ok, werr, wcode = s:write(data)
    if not ok then return wcode or werr end
  end
end

-- Until the listener is closed (after the clients are done).
local function acceptor(l)
  while true do
    local ok, s, err, code = pcall(l.accept, l)
    if ok and s then
      local spawned, e = pcall(corio.spawn, serve, s)
      if not spawned then s:close(); if not expected(e) then unexpected("spawn", e) end end
    elseif ok then
      if code ~= "EBADF" then count_error(code or err) end
      if code == "EBADF" then return end
      corio.sleep(0.001)
    elseif corio.is_cancelled(s) then
      error(s, 0)
    elseif not expected(s) then
      unexpected("accept", s); return
    end
  end
end

-- One exchange on a fresh or kept connection: true, the connection to
-- keep (or nil) / false on a finding.
local function exchange(port, conn, id)
  phase[id] = conn and "exchange on a kept connection" or "connect"
  if not conn then
    local c, err, code = corio.tcp.connect("127.0.0.1", port)
    if not c then count_error(code or err); return nil end
    conn = c
  end
  -- closed on every way out (an error raised, a timeout) but the one
  -- handing the connection back for the next exchange
  local keep <close> = setmetatable({ conn = conn }, { __close = function(k)
    if k.conn then k.conn:close() end
  end })
  local data = payload()
  phase[id] = ("write and read %d bytes"):format(#data)
  local w = corio.spawn(function()   -- (the exchange may end and close conn first)
    local ok, r, msg, code = pcall(conn.write, conn, data)
    if ok then return r, msg, code end
    if tostring(r):find("is closed", 1, true) then return nil, "closed", "EBADF" end
    error(r, 0)
  end)
  local got, err, code = conn:read_exact(#data)
  phase[id] = ("join the writer (%s, read %s)"):format(w:status(), got and "whole" or tostring(code))
  local wok, wres, wmsg, wcode = pcall(w.join, w)
  if got == data then
    counts.ok = counts.ok + 1
    counts.bytes = counts.bytes + #data
    if math.random() < 0.3 then return nil end
    keep.conn = nil
    return conn
  end
  if got then counts.corrupt = counts.corrupt + 1 end
  if not got then count_error(code or err) end
  if wok and not wres then count_error(wcode or wmsg) end
  return nil
end


local function client(port, stop, id)
  local conn
  while not stop.now do
    phase[id] = "exchange"
    local ok, r, res = pcall(corio.timeout, BOUND, exchange, port, conn, id)
    if ok and r then
      conn = res
    else
      if conn then pcall(conn.close, conn) end
      conn = nil
      if ok then   -- timed out: a hang; say where
        counts.stuck = counts.stuck + 1
        unexpected("hang", ("client %d over %d s in: %s"):format(id, BOUND, phase[id]))
      elseif corio.is_cancelled(r) then error(r, 0)
      elseif not expected(r) then unexpected("client", r) end
    end
  end
  phase[id] = "closing"
  if conn then conn:close() end
  phase[id] = nil
end

-- Timers, channels, groups and short tasks beside the I/O.
local function churn(stop)
  while not stop.now do
    phase.churn = "round"
    local ok, err = pcall(function()
      local ch = corio.channel(math.random(0, 4))
      local g <close> = corio.group()
      g:spawn(function() for i = 1, 20 do ch:send(i) end ch:close() end)
      g:spawn(function() while ch:recv() do end end)
      g:spawn(function() corio.timeout(0.002, corio.sleep, 1) end)
      local sem = corio.semaphore(1)
      g:spawn(function() local p <close> = sem:acquire(); corio.sleep(0) end)
      g:wait()
    end)
    if not ok and corio.is_cancelled(err) then error(err, 0) end
    if not ok and not expected(err) then unexpected("churn", err) end
  end
  phase.churn = nil
end

local function round(seconds, spec)
  local stop = { now = false }
  corio.run(function()
    corio.faults_quiet()   -- the harness's own task: faults hit the workload only
    local l = assert(corio.tcp.listen("127.0.0.1", 0))
    local _, port = l:addr()
    if spec ~= "" then corio.faults_arm(spec) end
    local acc = corio.spawn(acceptor, l)
    local g = corio.group()
    for id = 1, CLIENTS do g:spawn(client, port, stop, id) end
    g:spawn(churn, stop)
    corio.sleep(seconds)
    stop.now = true
    local ok, done = pcall(corio.timeout, 3 * BOUND, g.wait, g)
    if ok and not done then
      local left = {}
      for id, what in pairs(phase) do left[#left + 1] = id .. ":" .. what end
      counts.stuck = counts.stuck + 1
      unexpected("hang", "tasks still running " .. 3 * BOUND .. " s after the end: " .. table.concat(left, " "))
      g:cancel()
    elseif not ok and not expected(done) then unexpected("group", done) end
    corio.faults_disarm()
    l:close()
    pcall(acc.join, acc)
  end)
  corio.faults_disarm()
end

local function settle()
  for _ = 1, 3 do collectgarbage("collect") end
  corio.run(function() corio.sleep(0.05) end)   -- streams collected close now
  for _ = 1, 2 do collectgarbage("collect") end
end

-- Warm-up without faults, so lazily made things (string caches, the
-- loop's records) exist before the baseline is taken.
round(0.5, "")
settle()
local base_fds, base_mem = nfds(), corio.stats().memory_bytes
counts = { ok = 0, bytes = 0, errors = {}, corrupt = 0, stuck = 0, unexpected = {} }

local t0 = os.time()
local ok, err = pcall(round, SECONDS, SPEC)
if not ok then unexpected("run", err); io.stderr:write("run raised: ", tostring(err), "\n") end
local fstats = corio.faults_stats()
settle()
local st = corio.stats()
local fds, mem = nfds(), st.memory_bytes

local passed, failed = 0, 0
local function check(name, good, detail)
  if good then passed = passed + 1 else failed = failed + 1 end
  print(("%s %s%s"):format(good and "ok  " or "FAIL", name, detail and (": " .. detail) or ""))
end

local inj = {}
for _, k in ipairs { "enomem", "short", "reset", "enobufs", "eagain", "overflow", "eintr", "spurious" } do
  if fstats[k] > 0 then inj[#inj + 1] = k .. "=" .. fstats[k] end
end
local errs = {}
for code, n in pairs(counts.errors) do errs[#errs + 1] = code .. "=" .. n end
table.sort(errs)
print(("faults %s: %d s, %d clients, CORIO_FAULTS=%q"):format(corio.backend(), os.time() - t0, CLIENTS, SPEC))
print("injected: " .. (#inj > 0 and table.concat(inj, " ") or "none"))
print(("exchanges: %d intact (%d bytes), errors reported: %s"):format(
  counts.ok, counts.bytes, #errs > 0 and table.concat(errs, " ") or "none"))

check("exchanges completed", counts.ok > 0, counts.ok .. " intact")
check("no corrupt data", counts.corrupt == 0, counts.corrupt .. " corrupt")
check("no exchange hung", counts.stuck == 0, counts.stuck .. " over " .. BOUND .. " s")
check("no unexpected error", #counts.unexpected == 0,
  #counts.unexpected > 0 and (counts.nunexpected .. ", first: " .. table.concat(counts.unexpected, " | ")) or nil)
check("tasks, timers and waiters back to zero",
  st.tasks == 0 and st.timers == 0 and st.io_waiting == 0 and st.channel_waiting == 0,
  ("tasks=%d timers=%d io=%d chan=%d"):format(st.tasks, st.timers, st.io_waiting, st.channel_waiting))
check("fds back to baseline", fds == base_fds, ("%d -> %d"):format(base_fds, fds))
-- a little slack: interned error strings and the like
check("memory back to baseline", mem <= base_mem + 64 * 1024, ("%d -> %d bytes"):format(base_mem, mem))
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
