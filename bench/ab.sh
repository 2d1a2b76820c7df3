#!/usr/bin/env bash
# A/B throughput of two corio builds: the req/s rows bench/run.sh measures for
# corio, in alternated rounds, both backends.
#
#   bash bench/ab.sh [REV_A] [REV_B]      defaults: 8f5c601 (before the reshape), HEAD
#
# Each revision is exported with `git archive` into a private directory and
# built there (make module, -O2 -g, no sanitizer): edits under way in the shared
# tree, and its own core.so, cannot change what is measured.  Each build runs
# its own examples/echo_server.lua and examples/http_server.lua.
#
# Rows: echo ping-pong 64 B at ECHO_CONNS (100, 1000) connections and pipelined
# PIPE_CONNS x PIPE_DEPTH (100 x 16), with bench/loadgen; HTTP plaintext at
# HTTP_CONNS (100) connections with `wrk -t1`.  Server pinned to SERVER_CPU (1),
# load to LOAD_CPU (0), as run.sh does.  Server CPU per request = utime+stime of
# the server process (/proc/PID/stat) over the run ÷ all requests it served.
#
# Pairing: both builds' servers run at once (pinned to the same CPU, the one
# not measured idle), and each row is measured on one build right after the
# other, so the two runs of a pair are seconds apart and share most of the
# machine's drift.  ROUNDS (5) rounds; odd rounds run A first in every pair,
# even rounds B first, so neither build always takes the same slot.
# Before each run the script waits (at most QUIET_WAIT, 30 s; QUIET_TOTAL,
# 300 s, in all) for both cores to be less than QUIET_PCT (20) % busy; a run
# with more than RETRY_FOREIGN (25) % of either core taken by other processes
# is repeated once (at most RETRY_BUDGET, 20, repeats), as run.sh does.
#
# Knobs (env): ROUNDS, DURATION (3 s), WARMUP (1 s, loadgen only), BACKENDS
#   ("io_uring epoll"), KINDS ("echo http": a closer look at one kind of row),
#   ECHO_CONNS, PIPE_CONNS, PIPE_DEPTH, HTTP_CONNS, MSG_SIZE
#   (64), SERVER_CPU, LOAD_CPU, QUIET_*, RETRY_*, BENCH_OUT (results dir,
#   bench/results).
# Output: $BENCH_OUT/ab.md (printed too), raw lines in $BENCH_OUT/ab_raw.txt.
# About 7 min with the defaults (5 rounds x 2 builds x 2 backends x 4 rows) on
# a quiet machine, up to QUIET_TOTAL more on a busy one.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
B=$ROOT/bench
REV_A=${1:-8f5c601}
REV_B=${2:-HEAD}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
BACKENDS=${BACKENDS:-"io_uring epoll"}
KINDS=${KINDS:-"echo http"}
ECHO_CONNS=${ECHO_CONNS:-"100 1000"}
PIPE_CONNS=${PIPE_CONNS:-100}
PIPE_DEPTH=${PIPE_DEPTH:-16}
HTTP_CONNS=${HTTP_CONNS:-100}
MSG_SIZE=${MSG_SIZE:-64}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
RETRY_FOREIGN=${RETRY_FOREIGN:-25}
RETRY_BUDGET=${RETRY_BUDGET:-20}
OUT=${BENCH_OUT:-$B/results}
RAW=$OUT/ab_raw.txt
CLK_TCK=$(getconf CLK_TCK)
T_START=$(date +%s)

# everything built or written while running lives here and goes at exit
WORK=$(mktemp -d /tmp/corio-ab.XXXXXX)
declare -A SPID PORT   # build (A|B) -> its running server's pid and port
cleanup() {
  stop_servers
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # through the EXIT trap: no server left behind

log() { printf '[ab %4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ build

# Resolved once: a commit landing in the shared repo during the run must not
# change what "HEAD" means halfway.
resolve() { git -C "$ROOT" rev-parse --short "$1^{commit}" 2>/dev/null || die "no such revision: $1"; }

# build_rev REV DIR: corio at REV, exported and built in DIR
build_rev() {
  local rev=$1 dir=$2
  mkdir -p "$dir"
  git -C "$ROOT" archive "$rev" Makefile csrc lua examples | tar -x -C "$dir"
  make -C "$dir" module SAN= OPT="-O2 -g" > "$dir/build.log" 2>&1 ||
    { tail -5 "$dir/build.log" >&2; die "make failed for $rev"; }
  local ex
  for ex in echo_server http_server; do
    [ -f "$dir/examples/$ex.lua" ] || die "$rev has no examples/$ex.lua"
  done
}

build_all() {
  command -v wrk > /dev/null || die "wrk is not installed (apt-get install wrk)"
  command -v taskset > /dev/null || die "taskset is not installed (util-linux)"
  gcc -O2 -Wall -o "$WORK/loadgen" "$B/loadgen.c" -lm || die "loadgen does not build"
  log "building A=$A ($REV_A) and B=$BB ($REV_B) in $WORK"
  build_rev "$A" "$WORK/A"
  build_rev "$BB" "$WORK/B"
}

# ------------------------------------------------------------------ servers

# start_server A|B KIND(echo|http) BACKEND: the build's example server on a
# free port (port 0: the server prints the one it got).  Sets SPID[build] and
# PORT[build].
start_server() {
  local build=$1 dir=$WORK/$1 kind=$2 be=$3 i pid port
  local log=$WORK/server-$build.log
  : > "$log"
  # taskset and env exec, so $! is the server process itself
  taskset -c "$SERVER_CPU" env CORIO_BACKEND="$be" \
    LUA_PATH="$dir/lua/?.lua;$dir/lua/?/init.lua;;" LUA_CPATH="$dir/lua/?.so;;" \
    lua5.4 "$dir/examples/${kind}_server.lua" 127.0.0.1 0 >> "$log" 2>&1 &
  pid=$!
  SPID[$build]=$pid
  for i in $(seq 1 100); do
    port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$log")
    if [ -n "$port" ]; then PORT[$build]=$port; return 0; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$log" >&2
  die "$build $kind server ($be) did not start"
}

stop_servers() {
  local build pid i
  for build in "${!SPID[@]}"; do
    pid=${SPID[$build]}
    kill "$pid" 2>/dev/null || true
    for i in $(seq 1 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    unset "SPID[$build]"
  done
}

# ------------------------------------------------------------------ measuring

. bench/lib.sh   # cpu_ticks, core_ticks, pct

# load ROW PORT: the load generator against PORT; its key=value line on
# stdout, its own user+sys ticks (bash's `time`) in $WORK/lg.ticks
load() {
  local row=$1 port=$2 tf=$WORK/time.out rc=0 out
  local kind=${row%%-*} rest=${row#*-}
  local conns=${rest%%x*} depth=1
  [[ $rest == *x* ]] && depth=${rest#*x}
  if [ "$kind" = http ]; then
    out=$( { TIMEFORMAT='%3U %3S'; time taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" \
           --timeout 5s -s "$B/wrk_report.lua" "http://127.0.0.1:$port/" 2>>"$WORK/load.err"; } 2>"$tf" ) || rc=$?
    out=$(grep '^mode=http' <<< "$out" || true)
  else
    out=$( { TIMEFORMAT='%3U %3S'; time taskset -c "$LOAD_CPU" "$WORK/loadgen" -p "$port" -c "$conns" \
           -P "$depth" -d "$DURATION" -w "$WARMUP" -s "$MSG_SIZE" 2>>"$WORK/load.err"; } 2>"$tf" ) || rc=$?
  fi
  awk -v t="$CLK_TCK" 'NF >= 2 { printf "%d", ($1 + $2) * t; exit }' "$tf" > "$WORK/lg.ticks"
  echo "rc=$rc $(tail -1 <<< "$out")"
}

# measure_once BUILD BACKEND ROW ROUND: one run against the running server,
# appends a line to $RAW and sets FOREIGN to the larger other-load share
measure_once() {
  local build=$1 be=$2 row=$3 round=$4 out c0 c1 sb0 st0 sb1 st1 lb0 lt0 lb1 lt1 lg all cpu_us fs fl
  local pid=${SPID[$1]}
  c0=$(cpu_ticks "$pid"); read -r sb0 st0 < <(core_ticks "$SERVER_CPU"); read -r lb0 lt0 < <(core_ticks "$LOAD_CPU")
  out=$(load "$row" "${PORT[$build]}")
  c1=$(cpu_ticks "$pid"); read -r sb1 st1 < <(core_ticks "$SERVER_CPU"); read -r lb1 lt1 < <(core_ticks "$LOAD_CPU")
  lg=$(cat "$WORK/lg.ticks"); lg=${lg:-0}
  all=$(sed -n 's/.*all_requests=\([0-9]*\).*/\1/p' <<< "$out")
  cpu_us=$(awk -v d=$(( c1 - c0 )) -v t="$CLK_TCK" -v n="${all:-0}" 'BEGIN { printf "%.3f", (n > 0 ? d * 1e6 / t / n : 0) }')
  # other load: what anything but the server / the load generator took of their
  # cores (the other build's server, idle, is in it too)
  fs=$(pct $(( sb1 - sb0 - c1 + c0 )) $(( st1 - st0 )))
  fl=$(pct $(( lb1 - lb0 - lg )) $(( lt1 - lt0 )))
  FOREIGN=$(awk -v a="$fs" -v b="$fl" 'BEGIN { print (a > b ? a : b) }')
  echo "build=$build backend=$be row=$row round=$round cpu_us_per_req=$cpu_us" \
       "server_util_pct=$(pct $(( c1 - c0 )) $(( st1 - st0 ))) load_util_pct=$(pct "$lg" $(( lt1 - lt0 )))" \
       "foreign_pct=$fs load_foreign_pct=$fl $out" >> "$RAW"
  log "  $build $be $row: $(grep -o 'rps=[0-9]*' <<< "$out") cpu=${cpu_us}us/req other=${fs}%/${fl}% $(grep -o '^rc=[0-9]*' <<< "$out")"
}

# Waits (at most QUIET_WAIT s per run, QUIET_TOTAL s in all) until the two
# cores were less than QUIET_PCT % busy over half a second: the server is idle
# between runs, so what shows is someone else's build or test run, which would
# otherwise land in the measurement.
QUIET_WAIT=${QUIET_WAIT:-30}
QUIET_TOTAL=${QUIET_TOTAL:-300}
QUIET_PCT=${QUIET_PCT:-20}
WAITED=0
wait_quiet() {
  local t0=$SECONDS sb0 st0 lb0 lt0 sb1 st1 lb1 lt1 busy
  while [ "$WAITED" -lt "$QUIET_TOTAL" ]; do
    read -r sb0 st0 < <(core_ticks "$SERVER_CPU"); read -r lb0 lt0 < <(core_ticks "$LOAD_CPU")
    sleep 0.5
    read -r sb1 st1 < <(core_ticks "$SERVER_CPU"); read -r lb1 lt1 < <(core_ticks "$LOAD_CPU")
    busy=$(pct $(( sb1 - sb0 + lb1 - lb0 )) $(( st1 - st0 + lt1 - lt0 )))
    awk -v b="$busy" -v m="$QUIET_PCT" 'BEGIN { exit !(b >= m) }' || break
    if [ $(( SECONDS - t0 )) -ge "$QUIET_WAIT" ]; then log "  (cores still $busy % busy after $QUIET_WAIT s: measuring anyway)"; break; fi
  done
  local waited=$(( SECONDS - t0 ))
  WAITED=$(( WAITED + waited ))
  [ "$waited" -lt 2 ] || log "  (waited $waited s for other load to pass)"
}

# measure BUILD BACKEND ROW ROUND: one run, repeated once if it was disturbed
measure() {
  wait_quiet
  measure_once "$@"
  if [ "$RETRY_BUDGET" -gt 0 ] && awk -v f="$FOREIGN" -v m="$RETRY_FOREIGN" 'BEGIN { exit !(f > m) }'; then
    RETRY_BUDGET=$(( RETRY_BUDGET - 1 ))
    log "  (other load $FOREIGN % on the server or load core: run repeated)"
    sed -i '$d' "$RAW"
    wait_quiet
    measure_once "$@"
  fi
}

# the rows, as KIND-CONNS[xDEPTH]
echo_rows() {
  local c
  for c in $ECHO_CONNS; do echo "echo-$c"; done
  echo "echo-${PIPE_CONNS}x$PIPE_DEPTH"
}
http_rows() {
  local c
  for c in $HTTP_CONNS; do echo "http-$c"; done
}

# run_pairs KIND BACKEND ROUND ORDER: both builds' KIND servers up, then
# every row of KIND on the builds in ORDER, one right after the other
run_pairs() {
  local kind=$1 be=$2 round=$3 order=$4 build row
  for build in $order; do start_server "$build" "$kind" "$be"; done
  for row in $("${kind}_rows"); do
    for build in $order; do measure "$build" "$be" "$row" "$round"; done
  done
  stop_servers
}

# ------------------------------------------------------------------ main

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true   # 1,000 connections on each side
mkdir -p "$OUT"
: > "$RAW"
A=$(resolve "$REV_A")
BB=$(resolve "$REV_B")
build_all
for r in $(seq 1 "$ROUNDS"); do
  order="A B"; [ $(( r % 2 )) = 0 ] && order="B A"
  log "round $r/$ROUNDS ($order)"
  for be in $BACKENDS; do
    for kind in $KINDS; do run_pairs "$kind" "$be" "$r" "$order"; done
  done
done
lua5.4 "$B/ab_report.lua" "$RAW" "$OUT/ab.md" "$A" "$BB" \
  "rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s msg=${MSG_SIZE}B server_cpu=$SERVER_CPU load_cpu=$LOAD_CPU date=$(date -u '+%Y-%m-%d %H:%M UTC')" \
  "$RETRY_FOREIGN"
cat "$OUT/ab.md"
log "done in $(( $(date +%s) - T_START ))s: $OUT/ab.md"
