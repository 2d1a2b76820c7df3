-- spec/fuzz/api_fuzz.lua: a seeded fuzzer of corio's public API.
--
-- Each round draws a random program from (seed, round) alone: 1-4 lanes
-- of operations (spawn a task running a sub-program, a burst of tasks,
-- cancel a task or all of them, sleep, yield, timeout around a
-- sub-program, channels, semaphores, a mutex, notify, groups, select,
-- TCP / Unix / socketpair streams to an echo server in this process, UDP
-- to an echo socket, fd passing, a deliberate error, GC...); half the ops
-- also run under a short deadline of their own. The main task runs lane
-- a (under a deadline), the other lanes run in tasks; then the tasks get
-- a moment to go on, and everything left is cancelled, joined and closed.
-- A round runs in one of four modes: normal; "raise" (the main task then
-- raises: run must cancel the rest and raise that error); "deadlock" (no
-- I/O, no deadline, no teardown: run returns or reports a deadlock);
-- "step" (the host drives the loop with corio.step).
--
-- What is checked. Every call succeeds or fails as README.md documents
-- (nil, msg, CODE; a documented Lua error; the cancellation or timeout
-- error): anything else fails the round. Models: every channel value
-- whose send succeeded is received exactly once (or drained at the end),
-- one whose send failed never is; permits and the mutex are never lost
-- nor doubled; each write is a frame ("#" seq len ":" body "\n") and the
-- echoed bytes must be those frames, in order, byte for byte, those whose
-- write succeeded all there at the end of the stream; datagrams come back
-- intact, cut only past max. After each op: stats within bounds, permits,
-- channel sizes. Once every task is parked: no task waits for what has
-- already happened (a lost wake-up: a join of a finished task, a recv on
-- a non-empty or closed channel...). After each round: corio.stats()
-- back to zero (tasks, ready, timers, I/O and channel waiters, wait
-- queues), every task finished, permits all back, fds back to the
-- baseline, a second close of every object giving nil, "<x> is closed",
-- "EBADF"; a round running past ROUND_T is a hang. Over the run: the
-- state's memory must not creep.
--
-- Run from the repository root (LUA_PATH/LUA_CPATH finding corio):
--   lua5.4 spec/fuzz/api_fuzz.lua          (`make fuzz` runs it under ASan)
-- Environment: FUZZ_SEED (default: the time), FUZZ_S (seconds, default 10),
-- FUZZ_ROUND=r (run only round r, FUZZ_REPEAT times, default 10, stopping at
-- a failure: a program is the same every time, its timing is not;
-- FUZZ_FROM=1 runs rounds 1..r-1 first), FUZZ_DUMP=1 (with FUZZ_ROUND:
-- print the program, run nothing), FUZZ_OPS (most ops in a lane, default
-- 60), FUZZ_STATE=file (the round being run is written there, so a crash
-- can be traced to it), FUZZ_VERBOSE=1 (a line per round).
-- Prints "fuzz <backend>: N rounds, N ops, seed S ..." and what was
-- checked, and exits 0; or prints the failure, the program and how to
-- reproduce it, and exits 1.
local corio = require "corio"
local waitq = require "corio.waitq"
local core = corio._core

local SEED = math.tointeger(tonumber(os.getenv("FUZZ_SEED") or "")) or os.time()
local SECONDS = tonumber(os.getenv("FUZZ_S") or "") or 10
local ONLY = math.tointeger(tonumber(os.getenv("FUZZ_ROUND") or ""))
local FROM = os.getenv("FUZZ_FROM") == "1"
local DUMP = os.getenv("FUZZ_DUMP") == "1"
local MAX_OPS = math.tointeger(tonumber(os.getenv("FUZZ_OPS") or "")) or 60
local STATE = os.getenv("FUZZ_STATE")
local REPEAT = math.tointeger(tonumber(os.getenv("FUZZ_REPEAT") or "")) or 10
local VERBOSE = os.getenv("FUZZ_VERBOSE") == "1"

local MARKER = "fuzz: deliberate error"   -- what the `fail` op raises
local PROG_T = 0.15     -- the main program runs under this deadline
local SETTLE_T = 0.15   -- then the other tasks get at most this long
local ROUND_T = 30      -- a round still running after this is hung
local MAX_DEPTH = 3
local MAX_TASKS = 1000  -- tasks a round may start (bursts of bursts would make 64,000)

-- ===================================================================
-- Generation: a program is a list of ops { k = kind, id = "1.4.2", ... }
-- drawn from math.random, seeded with (seed, round) before each round.
-- ===================================================================

local random = math.random

local function pick(t) return t[random(#t)] end
local function chance(p) return random() < p end

local SLEEPS = { 0, -1, 0, 0.0001, 0.0005, 0.001, 0.003, 0.01, 0.06 }   -- 60 ms: an idle GC pass
local TIMEOUTS = { 0, -1, 0.0002, 0.001, 0.002, 0.005, 0.02, 0.1 }
local GUARDS = { 0, 0.0005, 0.001, 0.003, 0.01, 0.03 }
local CAPS = { "unbounded", 0, 1, 2, 5 }
local LENS = { 0, 1, 10, 100, 1000, 5000, 20000, 70000, 300000, 1000000 }
local LEN_W = { 4, 4, 10, 12, 8, 6, 4, 2, 1, 0.3 }
local READS = { 1, 7, 100, 4096, 65536, false }
local DGRAMS = { 0, 1, 50, 500, 1400, 9000, 60000, 70000 }
local DGRAM_W = { 2, 2, 10, 8, 6, 2, 1, 0.5 }

local function weighted(values, weights)
  local sum = 0
  for _, w in ipairs(weights) do sum = sum + w end
  local x = random() * sum
  for i, w in ipairs(weights) do
    x = x - w
    if x <= 0 then return values[i] end
  end
  return values[#values]
end

local G   -- the shape of the round being generated: counts of each resource

local gen_prog

-- One generator per op kind: function(depth) -> op (without k and id).
local GEN = {
  spawn = function(d) return { prog = gen_prog(d + 1) } end,
  gspawn = function(d) return { g = random(2), prog = gen_prog(d + 1) } end,
  gwait = function() return { g = random(2) } end,
  gnext = function() return { g = random(2) } end,
  gcancel = function() return { g = random(2) } end,
  gclose = function() return { g = random(2) } end,
  glen = function() return { g = random(2) } end,
  xgcancel = function() return { i = random(1000) } end,
  join = function() return { i = random(1000) } end,
  cancel = function() return { i = random(1000) } end,
  status = function() return { i = random(1000) } end,
  burst = function(d) return { n = random(5, 40), prog = gen_prog(d + 1, random(1, 3)) } end,
  cancel_all = function() return {} end,
  lock = function() return {} end,
  try_lock = function() return {} end,
  sleep = function() return { t = pick(SLEEPS) } end,
  yield = function() return {} end,
  timeout = function(d) return { t = pick(TIMEOUTS), prog = gen_prog(d + 1) } end,
  send = function() return { c = random(G.nch), as = random(3) } end,
  try_send = function() return { c = random(G.nch), as = random(3) } end,
  recv = function() return { c = random(G.nch) } end,
  try_recv = function() return { c = random(G.nch) } end,
  iter = function() return { c = random(G.nch), n = random(0, 4) } end,
  chclose = function() return { c = random(G.nch) } end,
  acquire = function() return { s = random(G.nsem), n = random(3) } end,
  try_acquire = function() return { s = random(G.nsem), n = random(2) } end,
  release = function() return { i = random(100), twice = chance(0.3) } end,
  add = function() return { s = random(G.nsem), n = random(3) } end,
  nwait = function() return { n = random(G.nnfy) } end,
  notify = function() return { n = random(G.nnfy), all = chance(0.4) } end,
  fail = function() return {} end,
  gc = function() return { full = chance(0.3) } end,
  connect = function() return { s = random(G.nslot), kind = pick({ "tcp", "tcp", "unix", "pair" }) } end,
  write = function()
    return { s = random(G.nslot), len = weighted(LENS, LEN_W), parts = pick({ 1, 1, 2, 3, 17, 40 }),
             empty = chance(0.2) }
  end,
  read = function() return { s = random(G.nslot), n = pick(READS) } end,
  echo = function() return { s = random(G.nslot), len = weighted(LENS, LEN_W), parts = pick({ 1, 2, 5 }), n = pick(READS) } end,
  read_exact = function() return { s = random(G.nslot), n = pick({ 0, 1, 16, 17, 200, 5000 }) } end,
  readline = function() return { s = random(G.nslot), max = pick({ false, 20, 200, 70000 }) } end,
  shutdown = function() return { s = random(G.nslot) } end,
  close = function() return { s = random(G.nslot) } end,
  drain = function() return { s = random(G.nslot) } end,
  drop = function() return { s = random(G.nslot) } end,
  setopt = function() return { s = random(G.nslot) } end,
  addr = function() return { s = random(G.nslot) } end,
  uopen = function() return { s = random(G.nudp), connected = chance(0.5) } end,
  usend = function() return { s = random(G.nudp), len = weighted(DGRAMS, DGRAM_W) } end,
  urecv = function() return { s = random(G.nudp), max = pick({ false, 40, 100, 2000 }) } end,
  uclose = function() return { s = random(G.nudp) } end,
  fdpass = function() return { what = pick({ "listener", "udp", "stream" }), data = pick({ "", "x", "hello" }) } end,
}

-- Select cases: kind -> generator.
local GEN_CASE = {
  recv = function() return { c = random(G.nch) } end,
  send = function() return { c = random(G.nch), as = random(3) } end,
  after = function() return { t = pick(TIMEOUTS) } end,
  join = function() return { i = random(1000) } end,
  acquire = function() return { s = random(G.nsem), n = random(2) } end,
}

GEN.select = function()
  local cases = {}
  for i = 1, random(1, 4) do
    local k = pick({ "recv", "recv", "send", "send", "after", "join", "acquire" })
    cases[i] = GEN_CASE[k]()
    cases[i].k = k
  end
  return { cases = cases }
end

-- Kind, weight, and whether it does I/O (left out of rounds without I/O).
local KINDS = {
  { "spawn", 8 }, { "gspawn", 5 }, { "gwait", 2 }, { "gnext", 2 }, { "gcancel", 1 },
  { "gclose", 1 }, { "glen", 0.5 }, { "xgcancel", 0.5 }, { "join", 3 }, { "cancel", 4 },
  { "status", 0.5 }, { "sleep", 6 }, { "yield", 3 }, { "timeout", 5 }, { "send", 6 },
  { "try_send", 2 }, { "recv", 6 }, { "try_recv", 2 }, { "iter", 1 }, { "chclose", 1 },
  { "acquire", 4 }, { "try_acquire", 1 }, { "release", 3 }, { "add", 1.5 }, { "nwait", 1 },
  { "burst", 1 }, { "cancel_all", 0.2 }, { "lock", 2 }, { "try_lock", 0.5 },
  { "notify", 1.5 }, { "select", 5 }, { "fail", 0.5 }, { "gc", 0.5 },
  { "connect", 3, true }, { "write", 6, true }, { "echo", 8, true }, { "read", 6, true }, { "read_exact", 2, true },
  { "readline", 2, true }, { "shutdown", 0.7, true }, { "close", 1.5, true }, { "drain", 1.5, true },
  { "drop", 0.3, true }, { "setopt", 0.3, true }, { "addr", 0.3, true }, { "uopen", 1.5, true },
  { "usend", 3, true }, { "urecv", 3, true }, { "uclose", 0.5, true }, { "fdpass", 0.7, true },
}

local function gen_kind(io)
  local sum = 0
  for _, e in ipairs(KINDS) do
    if io or not e[3] then sum = sum + e[2] end
  end
  local x = random() * sum
  for _, e in ipairs(KINDS) do
    if io or not e[3] then
      x = x - e[2]
      if x <= 0 then return e[1] end
    end
  end
  return "yield"
end

local NESTS = { spawn = true, gspawn = true, timeout = true, burst = true }

-- A program at depth d: fewer and shorter sub-programs further down.
function gen_prog(d, n, prefix)
  prefix = prefix or G.prefix
  n = n or random(0, math.max(1, 10 - 3 * d))
  local prog = {}
  for i = 1, n do
    local k
    repeat k = gen_kind(G.io) until d < MAX_DEPTH or not NESTS[k]
    local id = prefix .. i
    local saved = G.prefix
    G.prefix = id .. "."
    local op = GEN[k](d)
    G.prefix = saved
    op.k, op.id = k, id
    if chance(0.6) then op.guard = pick(GUARDS) end   -- a deadline around the op
    prog[i] = op
  end
  return prog
end

-- The round's shape and main program, from (seed, round) only.
local function gen_round(seed, round)
  math.randomseed(seed, round)
  local x = random()
  G = {
    mode = x < 0.1 and "deadlock" or x < 0.2 and "raise" or x < 0.3 and "step" or "normal",
    nch = random(1, 4), nsem = random(1, 3), nnfy = random(1, 2), nslot = random(1, 4),
    nudp = random(1, 2), prefix = "",
  }
  G.io = G.mode ~= "deadlock" and chance(0.85)
  G.caps, G.permits = {}, {}
  for i = 1, G.nch do G.caps[i] = pick(CAPS) end
  for i = 1, G.nsem do G.permits[i] = random(0, 3) end
  G.max_conn = chance(0.2) and random(1, 3) or nil
  G.kinds, G.connected = {}, {}   -- the streams and UDP sockets open from the start
  for i = 1, G.nslot do G.kinds[i] = pick({ "tcp", "tcp", "unix", "pair" }) end
  for i = 1, G.nudp do G.connected[i] = chance(0.5) end
  local bytes = {}
  for i = 1, 4096 do
    local b = random(0, 253)
    if b >= 10 then b = b + 1 end
    if b >= 13 then b = b + 1 end   -- no "\n" nor "\r" inside frame bodies
    bytes[i] = string.char(b)
  end
  G.block = table.concat(bytes)
  G.lanes = {}   -- lane 1 runs in the main task, the others in tasks of their own
  for i = 1, random(1, 4) do
    G.prefix = string.char(96 + i) .. "."
    G.lanes[i] = gen_prog(0, random(5, MAX_OPS))
  end
  return G
end

-- ---- printing programs ----

local function show_fields(op)
  local keys, parts = {}, {}
  for k in pairs(op) do
    if k ~= "k" and k ~= "id" and k ~= "prog" and k ~= "cases" then keys[#keys + 1] = k end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do parts[#parts + 1] = k .. "=" .. tostring(op[k]) end
  if op.cases then
    local cs = {}
    for _, c in ipairs(op.cases) do cs[#cs + 1] = c.k .. "{" .. show_fields(c) .. "}" end
    parts[#parts + 1] = "cases={" .. table.concat(cs, ", ") .. "}"
  end
  return table.concat(parts, ", ")
end

local function show_op(op)
  return ("%s %s{%s}"):format(op.id, op.k, show_fields(op))
end

local function show_prog(prog, indent, out)
  for _, op in ipairs(prog) do
    out[#out + 1] = indent .. show_op(op)
    if op.prog then show_prog(op.prog, indent .. "  ", out) end
  end
  return out
end

local function show_round(g)
  local caps = {}
  for i, c in ipairs(g.caps) do caps[i] = tostring(c) end
  local conn = {}
  for i, v in ipairs(g.connected) do conn[i] = tostring(v) end
  local head = ("mode=%s io=%s channels={%s} permits={%s} notifies=%d streams={%s} udp connected={%s} "
                .. "max_connections=%s")
    :format(g.mode, tostring(g.io), table.concat(caps, ","), table.concat(g.permits, ","),
            g.nnfy, table.concat(g.kinds, ","), table.concat(conn, ","), tostring(g.max_conn))
  local out = { head }
  for i, prog in ipairs(g.lanes) do
    out[#out + 1] = ("lane %s (%s):"):format(string.char(96 + i), i == 1 and "main task" or "a task")
    show_prog(prog, "  ", out)
  end
  return table.concat(out, "\n")
end

-- ===================================================================
-- Execution. R is the state of the round being run: its resources and
-- the models of what must hold.
-- ===================================================================

local R
-- What the checks covered, over all rounds (printed at the end).
local COUNT = { frames = 0, bytes = 0, values = 0, dgrams = 0, ends = 0, fds = 0, timeouts = 0, parked = 0 }

local Failure = { __name = "fuzz.Failure" }
Failure.__tostring = function(f) return "fuzz failure: " .. f.msg end

local function is_failure(e) return getmetatable(e) == Failure end

local function is_interrupt(e)
  return corio.is_cancelled(e) or core.is_deadline(e)
end

local function where()
  local t = corio.current()
  local ctx = t and R.info[t]
  if not ctx then return "main" end
  return ctx.name .. (ctx.at and (" at " .. show_op(ctx.at)) or "")
end

-- Record a failure and raise it (in a task: the task fails with it).
local function fail(fmt, ...)
  local msg = fmt:format(...) .. " [" .. where() .. "]"
  local f = setmetatable({ msg = msg, tb = debug.traceback(msg, 2) }, Failure)
  R.failures[#R.failures + 1] = f
  error(f, 0)
end

local function check(cond, fmt, ...)
  if not cond then fail(fmt, ...) end
end

-- Record a failure without raising (outside tasks, after the run).
local function note(fmt, ...)
  R.failures[#R.failures + 1] = setmetatable({ msg = fmt:format(...) }, Failure)
end

local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = type(t[i]) == "string" and ("%q"):format(t[i]):sub(1, 80) or tostring(t[i]) end
  return table.concat(t, ", ", 1, t.n)
end

local function hex(s)
  return (s:gsub(".", function(ch) return ("%02x "):format(ch:byte()) end))
end

-- nil, message, CODE as documented: a string message and an E* code.
local function check_fail(allowed, r1, msg, code)
  check(r1 == nil and type(msg) == "string" and type(code) == "string" and allowed[code],
        "unexpected result %s", show(r1, msg, code))
end

-- The second close of any object: nil, "<what> is closed", "EBADF".
local function close_twice(obj, what)
  local r = table.pack(obj:close())
  if r[1] ~= true then
    check(r[1] == nil and r[2] == what .. " is closed" and r[3] == "EBADF", "close: %s", show(table.unpack(r, 1, r.n)))
  end
  r = table.pack(obj:close())
  check(r.n == 3 and r[1] == nil and r[2] == what .. " is closed" and r[3] == "EBADF",
        "second close of a %s: %s", what, show(table.unpack(r, 1, r.n)))
end

-- ---- channel values: every value sent must be received exactly once ----

local function new_value(as)
  R.nextv = R.nextv + 1
  local id = R.nextv
  local v = as == 1 and id or as == 2 and ("v" .. id) or { id = id }
  return v, id
end

local function value_id(v)
  if math.type(v) == "integer" then return v end
  if type(v) == "string" then return tonumber(v:match("^v(%d+)$")) end
  if type(v) == "table" then return v.id end
end

-- v was received.
local function got(v)
  local id = value_id(v)
  local st = id and R.sent[id]
  check(st == "ok" or st == "maybe", "received %s, which was %s", show(v), st or "never sent")
  R.got[id] = (R.got[id] or 0) + 1
  COUNT.values = COUNT.values + 1
  check(R.got[id] == 1, "value %s received %d times", show(v), R.got[id])
end

-- The send of value id did not happen: it must never be received.
local function not_sent(id)
  R.sent[id] = "absent"
  check(not R.got[id], "value %d was received though its send did not happen", id)
end

-- ---- semaphores: avail + held <= total, == at the end ----

local function took(ctx, s, n, p)
  check(getmetatable(p) and getmetatable(p).__name == "corio.Permit", "acquire gave %s", show(p))
  R.held[s] = R.held[s] + n
  ctx.permits[#ctx.permits + 1] = { p = p, s = s, n = n }
end

local function give_back(rec)
  if rec.released then return end
  rec.released = true
  R.held[rec.s] = R.held[rec.s] - rec.n
  local r = rec.p:release()
  check(r == true, "first permit:release() returned %s", show(r))
end

-- ---- streams: framed writes, and a parser checking what comes back ----
--
-- A frame is "#" seq (8 hex) len (6 hex) ":" body "\n"; the body depends
-- on (connection, seq) only. A write's fate: "pending" while it runs,
-- "ok" (must come back whole, in order), "maybe" (interrupted: whole,
-- not at all, or cut at the very end) or "absent" (must not come back).

local HDR = 16

local function body(c, seq, len)
  local off = (c.id * 7919 + seq * 104729) % #R.block
  local rot = R.block:sub(off + 1) .. R.block:sub(1, off)
  return rot:rep(len // #rot + 1):sub(1, len)
end

local function frame(c, seq, len)
  return ("#%08x%06x:"):format(seq, len) .. body(c, seq, len) .. "\n"
end

local function set_fate(c, seq, fate)
  if fate == "absent" then
    check(not c.seen[seq], "frame %d of conn %d came back though its write did not happen", seq, c.id)
  elseif fate == "ok" then
    check(not c.skipped[seq], "frame %d of conn %d was skipped though its write succeeded", seq, c.id)
    check(not c.ended or R.stopping or (c.seen[seq] and c.cut ~= seq),
          "frame %d of conn %d: its write succeeded, but the stream ended without it whole", seq, c.id)
  end
  c.fates[seq] = fate
end

-- A complete header was read: check it names the next possible frame.
local function start_frame(c)
  local seq, len = tonumber(c.hdr:sub(2, 9), 16), tonumber(c.hdr:sub(10, 15), 16)
  local fate = c.fates[seq]
  check(fate and fate ~= "absent", "conn %d: frame %d came back, its write was %s", c.id, seq, fate or "never made")
  check(seq > c.last, "conn %d: frame %d came back after frame %d", c.id, seq, c.last)
  check(len == c.lens[seq], "conn %d: frame %d has length %d, written %s", c.id, seq, len, c.lens[seq])
  for s = c.last + 1, seq - 1 do
    check(c.fates[s] ~= "ok", "conn %d: frame %d is missing (frame %d came after it)", c.id, s, seq)
    if c.fates[s] == "pending" then c.skipped[s] = true end
  end
  c.last, c.seen[seq] = seq, true
  c.cur, c.off, c.hdr = { seq = seq, bytes = body(c, seq, len) .. "\n" }, 0, ""
end

-- Bytes read from conn c (in order): check them against the frames.
local function feed(c, data)
  check(not c.ended or #data == 0, "conn %d: %d bytes after the end of the stream", c.id, #data)
  local i, n = 1, #data
  while i <= n do
    if not c.cur then
      local piece = data:sub(i, i + HDR - #c.hdr - 1)
      c.hdr = c.hdr .. piece
      i = i + #piece
      local ok = #c.hdr < HDR and c.hdr:match("^#[0-9a-f]*$") or c.hdr:match("^#[0-9a-f]+:$")
      check(ok, "conn %d: bad frame header %s after frame %d", c.id, show(c.hdr), c.last)
      if #c.hdr == HDR then start_frame(c) end
    else
      local want = c.cur.bytes
      local piece = data:sub(i, i + #want - c.off - 1)
      if piece ~= want:sub(c.off + 1, c.off + #piece) then
        local j = 1
        while piece:byte(j) == want:byte(c.off + j) do j = j + 1 end
        fail("conn %d: frame %d differs at byte %d of %d: got %s, expected %s", c.id, c.cur.seq,
             c.off + j, #want, hex(piece:sub(j, j + 7)), hex(want:sub(c.off + j, c.off + j + 7)))
      end
      c.off, i = c.off + #piece, i + #piece
      COUNT.bytes = COUNT.bytes + #piece
      if c.off == #want then c.cur, COUNT.frames = nil, COUNT.frames + 1 end
    end
  end
end

-- The end of stream was read: every frame written whole came back; a
-- frame cut short must be one whose write was interrupted.
local function at_end(c)
  if c.ended then return end
  c.ended = true
  if R.stopping then return end   -- the echo server was stopped
  COUNT.ends = COUNT.ends + 1
  local cut = c.cur and c.cur.seq
  if not cut and #c.hdr > 0 then   -- inside a header: the first frame after the last one that can be cut
    for seq = c.last + 1, c.next_seq - 1 do
      if c.fates[seq] == "maybe" or c.fates[seq] == "pending" then cut = seq break end
    end
    check(cut, "conn %d: stream ends inside the header of a frame no write can have cut", c.id)
  end
  if cut then   -- a frame cut short: its write was interrupted, or is still being (and must fail)
    check(c.fates[cut] == "maybe" or c.fates[cut] == "pending", "conn %d: stream ends inside frame %d (its write: %s)",
          c.id, cut, tostring(c.fates[cut]))
    c.cut = cut
  end
  for seq = 0, c.next_seq - 1 do
    check(c.fates[seq] ~= "ok" or c.seen[seq], "conn %d: frame %d written but never came back", c.id, seq)
  end
end

-- readline gave line (its "\n" stripped): the "\n" is the frame's last
-- byte, or else the line was the unterminated end of the stream.
local function feed_line(c, line)
  feed(c, line)
  if c.cur and c.off == #c.cur.bytes - 1 then
    feed(c, "\n")
  else
    check(#line > 0, "conn %d: readline returned an empty line", c.id)
    at_end(c)
  end
end

local READ_CODES = { EBADF = true, ECONNRESET = true }
local WRITE_CODES = { EBADF = true, ECONNRESET = true, EPIPE = true }

-- ===================================================================
-- The operations. Each gets (op, ctx); ctx is the running task's own
-- state: its children, groups and permits.
-- ===================================================================

local OPS = {}
local exec

local function slot(s) return R.conns[s] end

local report   -- report(header): print a failure, the program, how to reproduce
local live_summary

-- A round still running ROUND_T after it started is hung, also when Lua
-- code never lets the loop run the watchdog: each task sets this hook
-- (a thread created by another inherits its count, not its function).
local function busy_hook()
  if os.time() - R.t0 > ROUND_T + 5 then   -- (corio.now() is the loop's clock, frozen meanwhile)
    note("round still running after %d s, busy in Lua; live tasks:\n%s", ROUND_T + 5, live_summary())
    report("hang (busy)")
    os.exit(1, false)
  end
end

-- Run prog in a new task made by spawner (corio.spawn or g:spawn).
local function task_main(prog, ctx)
  debug.sethook(busy_hook, "", 1000000)
  local _ <close> = setmetatable({}, { __close = function(_, err)
    for _, rec in ipairs(ctx.permits) do give_back(rec) end
    local first
    for i = #ctx.gorder, 1, -1 do
      local ok, e = pcall(ctx.gorder[i].close, ctx.gorder[i], err)
      if not ok and first == nil then first = e end
    end
    if first ~= nil and err == nil then error(first, 0) end
  end })
  exec(prog, ctx)
end

local function start(prog, name, spawner, ...)
  if #R.tasks >= MAX_TASKS then return nil end
  local ctx = { name = name, children = {}, groups = {}, gorder = {}, gclosed = {}, permits = {} }
  local t = spawner(..., task_main, prog, ctx)
  check(tostring(t):match("^corio%.Task"), "spawn returned %s", show(t))
  R.tasks[#R.tasks + 1], R.all[#R.all + 1], R.info[t] = t, t, ctx
  return t
end

local function spawn_fn(_, fn, ...) return corio.spawn(fn, ...) end
local function gspawn_fn(g, fn, ...) return g:spawn(fn, ...) end

function OPS.spawn(op, ctx)
  local t = start(op.prog, "task " .. op.id, spawn_fn, false)
  ctx.children[#ctx.children + 1] = t
  return t
end

local function group(ctx, i, create)
  local g = ctx.groups[i]
  if create and (not g or ctx.gclosed[g]) then
    g = corio.group()
    ctx.groups[i] = g
    ctx.gorder[#ctx.gorder + 1] = g
    R.groups[#R.groups + 1] = g
  end
  return g
end

function OPS.gspawn(op, ctx)
  local g = group(ctx, op.g, true)
  local t = start(op.prog, "child " .. op.id, gspawn_fn, g)
  check(not t or #g >= 1, "#g is %d after g:spawn", #g)
  return t
end

function OPS.gwait(op, ctx)
  local g = group(ctx, op.g)
  if not g then return end
  local r = table.pack(g:wait())
  check(r.n == 0, "g:wait returned %s", show(table.unpack(r, 1, r.n)))
end

function OPS.gnext(op, ctx)
  local g = group(ctx, op.g)
  if not g then return end
  local t, ok, res = g:next()
  if t == nil then
    check(#g == 0, "g:next returned nil with #g = %d", #g)
    return
  end
  check(tostring(t):match("^corio%.Task") and type(ok) == "boolean", "g:next returned %s", show(t, ok, res))
  check(ok or res == MARKER or corio.is_cancelled(res) or is_failure(res), "g:next: child error %s", show(res))
end

function OPS.gcancel(op, ctx)
  local g = group(ctx, op.g)
  if not g then return end
  local n = g:cancel()
  check(math.type(n) == "integer" and n >= 0, "g:cancel returned %s", show(n))
end

function OPS.gclose(op, ctx)
  local g = group(ctx, op.g)
  if not g then return end
  ctx.gclosed[g] = true
  local r = table.pack(g:close())
  check(r[1] == true or (r[1] == nil and r[2] == "group is closed" and r[3] == "EBADF"),
        "g:close returned %s", show(table.unpack(r, 1, r.n)))
  check(#g == 0, "#g is %d after g:close", #g)
end

function OPS.glen(op, ctx)
  local g = group(ctx, op.g)
  if g then check(math.type(#g) == "integer" and #g >= 0, "#g is %s", show(#g)) end
end

function OPS.xgcancel(op)
  if #R.groups == 0 then return end
  local n = R.groups[1 + op.i % #R.groups]:cancel()
  check(math.type(n) == "integer" and n >= 0, "g:cancel returned %s", show(n))
end

local FINAL = { done = true, failed = true, cancelled = true }

function OPS.join(op, ctx)
  if #ctx.children == 0 then return end
  local t = ctx.children[1 + op.i % #ctx.children]
  ctx.waiting = { k = "join", t = t }
  local r = table.pack(pcall(t.join, t))
  if r[1] then
    check(r.n == 1 and t:status() == "done", "join returned %s (status %s)", show(table.unpack(r, 2, r.n)), t:status())
    return
  end
  local e = r[2]
  -- the child's cancellation, or ours: the task goes on in the first case
  if corio.is_cancelled(e) and t:status() == "cancelled" then return end
  if e == MARKER or is_failure(e) then
    check(t:status() == "failed", "join raised the error of a task whose status is %s", t:status())
    return
  end
  error(e, 0)
end

function OPS.cancel(op)
  if #R.tasks == 0 then return end
  local t = R.tasks[1 + op.i % #R.tasks]
  local final = FINAL[t:status()]
  local r = t:cancel()
  check(type(r) == "boolean", "task:cancel returned %s", show(r))
  check(not (final and r), "task:cancel returned true on a finished task")
end

-- n tasks running the same short program at once.
function OPS.burst(op)
  for i = 1, op.n do start(op.prog, ("burst %s#%d"):format(op.id, i), spawn_fn, false) end
end

function OPS.cancel_all()
  for _, t in ipairs(R.tasks) do
    local final = FINAL[t:status()]
    check(not (t:cancel() and final), "task:cancel returned true on a finished task")
  end
end

function OPS.status(op)
  if #R.tasks == 0 then return end
  local s = R.tasks[1 + op.i % #R.tasks]:status()
  check(s == "ready" or s == "suspended" or FINAL[s], "task:status returned %s", show(s))
end

function OPS.sleep(op)
  local r = table.pack(corio.sleep(op.t))
  check(r.n == 0, "sleep returned %s", show(table.unpack(r, 1, r.n)))
end

function OPS.yield()
  corio.yield()
end

function OPS.timeout(op, ctx)
  local r = table.pack(corio.timeout(op.t, exec, op.prog, ctx))
  check((r[1] == true and r.n == 1) or (r[1] == false and r[2] == "timeout" and r.n == 2),
        "corio.timeout returned %s", show(table.unpack(r, 1, r.n)))
end

function OPS.send(op, ctx)
  local v, id = new_value(op.as)
  R.sent[id] = "maybe"
  ctx.waiting = { k = "send", ch = R.ch[op.c] }
  local ok, r = pcall(R.ch[op.c].send, R.ch[op.c], v)
  if ok then
    check(r == true, "channel:send returned %s", show(r))
    R.sent[id] = "ok"
    return
  end
  if not is_interrupt(r) then not_sent(id) end
  error(r, 0)
end

function OPS.try_send(op)
  local v, id = new_value(op.as)
  R.sent[id] = "maybe"
  local ok, r, why = pcall(R.ch[op.c].try_send, R.ch[op.c], v)
  if not ok then
    not_sent(id)
    error(r, 0)
  end
  if r == true then R.sent[id] = "ok" return end
  not_sent(id)
  check(r == false and why == "full", "channel:try_send returned %s", show(r, why))
end

function OPS.recv(op, ctx)
  local ch = R.ch[op.c]
  ctx.waiting = { k = "recv", ch = ch }
  local v = ch:recv()
  if v == nil then
    check(ch:is_closed() and #ch == 0, "channel:recv returned nil on an open or non-empty channel")
  else
    got(v)
  end
end

function OPS.try_recv(op)
  local ch = R.ch[op.c]
  local v, why = ch:try_recv()
  if v ~= nil then got(v) return end
  check(why == "empty" or (why == "closed" and ch:is_closed()), "channel:try_recv returned nil, %s", show(why))
end

function OPS.iter(op, ctx)
  local n = 0
  ctx.waiting = { k = "recv", ch = R.ch[op.c] }
  for v in R.ch[op.c]:iter() do
    got(v)
    n = n + 1
    if n >= op.n then break end
  end
end

function OPS.chclose(op)
  local ch = R.ch[op.c]
  local r = table.pack(ch:close())
  check(r[1] == true or (r[1] == nil and r[2] == "channel is closed" and r[3] == "EBADF"),
        "channel:close returned %s", show(table.unpack(r, 1, r.n)))
  check(ch:is_closed(), "channel open after close")
end

function OPS.acquire(op, ctx)
  ctx.waiting = { k = "acquire", s = R.sem[op.s], n = op.n }
  local p = R.sem[op.s]:acquire(op.n)
  took(ctx, op.s, op.n, p)
end

function OPS.try_acquire(op, ctx)
  local p = R.sem[op.s]:try_acquire(op.n)
  if p then took(ctx, op.s, op.n, p) end
end

-- The mutex is a semaphore of one permit ("m" in R.held and R.total).
function OPS.lock(_, ctx)
  ctx.waiting = { k = "lock" }
  took(ctx, "m", 1, R.mutex:lock())
end

function OPS.try_lock(_, ctx)
  local g = R.mutex:try_lock()
  if g then took(ctx, "m", 1, g) end
end

function OPS.release(op, ctx)
  local list = {}
  for _, rec in ipairs(ctx.permits) do
    if not rec.released then list[#list + 1] = rec end
  end
  if #list == 0 then return end
  local rec = list[1 + op.i % #list]
  give_back(rec)
  if op.twice then check(rec.p:release() == false, "second permit:release() did not return false") end
end

function OPS.add(op)
  check(R.sem[op.s]:add(op.n) == true, "semaphore:add did not return true")
  R.total[op.s] = R.total[op.s] + op.n
end

function OPS.nwait(op)
  local r = table.pack(R.nfy[op.n]:wait())
  check(r.n == 0, "notify:wait returned %s", show(table.unpack(r, 1, r.n)))
end

function OPS.notify(op)
  local n = R.nfy[op.n]
  if op.all then
    local c = n:notify_all()
    check(math.type(c) == "integer" and c >= 0, "notify_all returned %s", show(c))
  else
    local r = n:notify_one()
    check(type(r) == "boolean", "notify_one returned %s", show(r))
  end
end

function OPS.fail()
  error(MARKER, 0)
end

function OPS.gc(op)
  collectgarbage(op.full and "collect" or "step")
end

-- ---- select ----

local function make_case(cs, ctx, sends)
  if cs.k == "recv" then return R.ch[cs.c]:recv_case() end
  if cs.k == "send" then
    local v, id = new_value(cs.as)
    R.sent[id] = "maybe"
    sends[#sends + 1] = id
    local ok, c = pcall(R.ch[cs.c].send_case, R.ch[cs.c], v)
    if not ok then not_sent(id) error(c, 0) end
    return c, id
  end
  if cs.k == "acquire" then return R.sem[cs.s]:acquire_case(cs.n) end
  if cs.k == "join" and #ctx.children > 0 then
    return ctx.children[1 + cs.i % #ctx.children]:join_case()
  end
  return corio.after(cs.k == "after" and cs.t or 0)
end

local function chosen(op, ctx, cases, ids, r)
  local i = r[1]
  check(math.type(i) == "integer" and i >= 1 and i <= #cases, "select returned index %s", show(i))
  local cs = op.cases[i]
  if cs.k == "recv" then
    if r[2] == nil then
      check(R.ch[cs.c]:is_closed(), "recv_case gave nil on an open channel")
    else
      got(r[2])
    end
  elseif cs.k == "send" then
    R.sent[ids[i]] = "ok"
  elseif cs.k == "acquire" then
    took(ctx, cs.s, cs.n, r[2])
  elseif cs.k == "join" and #ctx.children > 0 then
    check(type(r[2]) == "boolean", "join_case gave %s", show(r[2]))
  else
    check(r.n == 1, "after case gave values %s", show(table.unpack(r, 2, r.n)))
  end
end

function OPS.select(op, ctx)
  local cases, ids, sends = {}, {}, {}
  local ok, err = pcall(function()
    for i, cs in ipairs(op.cases) do cases[i], ids[i] = make_case(cs, ctx, sends) end
  end)
  if not ok then
    for _, id in ipairs(sends) do if R.sent[id] == "maybe" then not_sent(id) end end
    error(err, 0)
  end
  local r = table.pack(pcall(corio.select, table.unpack(cases, 1, #op.cases)))
  if not r[1] then   -- no case took effect
    for _, id in ipairs(sends) do not_sent(id) end
    error(r[2], 0)
  end
  table.remove(r, 1)
  r.n = r.n - 1
  for j, id in pairs(ids) do
    if j ~= r[1] then not_sent(id) end
  end
  chosen(op, ctx, cases, ids, r)
end

-- ---- streams ----

local function new_conn(obj, kind)
  R.nconn = R.nconn + 1
  local c = { obj = obj, kind = kind, id = R.nconn, next_seq = 0, fates = {}, lens = {}, seen = {},
              skipped = {}, last = -1, hdr = "", off = 0 }
  R.allconns[#R.allconns + 1] = c
  return c
end

function OPS.connect(op)
  local obj, msg, code
  if op.kind == "tcp" then
    obj, msg, code = corio.tcp.connect("127.0.0.1", R.port)
  elseif op.kind == "unix" then
    obj, msg, code = corio.unix.connect(R.upath)
  else
    local a, b = corio.socketpair()
    check(a and b, "socketpair returned %s", show(a, b))
    R.all[#R.all + 1] = R.srv:spawn(R.echo, b)
    obj = a
  end
  if not obj and R.stopping and (code == "ECONNREFUSED" or code == "ECONNRESET") then return end
  check(obj, "connect (%s) failed: %s", op.kind, show(msg, code))
  R.conns[op.s] = new_conn(obj, op.kind)
end

local function split(s, parts, empty)
  local out, step = {}, math.max(1, #s // parts)
  local i = 1
  while i <= #s do
    out[#out + 1] = s:sub(i, i + step - 1)
    if empty then out[#out + 1] = "" end
    i = i + step
  end
  return out
end

function OPS.write(op)
  local c = slot(op.s)
  if not c then return end
  local seq = c.next_seq
  c.next_seq, c.fates[seq], c.lens[seq] = seq + 1, "pending", op.len
  local args = split(frame(c, seq, op.len), op.parts, op.empty)
  local r = table.pack(pcall(c.obj.write, c.obj, table.unpack(args)))
  if not r[1] then
    set_fate(c, seq, is_interrupt(r[2]) and "maybe" or "absent")
    error(r[2], 0)
  end
  if r[2] == true then set_fate(c, seq, "ok") return end
  set_fate(c, seq, r[3] == "an earlier write was interrupted" and "absent" or "maybe")
  check_fail(WRITE_CODES, r[2], r[3], r[4])
end

local function read_result(c, what, d, msg, code)
  if d ~= nil then
    check(type(d) == "string", "%s returned %s", what, show(d))
    return true
  end
  if msg == nil then at_end(c) return false end
  check_fail(READ_CODES, d, msg, code)
  return false
end

-- One read(n) on c, checked and fed to the frame model; whether data came.
local function read_feed(c, n)
  local d, msg, code = c.obj:read(n)
  if not read_result(c, "read", d, msg, code) then return false end
  feed(c, d)
  return true
end

-- Write a frame, then read until it has come back (a request and its reply).
function OPS.echo(op)
  local c = slot(op.s)
  if not c then return end
  OPS.write(op)
  local seq = c.next_seq - 1
  while c.fates[seq] == "ok" and not c.ended and (c.last < seq or (c.cur and c.cur.seq == seq)) do
    if not read_feed(c, op.n or nil) then return end
  end
end

function OPS.read(op)
  local c = slot(op.s)
  if not c then return end
  local d, msg, code = c.obj:read(op.n or nil)
  if read_result(c, "read", d, msg, code) then
    check(#d >= 1 and #d <= (op.n or 65536), "read(%s) returned %d bytes", tostring(op.n), #d)
    feed(c, d)
  end
end

function OPS.read_exact(op)
  local c = slot(op.s)
  if not c then return end
  local d, msg, code = c.obj:read_exact(op.n)
  if d == nil and msg == "unexpected end of stream" and code == "EOF" then return end
  if read_result(c, "read_exact", d, msg, code) then
    check(#d == op.n, "read_exact(%d) returned %d bytes", op.n, #d)
    feed(c, d)
  end
end

function OPS.readline(op)
  local c = slot(op.s)
  if not c then return end
  local d, msg, code = c.obj:readline(op.max or nil)
  if d == nil and msg == "line too long" and code == "EMSGSIZE" then return end
  if read_result(c, "readline", d, msg, code) then
    check(#d <= (op.max or 65536), "readline(%s) returned %d bytes", tostring(op.max), #d)
    feed_line(c, d)
  end
end

function OPS.shutdown(op)
  local c = slot(op.s)
  if not c then return end
  local r, msg, code = c.obj:shutdown()
  if r ~= true then check_fail({ ENOTCONN = true }, r, msg, code) end
end

function OPS.close(op)
  local c = slot(op.s)
  if not c then return end
  local r, msg, code = c.obj:close()
  check(r == true or (r == nil and msg == "stream is closed" and code == "EBADF"), "stream:close returned %s",
        show(r, msg, code))
end

-- Shut the sending side, read to the end: every frame written must be back.
function OPS.drain(op)
  local c = slot(op.s)
  if not c then return end
  OPS.shutdown(op)
  while read_feed(c) do end
end

-- Forget a stream: the GC must close it (checked by the fd count).
function OPS.drop(op)
  local c = slot(op.s)
  if not c then return end
  R.conns[op.s] = nil
  for i, x in ipairs(R.allconns) do
    if x == c then table.remove(R.allconns, i) break end
  end
end

function OPS.setopt(op)
  local c = slot(op.s)
  if not c then return end
  local r, msg, code = c.obj:setoption("nodelay", true)
  if c.kind == "tcp" then
    check(r == true, "setoption(nodelay) on TCP returned %s", show(r, msg, code))
  elseif r ~= true then
    check(r == nil and type(msg) == "string" and type(code) == "string" and code:match("^E%u+$"),
          "setoption returned %s", show(r, msg, code))
  end
end

function OPS.addr(op)
  local c = slot(op.s)
  if not c then return end
  local h, p, code = c.obj:peer()
  if h == nil then   -- the peer has gone
    check_fail({ ENOTCONN = true }, h, p, code)
  elseif c.kind == "tcp" then
    check(h == "127.0.0.1" and p == R.port, "peer() is %s", show(h, p))
  else
    check(type(h) == "string", "peer() is %s", show(h, p))
  end
  h, p = c.obj:addr()
  check(type(h) == "string" and (c.kind ~= "tcp" or math.type(p) == "integer"), "addr() is %s", show(h, p))
end

-- ---- UDP: datagrams "U<sock>.<seq>:" body, echoed by R.udp_echo ----

function OPS.uopen(op)
  local sock, msg, code
  if op.connected then
    sock, msg, code = corio.udp.connect("127.0.0.1", R.uport)
  else
    sock, msg, code = corio.udp.bind("127.0.0.1", 0)
  end
  check(sock, "udp open failed: %s", show(msg, code))
  R.nudp = R.nudp + 1
  local u = { obj = sock, id = R.nudp, connected = op.connected, seq = 0, port = select(2, sock:addr()) }
  R.udp[op.s] = u
  R.alludp[#R.alludp + 1] = u
  R.usocks[u.id] = u
end

function OPS.usend(op)
  local u = R.udp[op.s]
  if not u then return end
  u.seq = u.seq + 1
  local key = u.id .. "." .. u.seq
  local head = "U" .. key .. ":"
  local dg = head .. body({ id = u.id + 1000 }, u.seq, math.max(0, op.len - #head))
  R.dgrams[key] = dg
  local r, msg, code
  if u.connected then
    r, msg, code = u.obj:send(dg)
  else
    r, msg, code = u.obj:sendto(dg, "127.0.0.1", R.uport)
  end
  if r == true then return end
  R.dgrams[key] = nil
  if #dg > 65507 then
    check(r == nil and code == "EMSGSIZE", "sending %d bytes returned %s", #dg, show(r, msg, code))
  else
    check_fail({ EBADF = true, ECONNREFUSED = R.stopping }, r, msg, code)
  end
end

function OPS.urecv(op)
  local u = R.udp[op.s]
  if not u then return end
  local max = op.max or 65535
  local d, host, port, cut
  if u.connected then
    d, host, port = u.obj:recv(op.max or nil)
    if d then cut, host, port = host, nil, nil end
  else
    d, host, port, cut = u.obj:recvfrom(op.max or nil)
  end
  if d == nil then return check_fail({ EBADF = true, ECONNREFUSED = R.stopping }, d, host, port) end
  local id, key = d:match("^U((%d+)%.%d+):")
  key, id = id, tonumber(key)
  local full = key and R.dgrams[key]
  check(full, "received a datagram that was not sent: %s", show(d:sub(1, 20)))
  check(id == u.id or (R.usocks[id] and R.usocks[id].port == u.port),
        "datagram %s (socket %d) arrived on socket %d", key, id, u.id)
  R.dgrams[key] = nil   -- a datagram comes at most once
  COUNT.dgrams = COUNT.dgrams + 1
  check(d == full:sub(1, #d) and #d == math.min(#full, max), "datagram %s damaged: %d of %d bytes, max %d",
        key, #d, #full, max)
  check((cut == true) == (#full > max), "datagram %s of %d bytes, max %d: cut is %s", key, #full, max, show(cut))
  if not u.connected then
    check(host == "127.0.0.1" and port == R.uport, "recvfrom gave sender %s", show(host, port))
  end
end

function OPS.uclose(op)
  local u = R.udp[op.s]
  if not u then return end
  local r, msg, code = u.obj:close()
  check(r == true or (r == nil and msg == "socket is closed" and code == "EBADF"), "udp close returned %s",
        show(r, msg, code))
end

-- ---- fd passing over a socketpair of its own ----

local KIND_OF = { listener = "^corio%.Listener", udp = "^corio%.UdpSocket", stream = "^corio%.Stream" }

function OPS.fdpass(op)
  local a, b = corio.socketpair()
  local _ <close> = a
  local _ <close> = b
  local obj, peer
  if op.what == "listener" then
    obj = assert(corio.tcp.listen("127.0.0.1", 0))
  elseif op.what == "udp" then
    obj = assert(corio.udp.bind("127.0.0.1", 0))
  else
    obj, peer = corio.socketpair()
  end
  local _ <close> = obj
  local _ <close> = peer
  local r = table.pack(a:send_fd(obj, op.data))
  check(r[1] == true and r.n == 1, "send_fd returned %s", show(table.unpack(r, 1, r.n)))
  local fd, data = b:recv_fd()
  check(math.type(fd) == "number" or math.type(fd) == "integer", "recv_fd returned %s", show(fd, data))
  local x <close> = corio.adopt(fd)
  COUNT.fds = COUNT.fds + 1
  check(x and tostring(x):match(KIND_OF[op.what]), "adopt gave %s for a %s", show(x), op.what)
  check(data == (op.data == "" and "\0" or op.data), "recv_fd data %s, sent %s", show(data), show(op.data))
  if op.what ~= "stream" then
    local h1, p1 = obj:addr()
    local h2, p2 = x:addr()
    check(h1 == h2 and p1 == p2, "adopted %s has address %s, the original %s", op.what, show(h2, p2), show(h1, p1))
  end
end

-- ---- running programs ----

local CLOSED_STREAM = "^stream:[%w_]+: stream is closed$"
local OTHER_READER = "^stream:[%w_]+: another task is reading this stream$"
local READ_ERRS = { CLOSED_STREAM, OTHER_READER }
-- Documented Lua errors each op may raise, given a random program.
local ALLOWED = {
  read = READ_ERRS, read_exact = READ_ERRS, readline = READ_ERRS, drain = READ_ERRS,
  echo = { CLOSED_STREAM, OTHER_READER, "^stream:write: another task is writing this stream$" },
  write = { CLOSED_STREAM, "^stream:write: another task is writing this stream$" },
  shutdown = { CLOSED_STREAM }, setopt = { CLOSED_STREAM }, addr = { CLOSED_STREAM },
  send = { "^channel:send: channel is closed$" },
  try_send = { "^channel:try_send: channel is closed$" },
  select = { "^channel:send_case: channel is closed$" },
  gspawn = { "^group:spawn: group is closed$" },
  usend = { "^udp:send%a*: socket is closed$" },
  urecv = { "^udp:recv%a*: socket is closed$" },
}
-- Ops whose error may be a child's deliberate failure.
local CHILD_ERR = { gwait = true, gclose = true, gnext = true }

local function allowed(op, e)
  if e == MARKER and CHILD_ERR[op.k] then return true end
  if type(e) ~= "string" then return false end
  e = e:gsub("^[%w_%./%-]+:%d+: ", "")   -- luaL_error's position of the caller
  for _, pat in ipairs(ALLOWED[op.k] or {}) do
    if e:match(pat) then return true end
  end
  return false
end

-- Cheap invariants, after every op.
local function step_check()
  local st = corio.stats()
  if #R.all <= 200 or R.ops % 100 == 0 then   -- (linear in the tasks: not after every op of a big round)
    local live = 0
    for _, t in ipairs(R.all) do
      local s = t:status()
      if s == "ready" or s == "suspended" then live = live + 1 end
    end
    check(st.tasks >= live and st.tasks <= #R.all, "stats().tasks is %d: %d tasks are live of %d", st.tasks,
          live, #R.all)
  end
  check(st.ready >= 0 and st.ready <= st.tasks and st.timers >= 0 and st.io_waiting >= 0 and
        st.channel_waiting >= 0 and waitq.count() >= 0, "bad stats: ready %d timers %d io %d chan %d waitq %d",
        st.ready, st.timers, st.io_waiting, st.channel_waiting, waitq.count())
  for i, s in ipairs(R.sem) do
    local a = s:available()
    check(a >= 0 and a + R.held[i] <= R.total[i], "semaphore %d: %d available + %d held > %d given", i, a,
          R.held[i], R.total[i])
  end
  check(R.held.m == 0 or R.mutex:locked(), "mutex held by a task but not locked")
  check(R.held.m <= 1, "mutex held %d times", R.held.m)
  for i, ch in ipairs(R.ch) do
    local cap = ch:capacity()
    check(#ch >= 0 and (cap == nil or #ch <= cap), "channel %d holds %d values, capacity %s", i, #ch, tostring(cap))
  end
end

-- The op, under its guard deadline if it has one.
local function call(op, ctx)
  if not op.guard then return OPS[op.k](op, ctx) end
  local r = table.pack(corio.timeout(op.guard, OPS[op.k], op, ctx))
  check(r[1] == true or (r[1] == false and r[2] == "timeout" and r.n == 2), "corio.timeout returned %s",
        show(table.unpack(r, 1, r.n)))
  if not r[1] then COUNT.timeouts = COUNT.timeouts + 1 end
end

local function run_op(op, ctx)
  local ok, e = pcall(call, op, ctx)
  ctx.waiting = nil
  if ok or allowed(op, e) then return end
  if is_interrupt(e) or e == MARKER or is_failure(e) then error(e, 0) end
  fail("%s raised: %s", show_op(op), tostring(e))
end

function exec(prog, ctx)
  local outer = ctx.at
  for _, op in ipairs(prog) do
    if R.tearing then return end
    ctx.at = op
    R.ops = R.ops + 1
    run_op(op, ctx)
    step_check()
  end
  ctx.at = outer
end

-- ===================================================================
-- The round: echo servers, the main program, settling, teardown.
-- ===================================================================

-- Echo a stream until its end (read sizes vary per connection).
local ECHO_READS = { 100, 1000, 4096, 16384, 65536 }
local function echo(s)
  local s <close> = s
  R.necho = R.necho + 1
  local k = R.necho
  while true do
    k = k + 1
    local d, msg, code = s:read(ECHO_READS[k % #ECHO_READS + 1])
    if not d then
      if msg then check_fail(READ_CODES, d, msg, code) end
      return
    end
    local ok, m2, c2 = s:write(d)
    if not ok then return check_fail(WRITE_CODES, ok, m2, c2) end
  end
end

local function acceptor(ls)
  while true do
    local s, msg, code = ls:accept()
    if not s then
      check(msg == "listener is closed" and code == "EBADF", "accept returned %s", show(s, msg, code))
      return
    end
    R.all[#R.all + 1] = R.srv:spawn(echo, s)
  end
end

local function udp_echo(u)
  while true do
    local d, host, port = u:recvfrom()
    if not d then return check_fail({ EBADF = true }, d, host, port) end
    local ok, msg, code = u:sendto(d, host, port)
    if not ok then return check_fail({ EBADF = true, ECONNREFUSED = true }, ok, msg, code) end
  end
end

-- Listeners and their tasks, in the group R.srv.
local function start_servers(round)
  local opts = { max_connections = G.max_conn }
  R.ls = assert(corio.tcp.listen("127.0.0.1", 0, opts))
  R.port = select(2, R.ls:addr())
  R.upath = ("@corio-fuzz-%d-%d"):format(corio.getpid(), round)
  R.uls = assert(corio.unix.listen(R.upath, opts))
  R.usock = assert(corio.udp.bind("127.0.0.1", 0))
  R.uport = select(2, R.usock:addr())
  R.srv = corio.group()
  R.echo = echo
  for _, t in ipairs({ R.srv:spawn(acceptor, R.ls), R.srv:spawn(acceptor, R.uls), R.srv:spawn(udp_echo, R.usock) }) do
    R.all[#R.all + 1] = t
  end
end

local function stop_servers()
  local srv = R.srv
  if not srv then return end
  R.srv = nil
  R.tearing, R.stopping = true, true   -- from now on a peer may vanish at any point
  close_twice(R.ls, "listener")
  close_twice(R.uls, "listener")
  close_twice(R.usock, "socket")
  srv:close()
end

function live_summary()
  local out = {}
  for _, t in ipairs(R.all) do
    if #out == 40 then out[#out + 1] = "  ..." break end
    if not FINAL[t:status()] then
      local ctx = R.info[t]
      out[#out + 1] = ("  %s %s%s"):format(ctx and ctx.name or "server task", t:status(),
                                           ctx and ctx.at and (" in " .. show_op(ctx.at)) or "")
    end
  end
  return table.concat(out, "\n")
end

-- Fires if the round is still running after ROUND_T: a hang.
local function watchdog()
  corio.sleep(ROUND_T)
  note("round still running after %d s (tearing down: %s); live tasks:\n%s", ROUND_T, tostring(R.tearing),
       live_summary())
  report("hang")
  os.exit(1, false)
end

-- Let the tasks run until they are all done or make no progress.
-- Once no task is ready (all parked): a task still waiting for what has
-- already happened lost its wake-up. (ctx.waiting: what an op waits for.)
local function check_parked()
  if corio.stats().ready ~= 0 then return end
  for _, t in ipairs(R.tasks) do
    local ctx = R.info[t]
    local w = ctx and t:status() == "suspended" and ctx.waiting
    if w then COUNT.parked = COUNT.parked + 1 end
    if not w then
    elseif w.k == "join" then
      check(not FINAL[w.t:status()], "lost wake-up: %s waits to join a task that is %s", ctx.name, w.t:status())
    elseif w.k == "recv" then
      check(#w.ch == 0 and not w.ch:is_closed(), "lost wake-up: %s waits in recv on a channel %s holding %d",
            ctx.name, w.ch:is_closed() and "closed" or "open", #w.ch)
    elseif w.k == "send" then
      local cap = w.ch:capacity()
      check(not w.ch:is_closed() and cap and #w.ch >= cap, "lost wake-up: %s waits in send on a channel %s "
            .. "holding %d of %s", ctx.name, w.ch:is_closed() and "closed" or "open", #w.ch, tostring(cap))
    elseif w.k == "acquire" then
      check(w.s:waiting() > 1 or w.s:available() < w.n, "lost wake-up: %s waits alone for %d permits, %d free",
            ctx.name, w.n, w.s:available())
    elseif w.k == "lock" then
      check(R.mutex:waiting() > 1 or R.mutex:locked(), "lost wake-up: %s waits alone for an unlocked mutex", ctx.name)
    end
  end
end

local function settle()
  local t0, last = corio.now(), -1
  while corio.now() - t0 < SETTLE_T and R.ops ~= last do
    check_parked()
    local all_done = true
    for _, t in ipairs(R.tasks) do
      if not FINAL[t:status()] then all_done = false break end
    end
    if all_done then return end
    last = R.ops
    corio.sleep(0.01)
  end
end

-- Cancel every task, wait for all, close what is left.
local function teardown()
  R.tearing = true
  local i = 1
  while i <= #R.tasks do
    R.tasks[i]:cancel()
    i = i + 1
  end
  i = 1
  while i <= #R.tasks do
    pcall(R.tasks[i].join, R.tasks[i])
    check(FINAL[R.tasks[i]:status()], "task not finished after join: %s", R.tasks[i]:status())
    i = i + 1
  end
  stop_servers()
end

local function main_task(round)
  R.all[#R.all + 1] = corio.current()
  local ctx = { name = "main", children = {}, groups = {}, gorder = {}, gclosed = {}, permits = {} }
  R.info[corio.current()] = ctx
  local wd = G.mode ~= "deadlock" and corio.spawn(watchdog)
  R.all[#R.all + 1] = wd or nil
  local _ <close> = setmetatable({}, { __close = stop_servers })   -- also when main raises
  if G.io then
    start_servers(round)
    for s = 1, G.nslot do OPS.connect({ s = s, kind = G.kinds[s] }) end
    for s = 1, G.nudp do OPS.uopen({ s = s, connected = G.connected[s] }) end
  end
  for i = 2, #G.lanes do start(G.lanes[i], "lane " .. string.char(96 + i), spawn_fn, false) end
  if G.mode == "deadlock" then return task_main(G.lanes[1], ctx) end
  local ok, e = pcall(corio.timeout, PROG_T, task_main, G.lanes[1], ctx)
  if not ok and e ~= MARKER then error(e, 0) end
  if G.mode == "raise" then error(MARKER, 0) end
  ctx.at = nil
  settle()
  teardown()
  wd:cancel()
end

-- Close the streams and sockets of the round (outside run), checking
-- that a second close gives the documented result.
local function close_all()
  for _, c in ipairs(R.allconns) do close_twice(c.obj, "stream") end
  for _, u in ipairs(R.alludp) do close_twice(u.obj, "socket") end
  for _, ch in ipairs(R.ch) do
    if not ch:is_closed() then close_twice(ch, "channel") end
  end
end

-- Every value sent is received exactly once: drain what is buffered.
local function check_values()
  for _, ch in ipairs(R.ch) do
    while true do
      local v = ch:try_recv()
      if v == nil then break end
      got(v)
    end
  end
  for id, st in pairs(R.sent) do
    if st == "ok" and not R.got[id] then note("value %d was sent and never received", id) end
  end
end

local function fd_list()
  local p = io.popen("ls -l /proc/" .. corio.getpid() .. "/fd 2>/dev/null")
  local out = p:read("a")
  p:close()
  local fds = {}
  for fd, target in out:gmatch(" (%d+) %-> ([^\n]*)") do fds[tonumber(fd)] = target end
  return fds
end

local BASE_FDS

local function check_fds()
  local now = fd_list()
  local extra = {}
  for fd, target in pairs(now) do
    if not BASE_FDS[fd] and not target:match("^pipe:") then extra[#extra + 1] = fd .. " -> " .. target end
  end
  if #extra > 0 then note("fds left open after the round: %s", table.concat(extra, ", ")) end
end

local function check_stats()
  local st = corio.stats()
  local bad = st.tasks ~= 0 or st.ready ~= 0 or st.timers ~= 0 or st.io_waiting ~= 0 or st.channel_waiting ~= 0
  if bad or waitq.count() ~= 0 then
    note("stats not back to zero: tasks %d ready %d timers %d io_waiting %d channel_waiting %d waitq %d",
         st.tasks, st.ready, st.timers, st.io_waiting, st.channel_waiting, waitq.count())
  end
  for _, t in ipairs(R.all) do
    if not FINAL[t:status()] then note("task left %s after the round", t:status()) break end
  end
  for i, s in ipairs(R.sem) do
    if s:available() ~= R.total[i] or s:waiting() ~= 0 then
      note("semaphore %d: %d available of %d, %d waiting", i, s:available(), R.total[i], s:waiting())
    end
  end
  if R.mutex:locked() or R.mutex:waiting() ~= 0 then note("mutex left locked or waited for") end
end

local function new_round_state(round)
  R = { round = round, failures = {}, tasks = {}, all = {}, info = setmetatable({}, { __mode = "k" }),
        ch = {}, sent = {}, got = {}, nextv = 0, sem = {}, total = {}, held = {}, nfy = {}, groups = {},
        conns = {}, allconns = {}, nconn = 0, udp = {}, alludp = {}, nudp = 0, usocks = {}, dgrams = {},
        necho = 0, ops = 0, block = G.block, t0 = os.time() }
  for i, cap in ipairs(G.caps) do R.ch[i] = corio.channel(cap ~= "unbounded" and cap or nil) end
  for i, n in ipairs(G.permits) do R.sem[i], R.total[i], R.held[i] = corio.semaphore(n), n, 0 end
  for i = 1, G.nnfy do R.nfy[i] = corio.notify() end
  R.mutex, R.held.m, R.total.m = corio.mutex(), 0, 1
end

-- "step" mode: the host drives the loop with corio.step, as an embedder
-- would, waiting for the next timer at most (and 10 ms for I/O).
local function drive_steps(round)
  local main = corio.spawn(main_task, round)
  while corio.step(math.min(corio.next_timeout() or 0.01, 0.01)) > 0 do
    if main:status() == "failed" then   -- no run to cancel the others: do it here
      for _, t in ipairs(R.tasks) do t:cancel() end
    end
  end
  if main:status() ~= "done" then return false, main:traceback() or main:status() end
  return true
end

-- Run round r; returns its op count (failures are in R.failures).
local function run_round(round)
  gen_round(SEED, round)
  new_round_state(round)
  local ok, err
  if G.mode == "step" then ok, err = drive_steps(round) else ok, err = pcall(corio.run, main_task, round) end
  if G.mode == "raise" then
    if ok or not tostring(err):find(MARKER, 1, true) then note("run did not raise the main error: %s", tostring(err)) end
  elseif G.mode == "deadlock" then
    if not ok and not tostring(err):match("^corio%.run: deadlock") and not tostring(err):find(MARKER, 1, true) then note("run raised: %s", tostring(err)) end
  elseif not ok and not is_failure(err) then
    note("run raised: %s", tostring(err))
  end
  close_all()
  pcall(check_values)
  check_stats()
  R.srv, R.conns, R.allconns, R.udp, R.alludp = nil, nil, nil, nil, nil
  collectgarbage()
  collectgarbage()
  -- a stream closed by __gc outside run is closed in the kernel by the
  -- loop's next turn (__gc cannot settle closes itself: it may run inside
  -- the loop); corio.step is that turn
  corio.step()
  check_fds()
  return R.ops
end

local BACKEND = corio.backend()

function report(kind)
  local out = io.stderr
  out:write(("\nFUZZ FAILURE (%s) on %s: seed %d, round %d\n"):format(kind, BACKEND, SEED, R.round))
  for i, f in ipairs(R.failures) do
    if i > 10 then out:write(("  ... and %d more\n"):format(#R.failures - 10)) break end
    out:write("  " .. (f.tb or f.msg):gsub("\n", "\n    ") .. "\n")
  end
  out:write(("reproduce: make fuzz FUZZ_SEED=%d FUZZ_ROUND=%d FUZZ_BACKENDS=%s (or: CORIO_BACKEND=%s FUZZ_SEED=%d "
             .. "FUZZ_ROUND=%d lua5.4 spec/fuzz/api_fuzz.lua; FUZZ_FROM=1 runs the rounds before it too)\n")
            :format(SEED, R.round, BACKEND, BACKEND, SEED, R.round))
  out:write("program:\n" .. show_round(G) .. "\n")
  out:flush()
end

-- ===================================================================

if DUMP then
  gen_round(SEED, ONLY or 1)
  print(("seed %d round %d: %s"):format(SEED, ONLY or 1, show_round(G)))
  os.exit(0)
end

corio.on_error(function(tb, _, err)
  if err ~= MARKER and not is_failure(err) then note("unjoined task error: %s", tb) end
end)

-- warm up once (the runtime's own fds: ring or epoll, eventfd...)
corio.run(function() corio.sleep(0) end)
BASE_FDS = fd_list()

local t0 = os.clock()
local wall0 = corio.now()
local rounds, ops, first = 0, 0, ONLY and not FROM and ONLY or 1
local mem_base
-- the rounds to run: first.., until time is up; or round ONLY (after
-- 1..ONLY-1 with FUZZ_FROM), REPEAT times (timing differs between runs)
local function next_round(prev)
  if not ONLY then return corio.now() - wall0 < SECONDS and prev + 1 or nil end
  if prev < ONLY then return prev + 1 end
  return rounds < REPEAT + ONLY - first and ONLY or nil
end
local round = next_round(first - 1)
while round do
  if STATE then
    local f = io.open(STATE, "w")
    if f then f:write(("%d %d %s\n"):format(SEED, round, BACKEND)) f:close() end
  end
  ops = ops + run_round(round)
  rounds = rounds + 1
  if VERBOSE then print(("round %d: %s, %d ops, mem %d"):format(round, G.mode, R.ops, corio.stats().memory_bytes)) end
  if #R.failures > 0 then
    report("check")
    os.exit(1)
  end
  if rounds == 20 then mem_base = corio.stats().memory_bytes end
  round = next_round(round)
end

-- the Lua state's memory (Lua heap and corio's buffers) must not creep
local mem = corio.stats().memory_bytes
if mem_base and mem > mem_base + 8 * 1024 * 1024 then
  io.stderr:write(("FUZZ FAILURE on %s: seed %d: memory grew from %d (round 20) to %d bytes (round %d)\n")
    :format(BACKEND, SEED, mem_base, mem, first + rounds - 1))
  os.exit(1)
end
print(("fuzz %s: %d rounds, %d ops, seed %d, %.1f s (%.1f s CPU), memory %d KiB (round 20: %s); checked %d echo "
       .. "frames (%d bytes), %d stream ends, %d channel values, %d datagrams, %d fds passed, %d deadlines fired, "
       .. "%d parked waits")
  :format(BACKEND, rounds, ops, SEED, corio.now() - wall0, os.clock() - t0, mem // 1024,
          mem_base and (mem_base // 1024 .. " KiB") or "-", COUNT.frames, COUNT.bytes, COUNT.ends, COUNT.values,
          COUNT.dgrams, COUNT.fds, COUNT.timeouts, COUNT.parked))
