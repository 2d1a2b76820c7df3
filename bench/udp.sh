#!/usr/bin/env bash
# UDP echo benchmark: corio (io_uring and epoll backends) against a raw C
# recvmsg/sendmsg server and luv; 64-byte datagrams, 1 and 100 clients.
#
#   bash bench/udp.sh                 ~2 min on 2 cores
#   ROUNDS=1 DURATION=1 bash bench/udp.sh   smoke run
#
# Knobs (env): DURATION (s per run, 3), WARMUP (s, 1), ROUNDS (3), UDP_CLIENTS ("1 100"),
#   MSG_SIZE (64), UDP_TIMEOUT_MS (200: an echo later than this counts as lost),
#   RETRY_FOREIGN (25), RETRY_BUDGET (8) (runs disturbed by other load are repeated),
#   ONLY (regex of server names), SERVER_CPU (1), LOAD_CPU (0), CORIO_REV (git revision
#   of corio to build, HEAD), BENCH_BUILD (build dir, /tmp/corio-bench-build),
#   BENCH_OUT (results dir, bench/results).
# Writes $BENCH_OUT/udp_raw.txt (one key=value line per run) and $BENCH_OUT/udp.md
# (the tables, which bench/report.lua puts into REPORT.md), and prints the tables.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
B=$ROOT/bench
DURATION=${DURATION:-3}
WARMUP=${WARMUP:-1}
ROUNDS=${ROUNDS:-3}
UDP_CLIENTS=${UDP_CLIENTS:-"1 100"}
MSG_SIZE=${MSG_SIZE:-64}
UDP_TIMEOUT_MS=${UDP_TIMEOUT_MS:-200}
ONLY=${ONLY:-}
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
CORIO_REV=${CORIO_REV:-HEAD}
BUILD=${BENCH_BUILD:-/tmp/corio-bench-build}
OUT=${BENCH_OUT:-$B/results}
LOGS=$OUT/logs
# corio is built from a git revision into a private snapshot: edits under way
# in the shared tree (and its own core.so) cannot change what is measured
CORIO_DIR=$BUILD/corio-udp
CORIO_ENV=(LUA_PATH="$CORIO_DIR/lua/?.lua;$CORIO_DIR/lua/?/init.lua;;" LUA_CPATH="$CORIO_DIR/lua/?.so;;")
SERVERS="corio-uring corio-epoll c-udp luv"
RAW=$OUT/udp_raw.txt
CLK_TCK=$(getconf CLK_TCK)
T_START=$(date +%s)

mkdir -p "$BUILD" "$OUT" "$LOGS"
: > "$RAW"

WORK=$(mktemp -d /tmp/corio-udp.XXXXXX)
SPID=""
cleanup() {
  if [ -n "$SPID" ]; then kill "$SPID" 2>/dev/null || true; wait "$SPID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # run the EXIT trap (and so stop the server) on ^C too

log() { printf '[udp %4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
want() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }

# ------------------------------------------------------------------ build
# Everything the run needs; a server that does not build is left out (n/a).
declare -A WHY   # server -> why it is not measured
build_all() {
  command -v taskset >/dev/null || { log "FATAL: taskset missing (util-linux)"; exit 1; }
  gcc -O2 -Wall -o "$BUILD/udpgen" "$B/udpgen.c" -lm 2> "$LOGS/build-udpgen.log" || {
    cat "$LOGS/build-udpgen.log" >&2; log "FATAL: udpgen does not build"; exit 1; }
  gcc -O2 -Wall -o "$BUILD/udp_echo" "$B/servers/udp_echo.c" 2> "$LOGS/build-udp_echo.log" ||
    WHY[c-udp]="build failed: $(tail -1 "$LOGS/build-udp_echo.log")"
  lua5.4 -e 'require"luv"' 2>/dev/null || WHY[luv]="lua5.4 module luv not installed (apt-get install lua-luv)"
  local why=""
  rm -rf "$CORIO_DIR"; mkdir -p "$CORIO_DIR"
  if ! git -C "$ROOT" archive "$CORIO_REV" Makefile csrc lua examples | tar -x -C "$CORIO_DIR"; then
    why="git archive $CORIO_REV failed"
  elif ! make -C "$CORIO_DIR" module SAN= OPT="-O2 -g" > "$LOGS/build-corio-udp.log" 2>&1; then
    why="make failed: $(grep -m1 -i error "$LOGS/build-corio-udp.log" || tail -1 "$LOGS/build-corio-udp.log")"
  elif [ ! -f "$CORIO_DIR/examples/udp_echo.lua" ]; then
    why="examples/udp_echo.lua missing at $CORIO_REV"
  fi
  if [ -n "$why" ]; then WHY[corio-uring]=$why; WHY[corio-epoll]=$why; fi
  CORIO_COMMIT=$(git -C "$ROOT" rev-parse --short "$CORIO_REV")
}

# ------------------------------------------------------------------ servers
# the command line of server NAME, into CMD
server_cmd() {
  case $1 in
    corio-uring) CMD=(env CORIO_BACKEND=io_uring "${CORIO_ENV[@]}" lua5.4 "$CORIO_DIR/examples/udp_echo.lua") ;;
    corio-epoll) CMD=(env CORIO_BACKEND=epoll "${CORIO_ENV[@]}" lua5.4 "$CORIO_DIR/examples/udp_echo.lua") ;;
    c-udp)       CMD=("$BUILD/udp_echo") ;;
    luv)         CMD=(lua5.4 "$B/servers/luv_udp_echo.lua") ;;
  esac
}

# start NAME PORT: sets SPID once the server says it listens and echoes a datagram
start_server() {
  local name=$1 port=$2 log=$LOGS/server-$name-udp.log i
  : > "$log"
  server_cmd "$name"
  # taskset and env exec, so $! is the server process itself
  taskset -c "$SERVER_CPU" "${CMD[@]}" 127.0.0.1 "$port" >> "$log" 2>&1 &
  SPID=$!
  for i in $(seq 1 100); do
    kill -0 "$SPID" 2>/dev/null || { SPID=""; return 1; }
    grep -q '^listening on' "$log" && break
    sleep 0.1
  done
  timeout 10 "$BUILD/udpgen" -p "$port" -c 1 -d 0.2 -w 0 -s "$MSG_SIZE" > /dev/null 2>&1 || { stop_server; return 1; }
}

stop_server() {
  [ -n "$SPID" ] || return 0
  kill "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

# ------------------------------------------------------------------ measuring
. bench/lib.sh   # cpu_ticks, core_ticks, pct

# One run, repeated once when other processes took more than RETRY_FOREIGN % of the
# server's or the load generator's core (at most RETRY_BUDGET repeats in all), as
# bench/run.sh does; the table still shows the other load of every kept run.
RETRY_FOREIGN=${RETRY_FOREIGN:-25}
RETRY_BUDGET=${RETRY_BUDGET:-8}
measure() {
  measure_once "$@" || return 1
  local foreign; foreign=$(tail -1 "$RAW" | grep -o 'foreign_pct=[0-9.]*' | cut -d= -f2 | sort -g | tail -1)
  if [ "$RETRY_BUDGET" -gt 0 ] && awk -v f="${foreign:-0}" -v m="$RETRY_FOREIGN" 'BEGIN { exit !(f > m) }'; then
    RETRY_BUDGET=$(( RETRY_BUDGET - 1 ))
    log "  (other load ${foreign}% on the server or load core: run repeated)"
    sed -i '$d' "$RAW"
    measure_once "$@" || return 1
  fi
}

# udpgen CLIENTS PORT: its key=value line; its own user+sys ticks go to $WORK/lg.ticks
run_udpgen() {
  local tf=$WORK/time.out rc=0
  # bash's `time` gives the load generator's own user+sys seconds
  { TIMEFORMAT='%3U %3S'; time taskset -c "$LOAD_CPU" "$BUILD/udpgen" -p "$2" -c "$1" -d "$DURATION" \
      -w "$WARMUP" -s "$MSG_SIZE" -t "$UDP_TIMEOUT_MS" 2>>"$LOGS/udpgen.log" || rc=$?; } 2>"$tf"
  awk -v t="$CLK_TCK" '{ printf "%d", ($1 + $2) * t; exit }' "$tf" > "$WORK/lg.ticks"
  return $rc
}

# one run against the server at PORT: appends a line to $RAW
measure_once() {
  local name=$1 clients=$2 port=$3 round=$4 out rc=0
  local c0 c1 sb0 st0 sb1 st1 lb0 lt0 lb1 lt1 lg all cpu_us alive=1
  c0=$(cpu_ticks "$SPID"); read -r sb0 st0 < <(core_ticks "$SERVER_CPU"); read -r lb0 lt0 < <(core_ticks "$LOAD_CPU")
  out=$(run_udpgen "$clients" "$port") || rc=$?
  c1=$(cpu_ticks "$SPID"); read -r sb1 st1 < <(core_ticks "$SERVER_CPU"); read -r lb1 lt1 < <(core_ticks "$LOAD_CPU")
  lg=$(cat "$WORK/lg.ticks"); lg=${lg:-0}
  all=$(sed -n 's/.*all_requests=\([0-9]*\).*/\1/p' <<< "$out")
  cpu_us=$(awk -v d=$(( c1 - c0 )) -v t="$CLK_TCK" -v n="${all:-0}" 'BEGIN { printf "%.3f", (n > 0 ? d * 1e6 / t / n : 0) }')
  kill -0 "$SPID" 2>/dev/null || alive=0
  # busy: the share of its core the server / udpgen used; other load (foreign): what
  # anything else took on those cores (a disturbed run shows here)
  echo "server=$name clients=$clients round=$round rc=$rc server_alive=$alive cpu_us_per_dgram=$cpu_us" \
       "server_util_pct=$(pct $(( c1 - c0 )) $(( st1 - st0 ))) load_util_pct=$(pct "$lg" $(( lt1 - lt0 )))" \
       "foreign_pct=$(pct $(( sb1 - sb0 - c1 + c0 )) $(( st1 - st0 ))) load_foreign_pct=$(pct $(( lb1 - lb0 - lg )) $(( lt1 - lt0 )))" \
       "$out" >> "$RAW"
  log "  $name c=$clients: $(grep -o 'rps=[0-9]*' <<< "$out") p99=$(grep -o 'p99_us=[0-9.]*' <<< "$out" | cut -d= -f2)us cpu=${cpu_us}us/dgram lost=$(grep -o ' lost=[0-9]*' <<< "$out" | cut -d= -f2) rc=$rc"
  [ $alive = 1 ]
}

# ------------------------------------------------------------------ rounds
PORT=20600
# The list rotated left by N places, so that no server always takes the
# same slot of the machine's drift (as bench/run.sh does).
rotate() {
  local n=$1; shift
  local a=("$@"); local k=$(( n % ${#a[@]} ))
  echo "${a[@]:k}" "${a[@]:0:k}"
}

run_round() {
  local round=$1 name c
  for name in $(rotate $(( round - 1 )) $SERVERS); do
    want "$name" && [ -z "${WHY[$name]:-}" ] || continue
    PORT=$(( PORT + 1 ))
    if ! start_server "$name" "$PORT"; then
      WHY[$name]="did not start or echo (log: $(tail -c 200 "$LOGS/server-$name-udp.log" | tr '\n' ' '))"
      log "$name: n/a (${WHY[$name]})"; continue
    fi
    for c in $UDP_CLIENTS; do
      measure "$name" "$c" "$PORT" "$round" || { WHY[$name]="died during the run (log: $LOGS/server-$name-udp.log)"; break; }
    done
    stop_server
  done
}

build_all
for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS"
  run_round "$r"
done
for name in $SERVERS; do
  if [ -n "${WHY[$name]:-}" ]; then
    echo "server=$name status=n/a reason=$(printf '%s' "${WHY[$name]}" | tr -s ' \t\n=' '____')" >> "$RAW"
  fi
done
lua5.4 "$B/udp_report.lua" "$RAW" "$OUT/udp.md" \
  "corio=$CORIO_COMMIT rounds=$ROUNDS duration=${DURATION}s warmup=${WARMUP}s size=${MSG_SIZE}B timeout=${UDP_TIMEOUT_MS}ms server_cpu=$SERVER_CPU load_cpu=$LOAD_CPU date=$(date -u +%Y-%m-%dT%H:%MZ)"
cat "$OUT/udp.md"
log "done in $(( $(date +%s) - T_START ))s: $OUT/udp.md"
