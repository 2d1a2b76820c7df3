-- bench/soak/client.lua PORT CONNS SEED STATSFILE MAX_SECONDS: the soak
-- test's client. CONNS connections to bench/soak/server.lua, each sending
-- requests of random size (1 B to 64 KiB, mostly small) with random idle
-- spells between them, checking every echoed byte and timing each request;
-- a connection now and then closes and a new one takes its place, some of
-- them in the middle of a request.
--
-- SIGUSR1 appends a line of key=value counters to STATSFILE, with the
-- latency percentiles of the requests done since the previous line; SIGTERM
-- (or MAX_SECONDS) stops it: every connection ends its request and closes,
-- then a "final=1" line.
local corio = require "corio"

local port, CONNS, SEED, STATS, MAX_S =
  tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3]), arg[4], tonumber(arg[5])
assert(port and CONNS and SEED and STATS and MAX_S,
  "usage: client.lua PORT CONNS SEED STATSFILE MAX_SECONDS")
math.randomseed(SEED)

local REQUEST_LIMIT = 10   -- seconds; a request slower than that is a stall
local stats = assert(io.open(STATS, "a"))
local n = { reqs = 0, bytes = 0, errs = 0, mismatch = 0, stalls = 0, connects = 0,
            aborts = 0, live = 0 }
local lat, lat_n = {}, 0   -- this interval's latencies, microseconds

-- 128 KiB of random bytes; a payload is a slice of it at a random offset.
local block = (function()
  local parts = {}
  for i = 1, 16384 do parts[i] = string.pack("<j", math.random(0)) end
  return table.concat(parts)
end)()

-- 70 % up to 128 B, 25 % up to 4 KiB, 5 % up to 64 KiB.
local function random_size()
  local p = math.random()
  if p < 0.70 then return math.random(1, 128) end
  if p < 0.95 then return math.random(129, 4096) end
  return math.random(4097, 65536)
end

-- 40 % none, 45 % up to 100 ms, 15 % from 100 ms to 2 s.
local function random_idle()
  local p = math.random()
  if p < 0.40 then return 0 end
  if p < 0.85 then return math.random() * 0.1 end
  return 0.1 + math.random() * 1.9
end

local function fail(kind, id, what)
  n[kind] = n[kind] + 1
  if n[kind] <= 10 then
    io.stderr:write(("client conn %d %s: %s\n"):format(id, kind, tostring(what)))
  end
end

-- One request and its echo; false when the connection cannot go on.
local function request(s, id, seq)
  local size = random_size()
  local off = math.random(1, #block - size + 1)
  local payload = block:sub(off, off + size - 1)
  local hdr = size .. " " .. seq
  local t0 = corio.now()
  local ok, msg = s:write(hdr, "\n", payload)
  if not ok then fail("errs", id, "write: " .. tostring(msg)); return false end
  local line, msg2 = s:readline()
  if not line then fail("errs", id, "readline: " .. (msg2 or "end of stream")); return false end
  local back, msg3 = s:read_exact(size)
  if not back then fail("errs", id, "read_exact: " .. tostring(msg3)); return false end
  lat_n = lat_n + 1
  lat[lat_n] = (corio.now() - t0) * 1e6 // 1
  if line ~= hdr or back ~= payload then
    fail("mismatch", id, ("request %s: got %d bytes, header %q"):format(hdr, #back, line:sub(1, 40)))
    return false
  end
  n.reqs, n.bytes = n.reqs + 1, n.bytes + size
  return true
end

-- A header and part of the payload, then the caller closes.
local function abort(s)
  local size = math.random(2, 65536)
  s:write(size, " 0\n", block:sub(1, size // 2))
  n.aborts = n.aborts + 1
end

-- One connection's life: up to ~100 requests (1 % chance to end after each),
-- 5 % of them cut short in the middle of a request.
local function session(id, stop, version)
  local s <close>, msg = corio.tcp.connect("127.0.0.1", port)
  if not s then fail("errs", id, "connect: " .. tostring(msg)); corio.sleep(0.1); return end
  n.connects, n.live = n.connects + 1, n.live + 1
  local seq = 0
  while true do
    seq = seq + 1
    local ok, went_on = corio.timeout(REQUEST_LIMIT, request, s, id, seq)
    if not ok then fail("stalls", id, "request " .. seq .. " took over 10 s") end
    if not (ok and went_on) then break end
    if math.random() < 0.01 then
      if math.random() < 0.05 then abort(s) end
      break
    end
    local idle = random_idle()
    if idle > 0 and corio.select(stop:changed_case(version), corio.after(idle)) == 1 then
      break
    end
    if stop:get() then break end
  end
  n.live = n.live - 1
end

local function connection(id, stop)
  local _, version = stop:get()
  corio.sleep(math.random() * 0.5)          -- spread the first connects
  while not stop:get() do session(id, stop, version) end
end

-- p-th percentile of the interval's latencies (sorted in place).
local function percentile(p)
  if lat_n == 0 then return 0 end
  return lat[math.max(1, math.ceil(lat_n * p))]
end

local function sample(extra)
  for i = lat_n + 1, #lat do lat[i] = nil end
  table.sort(lat)
  stats:write(("c_reqs=%d c_bytes=%d c_done=%d c_p50_us=%.0f c_p99_us=%.0f c_max_us=%.0f "
    .. "c_errs=%d c_mismatch=%d c_stalls=%d c_connects=%d c_aborts=%d c_live=%d%s\n"):format(
    n.reqs, n.bytes, lat_n, percentile(0.50), percentile(0.99), percentile(1),
    n.errs, n.mismatch, n.stalls, n.connects, n.aborts, n.live, extra or ""))
  stats:flush()
  lat_n = 0
end

corio.run(function()
  local sig <close> = assert(corio.signal("USR1", "TERM"))
  local stop = corio.watch(false)
  local conns = corio.group()
  for id = 1, CONNS do conns:spawn(connection, id, stop) end
  local limit = corio.after(MAX_S)
  while true do
    local which, name = corio.select(sig:recv_case(), limit)
    if which == 2 or name == "TERM" then break end
    sample()
  end
  stop:set(true)
  conns:wait()
  sample(" final=1")
end)
