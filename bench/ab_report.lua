-- The A/B table of bench/ab.sh from its raw lines.
-- usage: lua5.4 bench/ab_report.lua RAW OUT_MD LABEL_A LABEL_B PARAMS [DISTURBED_PCT]
local RAW, OUT, LA, LB, PARAMS = arg[1], arg[2], arg[3], arg[4], arg[5] or ""
-- a kept run with more other load than this on either core is counted as disturbed
local DISTURBED = tonumber(arg[6]) or 25

local lib = dofile((arg[0]:match("^(.*)/") or ".") .. "/lib.lua")
local parse, median, fmt, fmt_int = lib.parse_line, lib.median, lib.fmt, lib.fmt_int

-- A run counts if the load generator exited cleanly and saw no error; wrk's
-- status is its error count (it exits 0 on errors).
local function good(r)
  return r.rc == "0" and tonumber(r.rps) and tonumber(r.rps) > 0
    and (r.errors or "0") == "0" and (r.verify_errors or "0") == "0"
end

-- runs[row|backend][build][round] = raw line; rows and backends in order of appearance
local runs, order, bad, max_foreign, disturbed = {}, {}, 0, 0, {}
for line in io.lines(RAW) do
  local r = parse(line)
  if r.build then
    local key = r.row .. "|" .. r.backend
    if not runs[key] then runs[key] = { A = {}, B = {} }; order[#order + 1] = key end
    local foreign = math.max(tonumber(r.foreign_pct) or 0, tonumber(r.load_foreign_pct) or 0)
    if good(r) then
      runs[key][r.build][tonumber(r.round)] = r
      if foreign > DISTURBED then disturbed[key] = (disturbed[key] or 0) + 1 end
      max_foreign = math.max(max_foreign, foreign)
    else
      bad = bad + 1
    end
  end
end

local function row_name(row)
  local kind, conns, depth = row:match("^(%a+)%-(%d+)x?(%d*)$")
  if kind == "http" then return "HTTP plaintext, " .. conns .. " conns" end
  if depth ~= "" then return "echo pipelined, " .. conns .. " conns × " .. depth end
  return "echo ping-pong, " .. conns .. " conns"
end

-- values of field F over the rounds of one build's runs
local function values(t, f)
  local v = {}
  for _, r in pairs(t) do v[#v + 1] = tonumber(r[f]) end
  return v
end

local md = {}
local function w(...) md[#md + 1] = table.concat({ ... }) end

w("A = ", LA, ", B = ", LB, " (", PARAMS, "). req/s: median over rounds; B/A: of those medians; ",
  "per-round B/A: B's req/s ÷ A's in the same round, the two runs measured one right after the other ",
  "(rounds in order; odd rounds ran A first); paired: the median of those. CPU: server CPU µs per request, median. ",
  "A's own spread: (max - min) / median of A's req/s over the rounds, the noise B/A is read against. ",
  "Disturbed: kept runs (A and B) in which other processes took more than ", DISTURBED, " % of either core.\n")
w("| row | backend | A req/s | B req/s | B/A | paired B/A | A CPU µs/req | B CPU µs/req | CPU B/A | per-round B/A | A's own spread | disturbed |")
w("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
local all_ratios, spreads = {}, {}
for _, key in ipairs(order) do
  local row, be = key:match("^(.-)|(.*)$")
  local a, b = runs[key].A, runs[key].B
  local ra, rb = median(values(a, "rps")), median(values(b, "rps"))
  local ca, cb = median(values(a, "cpu_us_per_req")), median(values(b, "cpu_us_per_req"))
  local per, pair, rounds = {}, {}, {}
  for round in pairs(a) do if b[round] then rounds[#rounds + 1] = round end end
  table.sort(rounds)
  for _, round in ipairs(rounds) do
    local q = tonumber(b[round].rps) / tonumber(a[round].rps)
    per[#per + 1] = string.format("%.2f", q)
    pair[#pair + 1] = q
    all_ratios[#all_ratios + 1] = q
  end
  -- how far A's own req/s moved across rounds: the noise B/A is read against
  local av = values(a, "rps")
  local spread = #av > 1 and ra and (math.max(table.unpack(av)) - math.min(table.unpack(av))) / ra * 100
  if spread then spreads[#spreads + 1] = spread end
  w("| ", row_name(row), " | ", be, " | ", fmt_int(ra), " | ", fmt_int(rb), " | ",
    fmt(ra and rb and rb / ra, 3), " | ", fmt(median(pair), 3), " | ", fmt(ca, 2), " | ", fmt(cb, 2), " | ",
    fmt(ca and cb and ca > 0 and cb / ca, 3), " | ", table.concat(per, ", "), " | ",
    spread and string.format("%.0f %%", spread) or "n/a", " | ", disturbed[key] or 0, " / ", #av + #values(b, "rps"), " |")
end
w("")
if #all_ratios > 0 then
  w(string.format("Per-round B/A over all rows: %.2f to %.2f (median %.3f). ", math.min(table.unpack(all_ratios)),
    math.max(table.unpack(all_ratios)), median(all_ratios)),
    #spreads > 0 and string.format("A's own req/s moved by %.0f to %.0f %% across rounds (max - min over median). ",
      math.min(table.unpack(spreads)), math.max(table.unpack(spreads))) or "",
    string.format("Most other load seen on either core in a kept run: %.0f %%.", max_foreign),
    bad > 0 and string.format(" ⚠ %d run(s) failed or had errors and are left out.", bad) or "")
end

local f = assert(io.open(OUT, "w"))
f:write(table.concat(md, "\n"), "\n")
f:close()
