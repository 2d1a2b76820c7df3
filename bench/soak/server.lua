-- bench/soak/server.lua STATSFILE: the soak test's server. An echo server
-- (one task per connection; a request is a line "SIZE SEQ" and SIZE bytes,
-- echoed back whole) with background churn beside it: sleeping tasks and
-- deadlines, a channel pipeline that adds up the bytes echoed, tasks spawned
-- and joined, groups with failing and cancelled children.
--
-- Prints "port N" and "backend NAME" on stdout once it listens. SIGUSR1 appends one line of
-- key=value counters to STATSFILE; SIGTERM stops it: it closes the
-- listener, waits for the connections to end, stops the churn, checks the
-- pipeline's total against the bytes echoed and appends a "final=1" line.
--
-- SOAK_LEAK=mem keeps 200 bytes per request in a global table; SOAK_LEAK=fd
-- keeps one connection in 20 open after its client left. Both exist only to
-- show that the soak verdict catches a leak.
local corio = require "corio"

local IDLE_LIMIT = 30      -- a client idles at most 2 s between requests
local LEAK = os.getenv("SOAK_LEAK")

local stats = assert(io.open(assert(arg[1], "usage: server.lua STATSFILE"), "a"))
local n = {
  conns = 0, accepted = 0, reqs = 0, bytes = 0, aborts = 0, errs = 0,
  idle_kicks = 0, churn = 0, churn_fail = 0, piped = 0,
}
local leaked = {}

-- An unexpected failure: counted, and the first few told on stderr.
local function fail(kind, what)
  n[kind] = n[kind] + 1
  if n[kind] <= 10 then io.stderr:write("server ", kind, ": ", tostring(what), "\n") end
end

local function check(cond, what)
  if not cond then fail("churn_fail", what) end
end

-- What a client closing in the middle of a request looks like from here.
local CLIENT_GONE = { EOF = true, ECONNRESET = true, EPIPE = true }

-- One request: the header line, then its bytes, echoed back in one write.
-- Returns false when the connection is over.
local function serve_one(s, acct)
  local ok, hdr, msg, code = corio.timeout(IDLE_LIMIT, s.readline, s)
  if not ok then n.idle_kicks = n.idle_kicks + 1; return false end
  if not hdr then
    if msg and not CLIENT_GONE[code] then fail("errs", msg) end
    return false
  end
  local size = tonumber(hdr:match("^(%d+) %d+$"))
  if not size then fail("errs", "bad header " .. hdr:sub(1, 40)); return false end
  local data, msg2, code2 = s:read_exact(size)
  if not data then
    if CLIENT_GONE[code2] then n.aborts = n.aborts + 1 else fail("errs", msg2) end
    return false
  end
  local wok, msg3, code3 = s:write(hdr, "\n", data)
  if not wok then
    if not CLIENT_GONE[code3] then fail("errs", msg3) end
    return false
  end
  n.reqs, n.bytes = n.reqs + 1, n.bytes + size
  if LEAK == "mem" then leaked[#leaked + 1] = data:sub(1, 200) .. n.reqs end
  acct:send(size)
  return true
end

local function serve(s, acct)
  n.conns, n.accepted = n.conns + 1, n.accepted + 1
  while serve_one(s, acct) do end
  n.conns = n.conns - 1
  if LEAK == "fd" and n.accepted % 20 == 0 then leaked[#leaked + 1] = s; return end
  s:close()
end

local function accept_loop(ls, acct)
  while true do
    local s, msg, code = ls:accept()
    if not s then
      if code == "EBADF" then return end          -- the listener was closed
      fail("errs", "accept: " .. tostring(msg))
    else
      corio.spawn(serve, s, acct)
    end
  end
end

-- The pipeline: request sizes -> batches of 64 -> a running total.
local function pipeline(acct)
  local batches = corio.channel(16)
  local summer = corio.spawn(function()
    local total = 0
    for b in batches:iter() do total = total + b; n.piped = total end
    return total
  end)
  local sum, count = 0, 0
  for size in acct:iter() do
    sum, count = sum + size, count + 1
    if count == 64 then batches:send(sum); sum, count = 0, 0 end
  end
  if count > 0 then batches:send(sum) end
  batches:close()
  return summer:join()
end

-- Timers: short sleepers fired and forgotten, and deadlines that must
-- expire or must not.
local function timer_churn()
  while true do
    for _ = 1, 20 do
      corio.spawn(function() corio.sleep(math.random() * 0.1) end)
    end
    n.churn = n.churn + 20
    local expired = corio.timeout(0.002, corio.sleep, 0.05)
    check(expired == false, "a 2 ms deadline around a 50 ms sleep did not expire")
    local ok, v = corio.timeout(0.5, function() corio.sleep(0.001); return 7 end)
    check(ok == true and v == 7, "a 500 ms deadline around a 1 ms sleep expired")
    corio.sleep(0.01)
  end
end

-- Tasks spawned and joined, in rounds of 32.
local function spawn_churn()
  while true do
    local tasks = {}
    for i = 1, 32 do
      tasks[i] = corio.spawn(function(k)
        if k % 2 == 0 then corio.yield() else corio.sleep(0) end
        return k * k
      end, i)
    end
    local sum = 0
    for i = 1, 32 do sum = sum + tasks[i]:join() end
    check(sum == 11440, "joined tasks returned " .. sum)
    n.churn = n.churn + 32
    corio.sleep(0.05)
  end
end

-- A group: eight children finish (two of them by failing), one sleeps until
-- the group's close cancels it; a oneshot and a select on the side.
local function group_round()
  local g <close> = corio.group()
  local sleeper = g:spawn(corio.sleep, 3600)
  local done = corio.oneshot()
  for i = 1, 8 do
    g:spawn(function()
      corio.sleep(math.random() * 0.02)
      if i % 4 == 0 then error("planned failure", 0) end
      if i == 1 then done:send(i) end
      return i
    end)
  end
  local okc, errc = 0, 0
  for _ = 1, 8 do
    local _, ok, res = g:next()
    if ok then okc = okc + 1 else errc = errc + (res == "planned failure" and 1 or 0) end
  end
  check(okc == 6 and errc == 2, ("group: %d ok, %d failed"):format(okc, errc))
  local which, v = corio.select(done:recv_case(), corio.after(1))
  check(which == 1 and v == 1, "oneshot: select gave case " .. tostring(which))
  g:cancel()
  check(#g == 1, "group: " .. #g .. " children left before close")
  n.churn = n.churn + 9
  return sleeper
end

local function group_churn()
  while true do
    local sleeper = group_round()
    check(sleeper:status() == "cancelled", "group close left " .. sleeper:status())
    corio.sleep(0.1)
  end
end

local function sample(extra)
  local st = corio.stats()
  stats:write(("s_tasks=%d s_timers=%d s_ready=%d s_io_waiting=%d s_mem=%d s_lua_kb=%d "
    .. "s_conns=%d s_accepted=%d s_reqs=%d s_bytes=%d s_aborts=%d s_errs=%d "
    .. "s_idle_kicks=%d s_churn=%d s_churn_fail=%d s_piped=%d%s\n"):format(
    st.tasks, st.timers, st.ready, st.io_waiting, st.memory_bytes,
    math.floor(collectgarbage("count")), n.conns, n.accepted, n.reqs, n.bytes,
    n.aborts, n.errs, n.idle_kicks, n.churn, n.churn_fail, n.piped, extra or ""))
  stats:flush()
end

-- After SIGTERM: no new connections; the ones left get 10 s to end.
local function wind_down(ls, acct, pipe, churn)
  ls:close()
  local deadline = corio.now() + 10
  while n.conns > 0 and corio.now() < deadline do corio.sleep(0.05) end
  churn:close()
  acct:close()
  local total = pipe:join()
  corio.sleep(0.2)                 -- the fire-and-forget sleepers end
  sample((" final=1 s_pipe_total=%d"):format(total))
end

corio.run(function()
  local sig <close> = assert(corio.signal("USR1", "TERM"))
  local ls = assert(corio.tcp.listen("127.0.0.1", 0, { backlog = 4096 }))
  io.stdout:write("port ", select(2, ls:addr()), "\nbackend ", corio.backend(), "\n")
  io.stdout:flush()
  local acct = corio.channel(1024)
  local pipe = corio.spawn(pipeline, acct)
  local churn = corio.group()
  churn:spawn(timer_churn)
  churn:spawn(spawn_churn)
  churn:spawn(group_churn)
  corio.spawn(accept_loop, ls, acct)
  while sig:recv() == "USR1" do sample() end
  wind_down(ls, acct, pipe, churn)
end)
