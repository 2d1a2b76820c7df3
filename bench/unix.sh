#!/usr/bin/env bash
# bench/unix.sh: Unix-socket stream ping-pong against corio's own TCP, the
# same lean echo server shape and the same corio client on both (64-byte
# messages, CONNS connections, one message in flight each), server pinned
# to CPU 1 and client to CPU 0, ROUNDS alternating rounds of DURATION s each;
# reports requests/s (median) and server CPU µs per request, both
# backends. Knobs: ROUNDS (5), DURATION (3 s), CONNS (10). Writes
# bench/results/unix.md. Run from anywhere after `make`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-5} SECS=${DURATION:-3} CONNS=${CONNS:-10}
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;'
OUT=bench/results; mkdir -p "$OUT"
RAW=$OUT/unix_raw.txt; : > "$RAW"
SOCK=/tmp/corio-bench-unix-$$.sock
SPID=""
trap '[ -n "$SPID" ] && kill "$SPID" 2>/dev/null; rm -f "$SOCK"' EXIT

# CPU ticks (utime + stime) of a process.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One run: start the server of $1 (tcp|unix) on backend $2, drive it,
# append a raw line.
run_one() {
  local kind=$1 be=$2 out port
  out=$(mktemp)
  if [ "$kind" = tcp ]; then
    CORIO_BACKEND=$be taskset -c 1 lua5.4 examples/echo_server.lua 127.0.0.1 0 > "$out" &
  else
    CORIO_BACKEND=$be taskset -c 1 lua5.4 bench/servers/corio_unix_echo.lua "$SOCK" > "$out" &
  fi
  SPID=$!
  for _ in $(seq 50); do grep -q listening "$out" && break; sleep 0.1; done
  local t0 res t1 hz
  t0=$(ticks "$SPID")
  if [ "$kind" = tcp ]; then
    port=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$out")
    res=$(CORIO_BACKEND=$be taskset -c 0 lua5.4 bench/pingpong_client.lua tcp 127.0.0.1 "$port" "$CONNS" "$SECS")
  else
    res=$(CORIO_BACKEND=$be taskset -c 0 lua5.4 bench/pingpong_client.lua unix "$SOCK" "$CONNS" "$SECS")
  fi
  t1=$(ticks "$SPID"); hz=$(getconf CLK_TCK)
  kill "$SPID"; wait "$SPID" 2>/dev/null || true; SPID=""
  rm -f "$out" "$SOCK"
  echo "$kind $be $res cpu_ticks=$((t1 - t0)) hz=$hz" >> "$RAW"
}

for r in $(seq "$ROUNDS"); do
  for be in io_uring epoll; do
    if [ $((r % 2)) = 1 ]; then run_one tcp "$be"; run_one unix "$be"
    else run_one unix "$be"; run_one tcp "$be"; fi
  done
done

lua5.4 - "$RAW" > "$OUT/unix.md" <<'LUA'
local rows = {}
for line in io.lines(arg[1]) do
  local kind, be = line:match("^(%S+) (%S+)")
  local n, s = line:match("requests=(%d+) seconds=([%d.]+)")
  local ticks, hz = line:match("cpu_ticks=(%d+) hz=(%d+)")
  local k = kind .. " " .. be
  rows[k] = rows[k] or {}
  table.insert(rows[k], { rps = n / s, cpu = ticks / hz * 1e6 / n })
end
local function median(t, f)
  local v = {}
  for _, x in ipairs(t) do v[#v + 1] = x[f] end
  table.sort(v)
  return v[(#v + 1) // 2]
end
print("| backend | TCP req/s | Unix req/s | Unix / TCP | TCP server CPU µs/req | Unix server CPU µs/req |")
print("|---|---:|---:|---:|---:|---:|")
for _, be in ipairs({ "io_uring", "epoll" }) do
  local t, u = rows["tcp " .. be], rows["unix " .. be]
  if t and u then
    local tr, ur = median(t, "rps"), median(u, "rps")
    print(("| %s | %.0f | %.0f | %.2f | %.2f | %.2f |"):format(be, tr, ur, ur / tr,
      median(t, "cpu"), median(u, "cpu")))
  end
end
LUA
cat "$OUT/unix.md"
