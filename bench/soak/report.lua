-- bench/soak/report.lua DIR: the soak run's table (DIR/soak.md), plot
-- (DIR/soak.png, with gnuplot) and verdict, from DIR/meta.txt and
-- DIR/samples.txt as bench/soak/run.sh leaves them. One check per line,
-- then "N passed, N failed"; exits 1 on any failure.
--
-- The growth checks drop the warm-up, split the rest in thirds and compare
-- the mean of the last third with the mean of the first: more than 5 %
-- above it fails.
local DIR = assert(arg[1], "usage: report.lua DIR")
local GROWTH = 1.05
local MAX_ROWS = 150        -- longer runs are shown in windows of samples

-- "a=1 b=x" -> { a = 1, b = "x" } (numbers where they are numbers).
local function kv(line)
  local t = {}
  for k, v in line:gmatch("([%w_]+)=(%S+)") do t[k] = tonumber(v) or v end
  return t
end

local function read_lines(path)
  local f = io.open(path)
  if not f then return {} end
  local t = {}
  for line in f:lines() do t[#t + 1] = line end
  f:close()
  return t
end

local meta, ending, final = {}, {}, {}
for _, line in ipairs(read_lines(DIR .. "/meta.txt")) do
  local kind, rest = line:match("^(%w+)%s*(.*)$")
  local into = ({ meta = meta, ["end"] = ending, final = final })[kind]
  if into then for k, v in pairs(kv(rest)) do into[k] = v end end
end
local TCK, WARMUP = meta.tck or 100, meta.warmup or 20
for _, line in ipairs(read_lines(DIR .. "/server.out")) do   -- the backend in use
  meta.backend = line:match("^backend (%S+)") or meta.backend
end

-- Samples, with the rates of each interval added.
local samples = {}
for _, line in ipairs(read_lines(DIR .. "/samples.txt")) do
  local s = kv(line)
  local prev = samples[#samples] or { t = 0, c_reqs = 0, c_bytes = 0 }
  local dt = s.t - prev.t
  if s.c_reqs and dt > 0 then
    s.rps = (s.c_reqs - prev.c_reqs) / dt
    s.mbps = (s.c_bytes - prev.c_bytes) / dt / 1e6
    s.s_cpu_pct = prev.s_cpu and (s.s_cpu - prev.s_cpu) / TCK / dt * 100
    s.c_cpu_pct = prev.c_cpu and (s.c_cpu - prev.c_cpu) / TCK / dt * 100
  end
  samples[#samples + 1] = s
end

local function mean(list, key, from, to)
  local sum, cnt = 0, 0
  for i = from or 1, to or #list do
    local v = list[i][key]
    if type(v) == "number" then sum, cnt = sum + v, cnt + 1 end
  end
  return cnt > 0 and sum / cnt or nil
end

local function median(values)
  if #values == 0 then return nil end
  table.sort(values)
  return values[(#values + 1) // 2]
end

local function column(list, key)
  local t = {}
  for _, s in ipairs(list) do if type(s[key]) == "number" then t[#t + 1] = s[key] end end
  return t
end

-- The samples after the warm-up, and their thirds.
local steady = {}
for _, s in ipairs(samples) do if s.t > WARMUP then steady[#steady + 1] = s end end
local third = #steady // 3
local first_to, last_from = third, #steady - third + 1

local results, passed, failed = {}, 0, 0
local function verdict(name, ok, detail)
  results[#results + 1] = { name = name, ok = ok, detail = detail }
  if ok then passed = passed + 1 else failed = failed + 1 end
end

local function growth_check(name, key, unit, scale)
  if third < 3 then
    verdict(name, false, ("%d samples after the warm-up: too few to split in thirds"):format(#steady))
    return
  end
  local a, b = mean(steady, key, 1, first_to), mean(steady, key, last_from)
  verdict(name, a and b and b <= a * GROWTH,
    ("mean %s first third %.2f%s, last third %.2f%s (%+.2f %%, limit +%.0f %%)"):format(
      name, (a or 0) / scale, unit, (b or 0) / scale, unit,
      a and b and (b / a - 1) * 100 or 0, (GROWTH - 1) * 100))
end

growth_check("rss", "rss_kb", " MB", 1024)
growth_check("fds", "fds", "", 1)

local sf, cf = final.s_reqs and final or {}, final
do   -- data: every byte checked by the client; both sides' counts agree
  local problems = {}
  local mism = cf.c_mismatch or (samples[#samples] or {}).c_mismatch
  if mism ~= 0 then problems[#problems + 1] = ("%s echo mismatches"):format(tostring(mism)) end
  if not (sf.final and sf.s_pipe_total) then
    problems[#problems + 1] = "no final counts from the server"
  elseif not cf.c_reqs then
    problems[#problems + 1] = "no final counts from the client"
  else
    if sf.s_reqs ~= cf.c_reqs then
      problems[#problems + 1] = ("server echoed %d requests, client got %d"):format(sf.s_reqs, cf.c_reqs)
    end
    if sf.s_bytes ~= cf.c_bytes or sf.s_pipe_total ~= sf.s_bytes then
      problems[#problems + 1] = ("bytes: client %d, server %d, server's pipeline %d"):format(
        cf.c_bytes, sf.s_bytes, sf.s_pipe_total)
    end
    if sf.s_aborts ~= cf.c_aborts then
      problems[#problems + 1] = ("aborted requests: client %d, server saw %d"):format(cf.c_aborts, sf.s_aborts)
    end
  end
  verdict("data", #problems == 0, #problems == 0 and
    ("%d requests, %.1f MB echoed and checked; %d aborted mid-request on both sides; pipeline total matches"):format(
      cf.c_reqs, cf.c_bytes / 1e6, cf.c_aborts) or table.concat(problems, "; "))
end

do   -- errors: none unexpected on either side
  local last = samples[#samples] or {}
  local src = cf.c_errs and cf or last
  local srv = sf.s_errs and sf or last
  local counts = {
    client_errors = src.c_errs, client_stalls = src.c_stalls,
    server_errors = srv.s_errs, server_churn_failures = srv.s_churn_fail,
    server_idle_kicks = srv.s_idle_kicks,
  }
  local bad = {}
  for k, v in pairs(counts) do if v ~= 0 then bad[#bad + 1] = k .. "=" .. tostring(v) end end
  table.sort(bad)
  verdict("errors", #bad == 0, #bad == 0 and
    "no client error or stall, no server error, every churn check held (see client.err, server.err)"
    or table.concat(bad, " ") .. " (see client.err, server.err)")
end

do   -- progress: both answered every sample, requests and churn went on
  local problems = {}
  local want = math.floor((meta.seconds or 0) / (meta.every or 2))
  if #samples < want then problems[#problems + 1] = ("%d samples of %d"):format(#samples, want) end
  local stuck, prev_churn = 0, 0
  for _, s in ipairs(samples) do
    if s.s_missed or s.c_missed then problems[#problems + 1] = ("no answer at t=%.1f"):format(s.t) end
    if (s.rps or 0) <= 0 or (s.s_churn or 0) <= prev_churn then stuck = stuck + 1 end
    prev_churn = s.s_churn or prev_churn
  end
  if stuck > 0 then problems[#problems + 1] = stuck .. " intervals without requests or churn" end
  if ending.client_rc ~= 0 then problems[#problems + 1] = "client exit " .. tostring(ending.client_rc) end
  if ending.server_rc ~= 0 then problems[#problems + 1] = "server exit " .. tostring(ending.server_rc) end
  if ending.client_hung or ending.server_hung then problems[#problems + 1] = "a process did not stop on SIGTERM" end
  verdict("progress", #problems == 0, #problems == 0 and
    ("%d samples, requests and churn in every interval, both processes exited 0"):format(#samples)
    or table.concat(problems, "; "))
end

do   -- drain: once the client is gone the server is back to its idle self
  local ok = ending.drained == 1 and sf.s_tasks == 1 and sf.s_timers == 0 and sf.s_conns == 0
    and cf.c_live == 0
  verdict("drain", ok, ("after the client left: fds %s (idle %s), connections %s; after SIGTERM: "
    .. "tasks %s, timers %s"):format(tostring(ending.drain_fds), tostring(meta.idle_fds),
    tostring(sf.s_conns), tostring(sf.s_tasks), tostring(sf.s_timers)))
end

-- Figures for the summary.
local function fmt(v, f) return v and (f or "%.0f"):format(v) or "-" end
local function div(v, d) return v and v / d end
local p99s = column(steady, "c_p99_us")
local max_p99 = 0
for _, v in ipairs(p99s) do if v > max_p99 then max_p99 = v end end
local fig = {
  { "requests/s (mean after warm-up)", fmt(mean(steady, "rps")) },
  { "MB/s echoed each way", fmt(mean(steady, "mbps"), "%.1f") },
  { "p50 per 2-s interval, median", fmt(median(column(steady, "c_p50_us"))) .. " µs" },
  { "p99 per 2-s interval, median / worst", fmt(median(p99s)) .. " / " .. fmt(max_p99) .. " µs" },
  { "server RSS first / last third", fmt(div(mean(steady, "rss_kb", 1, first_to), 1024), "%.2f") .. " / "
      .. fmt(div(mean(steady, "rss_kb", last_from), 1024), "%.2f") .. " MB" },
  { "server fds first / last third", fmt(mean(steady, "fds", 1, first_to), "%.1f") .. " / "
      .. fmt(mean(steady, "fds", last_from), "%.1f") },
  { "server tasks first / last third", fmt(mean(steady, "s_tasks", 1, first_to)) .. " / "
      .. fmt(mean(steady, "s_tasks", last_from)) },
  { "server Lua+corio memory first / last third", fmt(div(mean(steady, "s_mem", 1, first_to), 1048576), "%.2f")
      .. " / " .. fmt(div(mean(steady, "s_mem", last_from), 1048576), "%.2f") .. " MB" },
  { "CPU: server / client (% of one core)", fmt(mean(steady, "s_cpu_pct"), "%.1f") .. " / "
      .. fmt(mean(steady, "c_cpu_pct"), "%.1f") },
  { "connections opened / aborted mid-request", fmt(cf.c_connects) .. " / " .. fmt(cf.c_aborts) },
  { "server churn tasks", fmt(sf.s_churn) },
}

-- The plot: four panels against time, the warm-up and the thirds marked.
local function plot()
  local dat = DIR .. "/plot.dat"
  local f = assert(io.open(dat, "w"))
  for _, s in ipairs(samples) do
    local row = { s.t, s.rss_kb and s.rss_kb / 1024, s.fds, s.s_tasks, s.s_conns, s.c_p50_us,
      s.c_p99_us, s.rps, s.s_cpu_pct, s.c_cpu_pct, s.s_mem and s.s_mem / 1048576, s.s_timers }
    for i = 1, 12 do row[i] = type(row[i]) == "number" and ("%.3f"):format(row[i]) or "NaN" end
    f:write(table.concat(row, " "), "\n")
  end
  f:close()
  local marks = { ("set arrow from %g, graph 0 to %g, graph 1 nohead dt 2 lc 'gray'"):format(WARMUP, WARMUP) }
  if third >= 1 then
    for _, t in ipairs({ steady[first_to].t, steady[last_from].t }) do
      marks[#marks + 1] = ("set arrow from %g, graph 0 to %g, graph 1 nohead dt 3 lc 'black'"):format(t, t)
    end
  end
  local q = "'" .. dat .. "'"
  local gp = {
    "set terminal pngcairo size 1200,900 font 'sans,10' noenhanced",
    "set output '" .. DIR .. "/soak.png'",
    "set multiplot layout 2,2 title 'corio soak: " .. (meta.conns or "?") .. " connections, "
      .. (meta.seconds or "?") .. " s, backend " .. (meta.backend or "?")
      .. " (dashed: end of warm-up; dotted: thirds)'",
    "set grid", "set xlabel 'seconds'", "set key below", "set yrange [0:*]",
    ("set xrange [0:%g]"):format(math.max(meta.seconds or 0, samples[#samples] and samples[#samples].t or 1)),
    table.concat(marks, "\n"),
    "set title 'server memory'", "set ylabel 'MB'",
    "plot " .. q .. " using 1:2 with lines lw 2 title 'RSS', " .. q
      .. " using 1:11 with lines lw 2 title 'Lua + corio (memory_bytes)'",
    "set title 'server fds and tasks'", "set ylabel 'count'",
    "plot " .. q .. " using 1:3 with lines lw 2 title 'fds', " .. q
      .. " using 1:4 with lines lw 2 title 'tasks', " .. q .. " using 1:5 with lines title 'connections'",
    "set title 'client latency per 2-s interval'", "set ylabel 'microseconds'", "set logscale y",
    "set yrange [*:*]",
    "plot " .. q .. " using 1:7 with lines lw 2 title 'p99', " .. q .. " using 1:6 with lines title 'p50'",
    "unset logscale y", "set yrange [0:*]",
    "set title 'throughput and CPU'", "set ylabel 'requests/s'", "set y2label '% of one core'",
    "set y2tics", "set y2range [0:100]",
    "plot " .. q .. " using 1:8 with lines lw 2 title 'requests/s', " .. q
      .. " using 1:9 axes x1y2 with lines title 'server CPU %', " .. q
      .. " using 1:10 axes x1y2 with lines title 'client CPU %'",
    "unset multiplot",
  }
  local p = io.popen("gnuplot 2>" .. DIR .. "/gnuplot.err", "w")
  p:write(table.concat(gp, "\n"), "\n")
  return p:close()
end

-- The table: every sample, or windows of them for long runs.
local function table_rows()
  local per = math.max(1, math.ceil(#samples / MAX_ROWS))
  local rows = {}
  for i = 1, #samples, per do
    local j = math.min(#samples, i + per - 1)
    local worst, max = 0, 0
    for k = i, j do
      worst = math.max(worst, samples[k].c_p99_us or 0)
      max = math.max(max, samples[k].c_max_us or 0)
    end
    local p50s = {}
    for k = i, j do p50s[#p50s + 1] = samples[k].c_p50_us end
    rows[#rows + 1] = ("| %.0f | %s | %s | %s | %s | %.2f | %s | %s | %s | %.2f | %s | %s | %s |"):format(
      samples[j].t, fmt(mean(samples, "rps", i, j)), fmt(median(p50s)), fmt(worst), fmt(max),
      (mean(samples, "rss_kb", i, j) or 0) / 1024, fmt(mean(samples, "fds", i, j)),
      fmt(mean(samples, "s_tasks", i, j)), fmt(mean(samples, "s_timers", i, j)),
      (mean(samples, "s_mem", i, j) or 0) / 1048576, fmt(mean(samples, "s_conns", i, j)),
      fmt(mean(samples, "s_cpu_pct", i, j), "%.1f"), fmt(mean(samples, "c_cpu_pct", i, j), "%.1f"))
  end
  return rows, per
end

-- When the run started, from its directory's name (run.sh's default).
local started = (function()
  local y, mo, d, h, mi = DIR:match("(%d%d%d%d)(%d%d)(%d%d)%-(%d%d)(%d%d)%d%d%-[^/]*/?$")
  return y and ("%s-%s-%s %s:%s UTC"):format(y, mo, d, h, mi) or "at an unknown time"
end)()

local png_ok = plot()
local out = {}
local function add(s) out[#out + 1] = s end
add("# corio soak run")
add("")
add(("`make soak SOAK_S=%s SOAK_CONNS=%s SOAK_SEED=%s`%s, backend %s, started %s; %d samples every %s s, "
  .. "warm-up %s s."):format(tostring(meta.seconds), tostring(meta.conns), tostring(meta.seed),
  meta.leak ~= "none" and (" with SOAK_LEAK=" .. tostring(meta.leak)) or "",
  tostring(meta.backend), started, #samples, tostring(meta.every), tostring(WARMUP)))
add("")
add("A corio echo server (bench/soak/server.lua: a task per connection, sleepers and deadlines, a")
add("channel pipeline adding up the bytes echoed, tasks spawned and joined, groups with failing and")
add("cancelled children) and a corio client (bench/soak/client.lua) holding the connections: requests")
add("of 1 B to 64 KiB (70 % up to 128 B, 5 % over 4 KiB) with idle spells of 0 to 2 s, every byte")
add("checked, about 1 % of connections closed and reopened after each request (5 % of those in the")
add("middle of a request). The growth checks compare the last third after the warm-up with the first.")
add("")
add("| figure | value |")
add("|---|---|")
for _, r in ipairs(fig) do add(("| %s | %s |"):format(r[1], r[2])) end
add("")
add("| check | verdict | detail |")
add("|---|---|---|")
for _, r in ipairs(results) do add(("| %s | %s | %s |"):format(r.name, r.ok and "pass" or "FAIL", r.detail)) end
add("")
add("![soak: memory, fds and tasks, latency, throughput over time](soak.png)")
add("")
local rows, per = table_rows()
add(per == 1 and "Every sample (rates and CPU over the 2 s before it; latency of the requests done in it):"
  or ("Windows of %d samples (%d s): means, the median p50 and the worst p99 and max of the window's intervals:"):format(
    per, per * (meta.every or 2)))
add("")
add("| t s | req/s | p50 µs | p99 µs | max µs | RSS MB | fds | tasks | timers | Lua MB | conns | srv CPU % | cli CPU % |")
add("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for _, r in ipairs(rows) do add(r) end
local f = assert(io.open(DIR .. "/soak.md", "w"))
f:write(table.concat(out, "\n"), "\n")
f:close()

for _, r in ipairs(fig) do print(("  %-44s %s"):format(r[1], r[2])) end
if not png_ok then print("  (gnuplot failed: " .. DIR .. "/gnuplot.err; no plot)") end
print("  table " .. DIR .. "/soak.md, plot " .. DIR .. "/soak.png")
for _, r in ipairs(results) do print(("%s soak %s: %s"):format(r.ok and "ok  " or "FAIL", r.name, r.detail)) end
print(("%d passed, %d failed"):format(passed, failed))
os.exit(failed == 0 and 0 or 1)
