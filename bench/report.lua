-- Turn the raw results of bench/run.sh into bench/REPORT.md and PNG plots.
-- usage: lua5.4 bench/report.lua RESULTS_DIR BENCH_DIR
local OUT, BDIR = arg[1] or "bench/results", arg[2] or "bench"

local lib = dofile((arg[0]:match("^(.*)/") or ".") .. "/lib.lua")
local parse_line, median, fmt, fmt_int = lib.parse_line, lib.median, lib.fmt, lib.fmt_int
local ratio, fmt_ratio = lib.ratio, lib.fmt_ratio

-- ---------------------------------------------------------------- input

local function read_lines(path)
  local rows = {}
  local f = io.open(path)
  if not f then return rows end
  for line in f:lines() do
    if line:match("%S") then rows[#rows + 1] = parse_line(line) end
  end
  f:close()
  return rows
end

local info = {}
do
  local f = io.open(OUT .. "/info.txt")
  if f then
    for line in f:lines() do
      local k, v = line:match("^(%w+)=(.*)$")
      if k then info[k] = v end
    end
    f:close()
  end
end

local raw = read_lines(OUT .. "/raw.txt")
local status = read_lines(OUT .. "/status.txt")
local micro = read_lines(OUT .. "/micro.txt")
local idle = read_lines(OUT .. "/idle.txt")

local na_reason = {}          -- "name:kind" -> reason
for _, s in ipairs(status) do
  if s.status == "n/a" then na_reason[s.server] = (s.reason or "?"):gsub("_", " ") end
end

-- group raw runs: key kind|scen|conns|depth -> server -> list of rows
local groups = {}
for _, r in ipairs(raw) do
  local key = table.concat({ r.kind, r.scen, r.conns, r.depth }, "|")
  groups[key] = groups[key] or {}
  groups[key][r.server] = groups[key][r.server] or {}
  table.insert(groups[key][r.server], r)
end

-- medians of one (scenario, server): nil when it has no successful run
local function stats(kind, scen, conns, depth, server)
  local g = groups[table.concat({ kind, scen, tostring(conns), tostring(depth) }, "|")]
  local rows = g and g[server]
  if not rows then return nil end
  local acc = { rps = {}, p50_us = {}, p99_us = {}, p999_us = {}, cpu_us_per_req = {}, foreign_pct = {}, server_util_pct = {},
                load_foreign_pct = {}, load_util_pct = {} }
  local bad, runs = 0, 0
  for _, r in ipairs(rows) do
    runs = runs + 1
    local rps = tonumber(r.rps)
    local errs = (tonumber(r.verify_errors) or 0) + (tonumber(r.conn_errors) or 0) + (tonumber(r.errors) or 0)
    if errs > 0 or r.rc ~= "0" then bad = bad + 1 end
    if rps and rps > 0 then
      for k, list in pairs(acc) do
        local v = tonumber(r[k])
        if v then list[#list + 1] = v end
      end
    end
  end
  if #acc.rps == 0 then return { runs = runs, bad = bad } end
  local m = { runs = runs, bad = bad, n = #acc.rps }
  for k, list in pairs(acc) do m[k] = median(list) end
  return m
end

local ECHO_SERVERS = { "corio-uring", "corio-epoll", "c-uring", "c-epoll", "tokio", "luv", "cqueues", "node" }
local HTTP_SERVERS = { "corio-uring", "corio-epoll", "tokio", "node", "nginx" }
local LABEL = {
  ["corio-uring"] = "corio (io_uring)", ["corio-epoll"] = "corio (epoll)",
  ["c-uring"] = "raw C liburing", ["c-epoll"] = "raw C epoll",
  tokio = "Tokio current_thread", luv = "luv (Lua 5.4)", cqueues = "cqueues (Lua 5.4)",
  node = "node", nginx = "nginx",
}

-- reference corio for ratios: io_uring if it ran, else epoll
local function corio_ref(kind, scen, conns, depth)
  for _, s in ipairs({ "corio-uring", "corio-epoll" }) do
    local m = stats(kind, scen, conns, depth, s)
    if m and m.rps then return m, s end
  end
  return nil
end

local function split(s)
  local t = {}
  for w in (s or ""):gmatch("[^%s%[%]]+") do t[#t + 1] = tonumber(w) or w end
  return t
end
local params = {}
for k, v in (info.params or ""):gmatch("([%w_]+)=(%S+)") do params[k] = v end
local echo_conns = split((info.params or ""):match("echo_conns=%[(.-)%]") or "10 100 1000")
local http_conns = split((info.params or ""):match("http_conns=%[(.-)%]") or "10 100 1000")
local pipe_conns, pipe_depth = (params.pipelined or "100x16"):match("(%d+)x(%d+)")

local md = {}
local function w(...) md[#md + 1] = table.concat({ ... }) end

local function server_table(title, kind, scen, conns, depth, servers, note)
  w("### ", title, "\n")
  if note then w(note, "\n") end
  local ref, refname = corio_ref(kind, scen, conns, depth)
  w("| server | req/s (median) | ÷ ", refname and LABEL[refname] or "corio",
    " | p50 µs | p99 µs | p99.9 µs | server CPU µs/req | busy % server / load core | other load % server / load core | runs |")
  w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for _, s in ipairs(servers) do
    local m = stats(kind, scen, conns, depth, s)
    if m and m.rps then
      local flag = m.bad > 0 and (" ⚠ " .. m.bad .. " run(s) with errors") or ""
      w("| ", LABEL[s], " | ", fmt_int(m.rps), " | ", fmt_ratio(ratio(m.rps, ref and ref.rps)),
        " | ", fmt(m.p50_us), " | ", fmt(m.p99_us), " | ", fmt(m.p999_us), " | ",
        fmt(m.cpu_us_per_req, 2), " | ", fmt(m.server_util_pct, 0), " / ", fmt(m.load_util_pct, 0), " | ",
        fmt(m.foreign_pct, 0), " / ", fmt(m.load_foreign_pct, 0), " | ", m.n, "/", m.runs, flag, " |")
    else
      local why = na_reason[s .. ":" .. kind] or (m and "no successful run") or "not run"
      w("| ", LABEL[s], " | n/a | n/a | | | | | | | ", why, " |")
    end
  end
  w("")
end

-- ---------------------------------------------------------------- report
w("# corio benchmark report\n")
w("Generated by `bench/run.sh` on ", info.date or "?", ". Each server runs pinned to CPU ",
  params.server_cpu or "1", ", the load generator to CPU ", params.load_cpu or "0",
  "; servers alternate within each round and every figure is the median over rounds. ",
  "The machine is shared and noisy: compare ratios, not absolute numbers.\n")
w("## Machine and versions\n")
w("| item | value |")
w("|---|---|")
for _, k in ipairs({ "nproc", "cpu", "mem", "kernel", "os", "gcc", "lua", "liburing", "luv", "cqueues",
                     "tokio", "node", "nginx", "wrk", "corio", "params" }) do
  if info[k] then w("| ", k, " | ", info[k], " |") end
end
w("")

-- targets ---------------------------------------------------------------
local targets = {}
local function echo_target(label, scen, conns, depth, peer, need)
  local ref = corio_ref("echo", scen, conns, depth)
  local m = stats("echo", scen, conns, depth, peer)
  local r = ratio(ref and ref.rps, m and m.rps)
  targets[#targets + 1] = { label, string.format(">= %.2fx", need), fmt_ratio(r),
    r and (r >= need and "met" or "missed") or "n/a" }
end
-- corio's figure (key, lower is better) no higher than Tokio's
local function echo_no_higher(label, conns, key, unit, prec)
  local a = corio_ref("echo", "pingpong", conns, 1)
  local b = stats("echo", "pingpong", conns, 1, "tokio")
  a, b = a and a[key], b and b[key]
  local verdict = "n/a"
  if a and b then
    verdict = a <= b and "met" or string.format("missed (+%.1f %%)", (a / b - 1) * 100)
  end
  targets[#targets + 1] = { label, "<= Tokio's",
    a and b and string.format("%s vs %s %s", fmt(a, prec), fmt(b, prec), unit) or "n/a", verdict }
end
for _, c in ipairs({ 100, 1000 }) do
  echo_target("echo ping-pong " .. c .. " conns: corio ÷ Tokio", "pingpong", c, 1, "tokio", 1.0)
  echo_target("echo ping-pong " .. c .. " conns: corio ÷ raw C io_uring", "pingpong", c, 1, "c-uring", 0.95)
  echo_target("echo ping-pong " .. c .. " conns: corio ÷ luv", "pingpong", c, 1, "luv", 1.2)
  echo_target("echo ping-pong " .. c .. " conns: corio ÷ cqueues", "pingpong", c, 1, "cqueues", 1.3)
  echo_no_higher("echo ping-pong " .. c .. " conns: server CPU per request", c, "cpu_us_per_req", "µs", 2)
  echo_no_higher("echo ping-pong " .. c .. " conns: p99 latency", c, "p99_us", "µs", 0)
end
if pipe_conns then
  echo_target("echo pipelined " .. pipe_depth .. " deep: corio ÷ Tokio", "pipelined", pipe_conns, pipe_depth, "tokio", 1.05)
  echo_target("echo pipelined " .. pipe_depth .. " deep: corio ÷ raw C io_uring", "pipelined", pipe_conns, pipe_depth, "c-uring", 0.85)
end
for _, c in ipairs({ 100, 1000 }) do
  for _, peer in ipairs({ "tokio", "nginx" }) do
    local ref = corio_ref("http", "plaintext", c, 1)
    local m = stats("http", "plaintext", c, 1, peer)
    local r = ratio(ref and ref.rps, m and m.rps)
    targets[#targets + 1] = { "HTTP plaintext " .. c .. " conns: corio ÷ " .. LABEL[peer], ">= 1.00x",
      fmt_ratio(r), r and (r >= 1.0 and "met" or "missed") or "n/a" }
  end
end
local idle_by = {}
for _, r in ipairs(idle) do idle_by[r.server] = r end
do
  local best
  for _, s in ipairs({ "corio-uring", "corio-epoll" }) do
    local r = idle_by[s]
    if r and r.status == "ok" then
      local b = tonumber(r.bytes_per_conn)
      if b and (not best or b < best) then best = b end
    end
  end
  targets[#targets + 1] = { "idle memory per connection (corio)", "<= 1.5 KB",
    best and string.format("%.2f KB", best / 1024) or "n/a",
    best and (best <= 1536 and "met" or "missed") or "n/a" }
end
local micro_by = {}
for _, r in ipairs(micro) do
  micro_by[r.micro] = micro_by[r.micro] or {}
  micro_by[r.micro][r.impl] = r
end
local function micro_val(name, impl, key)
  local r = micro_by[name] and micro_by[name][impl]
  if not r or r.status == "n/a" then return nil end
  return tonumber(r[key])
end
do
  local rss = micro_val("sleep", "corio", "rss_mb")
  local n = micro_val("sleep", "corio", "n")
  local scaled = rss and n and rss * 1000000 / n
  targets[#targets + 1] = { "1M sleeping tasks: RSS (corio)", "< 1.2 GB",
    scaled and string.format("%.0f MB%s", scaled, n ~= 1000000 and string.format(" (scaled from %d tasks)", n) or "") or "n/a",
    scaled and (scaled < 1200 and "met" or "missed") or "n/a" }
  local sp = micro_val("spawn", "corio", "rate")
  targets[#targets + 1] = { "spawn + finish (corio)", ">= 2M tasks/s",
    sp and string.format("%.2fM tasks/s", sp / 1e6) or "n/a", sp and (sp >= 2e6 and "met" or "missed") or "n/a" }
  local ch = micro_val("channel", "corio", "rate")
  targets[#targets + 1] = { "channel ping-pong (corio)", ">= 3M msg/s",
    ch and string.format("%.2fM msg/s", ch / 1e6) or "n/a", ch and (ch >= 3e6 and "met" or "missed") or "n/a" }
end
w("## Targets (issue 5)\n")
w("Ratios are corio ÷ peer on requests/s (corio = the io_uring backend, or epoll if io_uring did not run); ",
  "[GAPS.md](GAPS.md) gives, for every missed target, the gap, its profiled cause and what would close it; ",
  "echo and HTTP rows use the medians below.\n")
w("| target | required | measured | verdict |")
w("|---|---:|---:|---|")
for _, t in ipairs(targets) do w("| ", t[1], " | ", t[2], " | ", t[3], " | ", t[4], " |") end
w("")

-- echo ---------------------------------------------------------------------
w("## Echo, ", params.msg or "64B", " messages\n")
w("Load: `bench/loadgen` (C, epoll), every echoed byte verified; latency from a log-linear histogram. ",
  "Server CPU = utime+stime of the server process over the whole run (connect + warm-up + measurement) ÷ all requests served. ",
  "`÷ corio` is this server's req/s divided by corio's. ",
  "With one load-generator core, ping-pong is often bounded by the client (load core near 100 % busy): ",
  "then the fast servers all show about the same req/s and the server CPU µs/req column is the one that separates them.\n")
for _, c in ipairs(echo_conns) do
  server_table("Ping-pong, " .. c .. " connections (1 message in flight each)", "echo", "pingpong", c, 1, ECHO_SERVERS)
end
if pipe_conns then
  server_table("Pipelined, " .. pipe_conns .. " connections × " .. pipe_depth .. " messages in flight", "echo",
    "pipelined", tonumber(pipe_conns), tonumber(pipe_depth), ECHO_SERVERS)
end

-- http ---------------------------------------------------------------------
w("## HTTP/1.1 plaintext (keep-alive, `wrk -t1`)\n")
for _, c in ipairs(http_conns) do
  server_table("Plaintext, " .. c .. " connections", "http", "plaintext", c, 1, HTTP_SERVERS)
end

-- sections whose tables other scripts write --------------------------------
-- the text of OUT/NAME, or nil when that script did not run
local function result_file(name)
  local f = io.open(OUT .. "/" .. name)
  if not f then return nil end
  local text = f:read("a")
  f:close()
  return text:match("%S") and text or nil
end

-- the cells of a markdown table's data rows (header and rule left out)
local function table_rows(text)
  local rows, seen_header = {}, false
  for line in text:gmatch("[^\n]+") do
    if line:match("^|") and not line:match("^|%-") then
      local cells = {}
      for c in line:gmatch("|([^|]*)") do cells[#cells + 1] = c:match("^%s*(.-)%s*$") end
      if cells[#cells] == "" then cells[#cells] = nil end
      if seen_header then rows[#rows + 1] = cells end
      seen_header = true
    end
  end
  return rows
end

-- udp: bench/udp.sh writes the whole section
do
  local udp = result_file("udp.md")
  if udp then w(udp) end
end

-- plots --------------------------------------------------------------------
local plots = {}
local function plot(name, title, kind, scen, conns_list, servers, key, ylabel)
  local datafiles = {}
  for _, s in ipairs(servers) do
    local lines = {}
    for _, c in ipairs(conns_list) do
      local m = stats(kind, scen, c, 1, s)
      if m and m[key] then lines[#lines + 1] = string.format("%d %.3f", c, m[key]) end
    end
    if #lines > 0 then
      local path = string.format("%s/plot-%s-%s-%s.dat", OUT, name, key, s)
      local f = assert(io.open(path, "w"))
      f:write(table.concat(lines, "\n"), "\n")
      f:close()
      datafiles[#datafiles + 1] = { path, LABEL[s] }
    end
  end
  if #datafiles == 0 then return end
  local png = BDIR .. "/" .. name .. ".png"
  local gp = {
    "set terminal pngcairo size 900,540 font 'sans,10' noenhanced",
    "set output '" .. png .. "'",
    "set title '" .. title .. "'",
    "set logscale x", string.format("set xrange [%g:%g]", conns_list[1] / 2, conns_list[#conns_list] * 2), "set xlabel 'connections'", "set ylabel '" .. ylabel .. "'",
    "set key outside right", "set grid", "set xtics (" .. (function()
      local t = {}
      for _, c in ipairs(conns_list) do t[#t + 1] = string.format("'%d' %d", c, c) end
      return table.concat(t, ", ")
    end)() .. ")",
  }
  if key == "p99_us" then gp[#gp + 1] = "set logscale y" else gp[#gp + 1] = "set yrange [0:*]" end
  local parts = {}
  for _, d in ipairs(datafiles) do
    parts[#parts + 1] = string.format("'%s' using 1:2 with linespoints lw 2 title '%s'", d[1], d[2])
  end
  gp[#gp + 1] = "plot " .. table.concat(parts, ", ")
  local script = OUT .. "/" .. name .. ".gp"
  local f = assert(io.open(script, "w"))
  f:write(table.concat(gp, "\n"), "\n")
  f:close()
  local ok = os.execute("gnuplot '" .. script .. "' 2>" .. OUT .. "/logs/gnuplot-" .. name .. ".log")
  if ok then plots[#plots + 1] = { name .. ".png", title } end
end
plot("echo_throughput", "Echo ping-pong 64 B: throughput", "echo", "pingpong", echo_conns, ECHO_SERVERS, "rps", "requests/s")
plot("echo_p99", "Echo ping-pong 64 B: p99 latency", "echo", "pingpong", echo_conns, ECHO_SERVERS, "p99_us", "p99 latency (µs)")
plot("http_throughput", "HTTP plaintext: throughput", "http", "plaintext", http_conns, HTTP_SERVERS, "rps", "requests/s")
plot("http_p99", "HTTP plaintext: p99 latency", "http", "plaintext", http_conns, HTTP_SERVERS, "p99_us", "p99 latency (µs)")
if #plots > 0 then
  w("## Plots\n")
  for _, p in ipairs(plots) do w("![", p[2], "](", p[1], ")\n") end
end

-- idle ----------------------------------------------------------------------
w("## Idle memory\n")
w("Server RSS after N idle connections are established (each made one echo round trip, so its ",
  "server-side task is back waiting in a read) minus RSS before, ÷ N. Kernel socket memory is not in RSS.\n")
local idle_ref
for _, s in ipairs({ "corio-uring", "corio-epoll" }) do
  local r = idle_by[s]
  if not idle_ref and r and r.status == "ok" then idle_ref = tonumber(r.bytes_per_conn) end
end
w("| server | connections | bytes/conn | ÷ corio | RSS before MB | RSS after MB | note |")
w("|---|---:|---:|---:|---:|---:|---|")
for _, s in ipairs({ "corio-uring", "corio-epoll", "luv", "cqueues", "tokio", "node" }) do
  local r = idle_by[s]
  if r and r.status == "ok" then
    local b = tonumber(r.bytes_per_conn)
    local note = ""
    if r.ready and r.ready ~= r.conns then note = "only " .. r.ready .. " ready" end
    w("| ", LABEL[s], " | ", fmt_int(tonumber(r.conns)), " | ", fmt_int(b), " | ", fmt_ratio(ratio(b, idle_ref)),
      " | ", fmt(tonumber(r.rss_before_kb) / 1024), " | ", fmt(tonumber(r.rss_after_kb) / 1024), " | ", note, " |")
  elseif r then
    w("| ", LABEL[s], " | n/a | n/a | | | | ", (r.reason or ""):gsub("_", " "), " |")
  end
end
w("")

-- micro ---------------------------------------------------------------------
w("## Micro-benchmarks (Lua 5.4, one core)\n")
local MICRO = {
  { "spawn", "Spawn + finish (batches of 1000, joined)", "rate", "tasks/s" },
  { "sleep", "Concurrent sleeping tasks", "overhead_s", nil },
  { "timeout", "Timers armed and cancelled (corio.timeout around a function that returns at once; luv timer start+stop)", "rate", "ops/s" },
  { "channel", "Ping-pong between two tasks (messages counted in both directions)", "rate", "msg/s" },
  { "semaphore", "Semaphore acquire + release, uncontended", "rate", "ops/s" },
  { "semaphore_contended", "Semaphore(1) acquire + yield + release, 4 tasks", "rate", "ops/s" },
}
local IMPLS = { "corio", "cqueues", "luv", "lua-coroutine" }
local IMPL_NOTE = { cqueues = "cqueues", luv = "luv", ["lua-coroutine"] = "plain Lua coroutines (floor)", corio = "corio" }
for _, mb in ipairs(MICRO) do
  local rows = micro_by[mb[1]]
  if rows then
    w("### ", mb[2], "\n")
    local ref = micro_val(mb[1], "corio", mb[3])
    if mb[1] == "sleep" then
      w("| impl | tasks | total s | sleep s | overhead s | RSS MB (all asleep) | bytes/task | ÷ corio (RSS) |")
      w("|---|---:|---:|---:|---:|---:|---:|---:|")
      local cref = micro_val("sleep", "corio", "rss_mb")
      for _, impl in ipairs(IMPLS) do
        local r = rows[impl]
        if r and r.status ~= "n/a" then
          w("| ", IMPL_NOTE[impl], impl == "luv" and " (uv timers, no coroutines)" or "", " | ", fmt_int(tonumber(r.n)), " | ",
            fmt(tonumber(r.secs), 2), " | ", fmt(tonumber(r.sleep_s), 1), " | ", fmt(tonumber(r.overhead_s), 2), " | ",
            fmt(tonumber(r.rss_mb)), " | ", fmt_int(tonumber(r.bytes_per_task)), " | ",
            fmt_ratio(ratio(tonumber(r.rss_mb), cref)),
            (tonumber(r.spawn_s) or 0) >= (tonumber(r.sleep_s) or 0) and " ⚠ spawning outlasted the sleep" or "", " |")
        elseif r then
          w("| ", IMPL_NOTE[impl], " | n/a | | | | | | ", (r.reason or ""):gsub("_", " "), " |")
        end
      end
    else
      w("| impl | N | seconds | ", mb[4], " | ÷ corio |")
      w("|---|---:|---:|---:|---:|")
      for _, impl in ipairs(IMPLS) do
        local r = rows[impl]
        if r and r.status ~= "n/a" then
          local v = tonumber(r[mb[3]])
          w("| ", IMPL_NOTE[impl], " | ", fmt_int(tonumber(r.n)), " | ", fmt(tonumber(r.secs), 3), " | ",
            fmt_int(v), " | ", fmt_ratio(ratio(v, ref)), " |")
        elseif r then
          w("| ", IMPL_NOTE[impl], " | n/a | | | ", (r.reason or ""):gsub("_", " "), " |")
        end
      end
    end
    w("")
  end
end

-- reshape cost: bench/callgrind.sh's table (run.sh runs it on CG_BASE and HEAD)
do
  local cg = result_file("callgrind.txt")
  if cg then
    w("## Reshape cost: server instructions per request (issue 11)\n")
    w("`bench/callgrind.sh` (see `bench/CALLGRIND.md`) as `bench/run.sh` runs it: the first column is the tree ",
      "before the reshape (`CG_BASE`, by default 8f5c601), the second HEAD, both exported with `git archive` and built alike. ",
      "Callgrind's user-space instruction count of the whole server process per request, 10 connections with one ",
      "request in flight each; instructions, not time, so the figure repeats on this noisy machine. ",
      "Target: within 3 % of the tree before the reshape.\n")
    w(cg)
    local worst, at
    for _, c in ipairs(table_rows(cg)) do
      local r = #c >= 5 and tonumber(c[#c])
      if r and (not worst or r > worst) then worst, at = r, c[1] .. ", " .. c[2] end
    end
    if worst then
      w(string.format("%s: at most %+.1f %% (%s).\n", worst <= 1.03 and "Met" or "**Missed**", (worst - 1) * 100, at))
    end
  end
end

-- Unix ping-pong: bench/unix.sh's table
do
  local ux = result_file("unix.md")
  if ux then
    w("## Unix-socket stream ping-pong (issue 11)\n")
    w("`bench/unix.sh`: the same lean echo server shape (`examples/echo_server.lua` for TCP, ",
      "`bench/servers/corio_unix_echo.lua` for Unix) and the same corio client (`bench/pingpong_client.lua`, ",
      "one 64-byte message in flight per connection; `loadgen` speaks TCP only), server and client pinned as above, ",
      "TCP and Unix alternating within each round, medians over rounds. Target: Unix >= 1.0x corio's own TCP.\n")
    w(ux)
    local met, missed = {}, {}
    for _, c in ipairs(table_rows(ux)) do
      local r = tonumber(c[4])
      if r then table.insert(r >= 1.0 and met or missed, string.format("%s (%.2fx)", c[1], r)) end
    end
    if #met + #missed > 0 then
      w("Target ", #missed == 0 and "met" or "**missed**", #missed > 0 and (" on " .. table.concat(missed, ", ")) or "",
        #met > 0 and ((#missed > 0 and "; met" or "") .. " on " .. table.concat(met, ", ")) or "", ".\n")
    end
  end
end

-- availability --------------------------------------------------------------
local nas = {}
for _, s in ipairs(status) do
  if s.status == "n/a" then nas[#nas + 1] = "- `" .. s.server .. "`: " .. (s.reason or "?"):gsub("_", " ") end
end
if #nas > 0 then
  w("## Not measured\n")
  for _, l in ipairs(nas) do w(l) end
  w("")
end
w("Raw per-run lines: `bench/results/raw.txt` (not committed); logs in `bench/results/logs/`.")

local f = assert(io.open(BDIR .. "/REPORT.md", "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()
print("wrote " .. BDIR .. "/REPORT.md")
