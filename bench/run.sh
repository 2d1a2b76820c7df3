#!/usr/bin/env bash
# corio benchmark suite (issue 5): corio against its peers.
#
#   bash bench/run.sh            full run (~20 min on 2 cores, callgrind ~5.5 of them)
#   QUICK=1 bash bench/run.sh    smoke run (~3 min)
#
# Knobs (env): DURATION (s per run), WARMUP (s), ROUNDS, ECHO_CONNS, HTTP_CONNS,
#   PIPE_CONNS, PIPE_DEPTH, IDLE_CONNS, MICRO_N, ONLY (regex of server names),
#   SKIP_INSTALL=1, SKIP_MICRO=1, SKIP_IDLE=1, SKIP_UDP=1 (bench/udp.sh),
#   SKIP_UNIX=1 (bench/unix.sh), UNIX_ROUNDS (5), SKIP_CALLGRIND=1 (bench/callgrind.sh),
#   CG_BASE (the tree callgrind compares HEAD with, 8f5c601: before the reshape),
#   BENCH_BUILD (build dir, outside the repo), BENCH_OUT (raw results dir, default bench/results).
# Writes bench/REPORT.md and bench/*.png.  A peer that fails to build or start
# is reported as n/a with the reason; it never aborts the suite.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
B=$ROOT/bench
QUICK=${QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DURATION=${DURATION:-1}; WARMUP=${WARMUP:-0.2}; ROUNDS=${ROUNDS:-1}
  IDLE_CONNS=${IDLE_CONNS:-2000}; MICRO_N=${MICRO_N:-100000}; UNIX_ROUNDS=${UNIX_ROUNDS:-1}
  CG_QUICK=(CG_N=20000 CG_RUNS=1)
else
  DURATION=${DURATION:-3}; WARMUP=${WARMUP:-1}; ROUNDS=${ROUNDS:-3}
  IDLE_CONNS=${IDLE_CONNS:-19000}; MICRO_N=${MICRO_N:-1000000}; UNIX_ROUNDS=${UNIX_ROUNDS:-5}
  CG_QUICK=()
fi
CG_BASE=${CG_BASE:-8f5c601}
ECHO_CONNS=${ECHO_CONNS:-"10 100 1000"}
HTTP_CONNS=${HTTP_CONNS:-"10 100 1000"}
PIPE_CONNS=${PIPE_CONNS:-100}
PIPE_DEPTH=${PIPE_DEPTH:-16}
MSG_SIZE=${MSG_SIZE:-64}
ONLY=${ONLY:-}
BUILD=${BENCH_BUILD:-/tmp/corio-bench-build}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/tmp/corio-bench-target}
OUT=${BENCH_OUT:-$B/results}
LOGS=$OUT/logs
SERVER_CPU=${SERVER_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
# corio is built into a private snapshot, so rebuilds of the shared tree (e.g. `make asan`)
# by others during the run cannot change what is measured
CORIO_DIR=$BUILD/corio
CORIO_ENV=(LUA_PATH="$CORIO_DIR/lua/?.lua;$CORIO_DIR/lua/?/init.lua;;" LUA_CPATH="$CORIO_DIR/lua/?.so;;")

mkdir -p "$BUILD" "$OUT" "$LOGS"
RAW=$OUT/raw.txt          # one key=value line per measured run
STATUS=$OUT/status.txt    # availability of each server / micro impl
MICRO=$OUT/micro.txt      # micro-benchmark lines
IDLE=$OUT/idle.txt        # idle-memory lines
INFO=$OUT/info.txt        # machine and versions
: > "$RAW"; : > "$STATUS"; : > "$MICRO"; : > "$IDLE"; : > "$INFO"
WORK=$(mktemp -d /tmp/corio-bench.XXXXXX)
T_START=$(date +%s)

SPID=""
LPID=""
cleanup() {
  [ -n "$LPID" ] && kill "$LPID" 2>/dev/null || true
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '[bench %4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
# reason text -> single token for key=value files
tok() { printf '%s' "$*" | tr -s ' \t\n=' '____' | cut -c1-160; }
na() { echo "server=$1 status=n/a reason=$(tok "$2")" >> "$STATUS"; log "$1: n/a ($2)"; }

# ------------------------------------------------------------------ packages
install_missing() {
  [ "${SKIP_INSTALL:-0}" = 1 ] && return 0
  local want=()
  command -v wrk >/dev/null || want+=(wrk)
  command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || want+=(nginx)
  command -v gnuplot >/dev/null || want+=(gnuplot-nox)
  [ -e /usr/lib/x86_64-linux-gnu/lua/5.4/luv.so ] || lua5.4 -e 'require"luv"' 2>/dev/null || want+=(lua-luv)
  lua5.4 -e 'require"cqueues"' 2>/dev/null || want+=(lua-cqueues)
  command -v node >/dev/null || want+=(nodejs)
  command -v cargo >/dev/null || want+=(cargo)
  [ -d /usr/share/cargo/registry ] && ls -d /usr/share/cargo/registry/tokio-1* >/dev/null 2>&1 || want+=(librust-tokio-dev)
  [ -e /usr/include/liburing.h ] || want+=(liburing-dev)
  command -v lua5.4 >/dev/null || want+=(lua5.4)
  command -v gcc >/dev/null || want+=(gcc)
  command -v taskset >/dev/null || want+=(util-linux)
  [ "${SKIP_CALLGRIND:-0}" = 1 ] || command -v valgrind >/dev/null || want+=(valgrind)
  [ ${#want[@]} -eq 0 ] && return 0
  if [ "$(id -u)" != 0 ]; then log "missing packages (not root, not installing): ${want[*]}"; return 0; fi
  log "installing: ${want[*]}"
  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}"; } \
    > "$LOGS/apt.log" 2>&1 || {
      log "apt-get install failed as a whole (see $LOGS/apt.log); trying one by one"
      for p in "${want[@]}"; do
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >> "$LOGS/apt.log" 2>&1 || log "could not install $p"
      done
    }
}

# ------------------------------------------------------------------ build
CORIO_OK=0; CORIO_WHY=""; TOKIO_OK=0; TOKIO_WHY=""; CURING_OK=0; CURING_WHY=""
build_all() {
  log "building loadgen and raw C servers into $BUILD"
  gcc -O2 -Wall -o "$BUILD/loadgen" "$B/loadgen.c" -lm 2> "$LOGS/build-loadgen.log" || {
    log "FATAL: loadgen does not build (see $LOGS/build-loadgen.log)"; cat "$LOGS/build-loadgen.log" >&2; exit 1; }
  gcc -O2 -Wall -o "$BUILD/epoll_echo" "$B/servers/epoll_echo.c" 2> "$LOGS/build-epoll_echo.log" || true
  if gcc -O2 -Wall -o "$BUILD/uring_echo" "$B/servers/uring_echo.c" -luring 2> "$LOGS/build-uring_echo.log"; then
    CURING_OK=1
  else CURING_WHY="build failed: $(tail -1 "$LOGS/build-uring_echo.log")"; fi

  log "building tokio peers (cargo, offline, Debian registry)"
  if ! command -v cargo >/dev/null; then TOKIO_WHY="cargo not installed"
  elif { (cd "$B/servers/tokio" && cargo build --release --offline) > "$LOGS/build-tokio.log" 2>&1 ||
         { rm -f "$B/servers/tokio/Cargo.lock"  # re-resolve against the crates Debian has now
           (cd "$B/servers/tokio" && cargo build --release --offline) >> "$LOGS/build-tokio.log" 2>&1; }; } \
       && [ -x "$CARGO_TARGET_DIR/release/echo" ]; then TOKIO_OK=1
  else TOKIO_WHY="cargo build failed: $(grep -m1 -E '^error' "$LOGS/build-tokio.log" || tail -1 "$LOGS/build-tokio.log")"; fi

  log "building corio (make, optimized, into $CORIO_DIR)"
  rm -rf "$CORIO_DIR"; mkdir -p "$CORIO_DIR/lua" "$CORIO_DIR/examples"
  cp -r "$ROOT/lua/corio" "$CORIO_DIR/lua/" 2>/dev/null || true
  cp "$ROOT"/examples/*.lua "$CORIO_DIR/examples/" 2>/dev/null || true
  rm -f "$CORIO_DIR/lua/corio/core.so"
  if [ ! -f "$ROOT/Makefile" ]; then CORIO_WHY="no Makefile in repo"
  elif ! make -C "$ROOT" "MODULE=$CORIO_DIR/lua/corio/core.so" SAN= OPT="-O2 -g" \
         "$CORIO_DIR/lua/corio/core.so" > "$LOGS/build-corio.log" 2>&1; then
    CORIO_WHY="make failed: $(grep -m1 -iE 'error' "$LOGS/build-corio.log" || tail -1 "$LOGS/build-corio.log")"
  elif [ ! -f "$CORIO_DIR/examples/echo_server.lua" ]; then CORIO_WHY="examples/echo_server.lua missing"
  elif ! env "${CORIO_ENV[@]}" lua5.4 -e 'require"corio"' > "$LOGS/corio-require.log" 2>&1; then
    CORIO_WHY="require corio failed: $(head -1 "$LOGS/corio-require.log")"
  else CORIO_OK=1; fi
  if [ $CORIO_OK = 1 ] && ldd "$CORIO_DIR/lua/corio/core.so" 2>/dev/null | grep -q -e libasan -e libubsan; then
    log "warning: corio core.so links a sanitizer runtime"
  fi
}

# ------------------------------------------------------------------ servers
# server table: name kind(echo|http)
ECHO_SERVERS="corio-uring corio-epoll c-uring c-epoll tokio luv cqueues node"
HTTP_SERVERS="corio-uring corio-epoll tokio node nginx"
IDLE_SERVERS="corio-uring corio-epoll luv cqueues tokio node"

# prints why NAME/KIND cannot run, or nothing
unavailable() {
  local name=$1 kind=$2
  case $name in
    corio-*) [ $CORIO_OK = 1 ] || { echo "$CORIO_WHY"; return; }
             local ex=examples/echo_server.lua
             [ "$kind" = echo ] || ex=examples/http_server.lua
             [ -f "$CORIO_DIR/$ex" ] || echo "$ex missing" ;;
    c-uring) [ $CURING_OK = 1 ] || echo "$CURING_WHY" ;;
    c-epoll) [ -x "$BUILD/epoll_echo" ] || echo "build failed" ;;
    tokio)   [ $TOKIO_OK = 1 ] || echo "$TOKIO_WHY" ;;
    luv)     lua5.4 -e 'require"luv"' 2>/dev/null || echo "lua5.4 module luv not available" ;;
    cqueues) lua5.4 -e 'require"cqueues"' 2>/dev/null || echo "lua5.4 module cqueues not available" ;;
    node)    command -v node >/dev/null || echo "node not installed" ;;
    nginx)   command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || echo "nginx not installed" ;;
  esac
}

# start NAME KIND PORT: sets SPID, returns non-zero if it does not come up
start_server() {
  local name=$1 kind=$2 port=$3 cmd
  local log=$LOGS/server-$name-$kind.log
  case $name in
    corio-uring|corio-epoll)
      local be=io_uring; [ "$name" = corio-epoll ] && be=epoll
      local ex=$CORIO_DIR/examples/echo_server.lua; [ "$kind" = http ] && ex=$CORIO_DIR/examples/http_server.lua
      cmd=(env CORIO_BACKEND=$be "${CORIO_ENV[@]}" lua5.4 "$ex" 127.0.0.1 "$port") ;;
    c-uring) cmd=("$BUILD/uring_echo" 127.0.0.1 "$port") ;;
    c-epoll) cmd=("$BUILD/epoll_echo" 127.0.0.1 "$port") ;;
    tokio)   cmd=("$CARGO_TARGET_DIR/release/$kind" 127.0.0.1 "$port") ;;
    luv)     cmd=(lua5.4 "$B/servers/luv_echo.lua" 127.0.0.1 "$port") ;;
    cqueues) cmd=(lua5.4 "$B/servers/cqueues_echo.lua" 127.0.0.1 "$port") ;;
    node)    cmd=(node "$B/servers/node_$kind.js" 127.0.0.1 "$port") ;;
    nginx)
      local d=$WORK/nginx-$port; mkdir -p "$d"
      sed "s|@DIR@|$d|g; s|@PORT@|$port|g" "$B/servers/nginx.conf.in" > "$d/nginx.conf"
      cmd=(nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log") ;;
    *) return 1 ;;
  esac
  # taskset and env exec, so $! is the server process itself
  taskset -c "$SERVER_CPU" "${cmd[@]}" >> "$log" 2>&1 &
  SPID=$!
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$SPID" 2>/dev/null; then SPID=""; return 1; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  stop_server; return 1
}

stop_server() {
  [ -n "$SPID" ] || return 0
  kill "$SPID" 2>/dev/null || true
  local i
  for i in $(seq 1 30); do kill -0 "$SPID" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

. bench/lib.sh   # cpu_ticks, core_ticks, pct
CLK_TCK=$(getconf CLK_TCK)

# busy ticks (all but idle+iowait) of one CPU, from /proc/stat
core_busy() {
  awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9; exit }' /proc/stat
}
core_total() {
  awk -v c="cpu$1" '$1 == c { s = 0; for (i = 2; i <= 9; i++) s += $i; print s; exit }' /proc/stat
}

rss_kb() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# a short functional check before measuring
smoke() {
  local kind=$1 port=$2 out
  if [ "$kind" = echo ]; then
    out=$(timeout 10 "$BUILD/loadgen" -p "$port" -c 2 -d 0.2 -w 0 -s "$MSG_SIZE" 2>&1) || { echo "echo check failed: $(tok "$out")"; return 1; }
    [[ $out == *" requests=0 "* ]] && { echo "echo check: no replies"; return 1; }
  else
    out=$(timeout 10 wrk -t1 -c10 -d1 -s "$B/wrk_report.lua" "http://127.0.0.1:$port/" 2>&1 | grep '^mode=http') \
      || { echo "http check failed"; return 1; }
    [[ $out == *" errors=0 "* && $out != *"requests=0 "* ]] || { echo "http check: $(tok "$out")"; return 1; }
  fi
  return 0
}

# one measured run: appends a line to $RAW.  A run during which other processes took
# more than RETRY_FOREIGN % of the server core or of the load core is repeated once (at most RETRY_BUDGET
# times per suite); the report still shows the other-load figure of every kept run.
RETRY_FOREIGN=${RETRY_FOREIGN:-25}
RETRY_BUDGET=${RETRY_BUDGET:-12}
measure() {
  measure_once "$@" || return 1
  if [ "$RETRY_BUDGET" -gt 0 ] && awk -v f="$LAST_FOREIGN" -v m="$RETRY_FOREIGN" 'BEGIN{ exit !(f > m) }'; then
    RETRY_BUDGET=$(( RETRY_BUDGET - 1 ))
    log "  (other load ${LAST_FOREIGN}% on the server or load core: run repeated)"
    sed -i '$d' "$RAW"
    measure_once "$@" || return 1
  fi
  return 0
}
LAST_FOREIGN=0
measure_once() {
  local name=$1 kind=$2 scen=$3 conns=$4 depth=$5 port=$6 round=$7 out rc=0
  local c0 c1 b0 b1 t0 t1 lb0 lb1 lt0 lt1 tf=$WORK/time.out
  c0=$(cpu_ticks "$SPID")
  b0=$(core_busy "$SERVER_CPU"); t0=$(core_total "$SERVER_CPU")
  lb0=$(core_busy "$LOAD_CPU"); lt0=$(core_total "$LOAD_CPU")
  # bash's `time` gives the load generator's own user+sys seconds
  if [ "$kind" = echo ]; then
    out=$( { TIMEFORMAT='%3U %3S'; time taskset -c "$LOAD_CPU" "$BUILD/loadgen" -p "$port" -c "$conns" \
          -d "$DURATION" -w "$WARMUP" -s "$MSG_SIZE" -P "$depth" 2>>"$LOGS/loadgen.log"; } 2>"$tf" ) || rc=$?
  else
    out=$( { TIMEFORMAT='%3U %3S'; time taskset -c "$LOAD_CPU" wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 5s \
          -s "$B/wrk_report.lua" "http://127.0.0.1:$port/" 2>>"$LOGS/wrk.log"; } 2>"$tf" ) || rc=$?
    out=$(printf '%s\n' "$out" | grep '^mode=http' || true)
  fi
  c1=$(cpu_ticks "$SPID")
  b1=$(core_busy "$SERVER_CPU"); t1=$(core_total "$SERVER_CPU")
  lb1=$(core_busy "$LOAD_CPU"); lt1=$(core_total "$LOAD_CPU")
  local lg_ticks; lg_ticks=$(awk -v t="$CLK_TCK" 'NF >= 2 { printf "%d", ($1 + $2) * t; exit }' "$tf" 2>/dev/null)
  [ -n "$lg_ticks" ] || lg_ticks=0
  # share of each core used by anything but the server / the load generator
  # (other processes, steal): a disturbed run shows up here
  local foreign lforeign util lutil
  foreign=$(awk -v b=$(( b1 - b0 )) -v s=$(( c1 - c0 )) -v t=$(( t1 - t0 )) 'BEGIN{ f = (t > 0 ? (b - s) * 100 / t : 0); if (f < 0) f = 0; printf "%.1f", f }')
  lforeign=$(awk -v b=$(( lb1 - lb0 )) -v s="$lg_ticks" -v t=$(( lt1 - lt0 )) 'BEGIN{ f = (t > 0 ? (b - s) * 100 / t : 0); if (f < 0) f = 0; printf "%.1f", f }')
  util=$(awk -v s=$(( c1 - c0 )) -v t=$(( t1 - t0 )) 'BEGIN{ printf "%.1f", (t > 0 ? s * 100 / t : 0) }')
  lutil=$(awk -v s="$lg_ticks" -v t=$(( lt1 - lt0 )) 'BEGIN{ printf "%.1f", (t > 0 ? s * 100 / t : 0) }')
  out=$(printf '%s' "$out" | tail -1)
  local all; all=$(printf '%s' "$out" | sed -n 's/.*all_requests=\([0-9]*\).*/\1/p')
  local cpu_us=0
  if [ -n "$all" ] && [ "$all" -gt 0 ]; then
    cpu_us=$(awk -v d=$(( c1 - c0 )) -v t="$CLK_TCK" -v n="$all" 'BEGIN{printf "%.3f", d*1e6/t/n}')
  fi
  local alive=1; kill -0 "$SPID" 2>/dev/null || alive=0
  LAST_FOREIGN=$(awk -v a="$foreign" -v b="$lforeign" 'BEGIN{ print (a > b ? a : b) }')
  echo "kind=$kind scen=$scen conns=$conns depth=$depth server=$name round=$round rc=$rc server_alive=$alive cpu_us_per_req=$cpu_us foreign_pct=$foreign load_foreign_pct=$lforeign server_util_pct=$util load_util_pct=$lutil $out" >> "$RAW"
  log "  $name $scen c=$conns: $(printf '%s' "$out" | grep -o 'rps=[0-9]*') p99=$(printf '%s' "$out" | grep -o 'p99_us=[0-9.]*' | cut -d= -f2)us cpu=${cpu_us}us/req busy=${util}%/${lutil}% other=${foreign}%/${lforeign}% rc=$rc"
  [ $alive = 1 ]
}

PORT=20100
next_port() { PORT=$(( PORT + 1 )); }

want() { [ -z "$ONLY" ] || [[ $1 =~ $ONLY ]]; }

declare -A DEAD   # name:kind -> reason (set once, skips later rounds)

run_kind() {
  local kind=$1 servers=$2 round=$3 name why
  for name in $servers; do
    want "$name" || continue
    [ -n "${DEAD[$name:$kind]:-}" ] && continue
    why=$(unavailable "$name" "$kind")
    if [ -n "$why" ]; then DEAD[$name:$kind]=$why; na "$name:$kind" "$why"; continue; fi
    next_port
    if ! start_server "$name" "$kind" "$PORT" && ! { sleep 2; next_port; start_server "$name" "$kind" "$PORT"; }; then
      why="did not start or listen (log: $(tail -c 200 "$LOGS/server-$name-$kind.log" 2>/dev/null | tr '\n' ' '))"
      DEAD[$name:$kind]=$why; na "$name:$kind" "$why"; continue
    fi
    if ! why=$(smoke "$kind" "$PORT"); then
      stop_server; DEAD[$name:$kind]=$why; na "$name:$kind" "$why"; continue
    fi
    [ "$round" = 1 ] && echo "server=$name:$kind status=ok" >> "$STATUS"
    local c ok=1
    if [ "$kind" = echo ]; then
      for c in $ECHO_CONNS; do measure "$name" echo pingpong "$c" 1 "$PORT" "$round" || { ok=0; break; }; done
      [ $ok = 1 ] && { measure "$name" echo pipelined "$PIPE_CONNS" "$PIPE_DEPTH" "$PORT" "$round" || ok=0; }
    else
      for c in $HTTP_CONNS; do measure "$name" http plaintext "$c" 1 "$PORT" "$round" || { ok=0; break; }; done
    fi
    if [ $ok = 0 ]; then
      why="server died during the run (log: $(tail -c 200 "$LOGS/server-$name-$kind.log" 2>/dev/null | tr '\n' ' '))"
      DEAD[$name:$kind]=$why; na "$name:$kind" "$why"
    fi
    stop_server
  done
}

# ------------------------------------------------------------------ idle memory
run_idle() {
  local hard; hard=$(ulimit -Hn)
  local n=$IDLE_CONNS
  if [ "$hard" != unlimited ] && [ "$n" -gt $(( hard - 200 )) ]; then
    n=$(( hard - 200 )); log "idle: fd hard limit $hard, using $n connections"
  fi
  local name why
  for name in $IDLE_SERVERS; do
    want "$name" || continue
    why=$(unavailable "$name" echo)
    if [ -z "$why" ]; then
      next_port
      if ! start_server "$name" echo "$PORT"; then why="did not start"
      elif ! why=$(smoke echo "$PORT"); then stop_server
      else why=""; fi
    fi
    if [ -n "$why" ]; then
      echo "idle=1 server=$name status=n/a reason=$(tok "$why")" >> "$IDLE"; log "idle $name: n/a ($why)"; continue
    fi
    sleep 0.3
    local before after out lf=$WORK/idle-$name.out
    before=$(rss_kb "$SPID")
    "$BUILD/loadgen" -i -p "$PORT" -c "$n" -d 300 > "$lf" 2>>"$LOGS/loadgen-idle.log" &
    LPID=$!
    local i
    for i in $(seq 1 600); do
      grep -q '^mode=idle' "$lf" 2>/dev/null && break
      kill -0 "$LPID" 2>/dev/null || break
      sleep 0.1
    done
    sleep 1
    after=$(rss_kb "$SPID")
    out=$(head -1 "$lf")
    kill "$LPID" 2>/dev/null || true; wait "$LPID" 2>/dev/null || true; LPID=""
    local per; per=$(awk -v a="$after" -v b="$before" -v n="$n" 'BEGIN{printf "%.0f", (a-b)*1024/n}')
    echo "idle=1 server=$name status=ok conns=$n rss_before_kb=$before rss_after_kb=$after bytes_per_conn=$per $out" >> "$IDLE"
    log "idle $name: $per bytes/conn ($out)"
    stop_server
    sleep 1   # let the closed connections drain
  done
}

# ------------------------------------------------------------------ micro
run_micro() {
  local tmo=$(( MICRO_N >= 500000 ? 120 : 40 ))
  local m impl file
  for m in spawn sleep timeout channel semaphore semaphore_contended; do
    for impl in corio cqueues luv lua-coroutine; do
      case "$impl:$m" in
        corio:*) file=corio_micro.lua ;;
        cqueues:spawn|cqueues:sleep|cqueues:channel) file=cqueues_micro.lua ;;
        luv:timeout|luv:sleep) file=luv_micro.lua ;;
        lua-coroutine:spawn|lua-coroutine:channel) file=coroutine_micro.lua ;;
        *) continue ;;
      esac
      want "$impl" || continue
      local out rc=0
      if [ "$impl" = corio ]; then
        out=$(cd "$ROOT" && timeout "$tmo" env "${CORIO_ENV[@]}" taskset -c "$SERVER_CPU" lua5.4 "$B/micro/$file" "$m" "$MICRO_N" 2>"$LOGS/micro-$impl-$m.log") || rc=$?
      else
        out=$(timeout "$tmo" taskset -c "$SERVER_CPU" lua5.4 "$B/micro/$file" "$m" "$MICRO_N" 2>"$LOGS/micro-$impl-$m.log") || rc=$?
      fi
      out=$(printf '%s\n' "$out" | grep '^micro=' | tail -1 || true)
      if [ -z "$out" ]; then
        local why="exit $rc"; [ $rc = 124 ] && why="timeout ${tmo}s"
        why="$why: $(tail -c 150 "$LOGS/micro-$impl-$m.log" | tr '\n' ' ')"
        out="micro=$m impl=$impl status=n/a reason=$(tok "$why")"
      fi
      echo "$out" >> "$MICRO"
      log "micro $out"
    done
  done
}

# ------------------------------------------------------------------ issue 11 benches
# corio-only scripts with their own rounds; their tables go into the report
corio_wanted() { want corio-uring || want corio-epoll; }

# Unix-socket ping-pong against TCP (bench/unix.sh) on this run's corio build
run_unix() {
  [ $CORIO_OK = 1 ] || { log "Unix ping-pong: n/a ($CORIO_WHY)"; return 0; }
  local label; label=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')
  [ -z "$(git -C "$ROOT" status --porcelain -- csrc lua examples 2>/dev/null)" ] || label="$label+"
  CORIO_DIR=$CORIO_DIR CORIO_LABEL=$label BENCH_OUT=$OUT ROUNDS=$UNIX_ROUNDS DURATION=$DURATION \
    SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU bash "$B/unix.sh" > "$LOGS/unix.out" 2>&1 ||
    { log "Unix ping-pong failed (see $LOGS/unix.out)"; rm -f "$OUT/unix.md"; }
}

# Instructions per request, CG_BASE against HEAD (bench/callgrind.sh).  Both are
# exported with git archive, named by their short commit (the table's column
# labels): no worktree to leave behind, and edits under way are not measured.
run_callgrind() {
  command -v valgrind >/dev/null || { log "callgrind: n/a (valgrind not installed)"; return 0; }
  local trees=$BUILD/cg-trees rev trees_dirs=()
  rm -rf "$trees"
  for rev in "$CG_BASE" HEAD; do
    rev=$(git -C "$ROOT" rev-parse --short "$rev^{commit}" 2>/dev/null) || { log "callgrind: no revision $rev"; return 0; }
    mkdir -p "$trees/$rev"
    git -C "$ROOT" archive "$rev" Makefile csrc lua examples | tar -x -C "$trees/$rev" ||
      { log "callgrind: git archive $rev failed"; rm -rf "$trees"; return 0; }
    trees_dirs+=("$trees/$rev")
  done
  env "${CG_QUICK[@]}" BENCH_OUT="$OUT" CG_BUILD="$BUILD/cg" CG_CPU="$SERVER_CPU" \
    bash "$B/callgrind.sh" "${trees_dirs[@]}" > "$LOGS/callgrind.out" 2>&1 ||
    { log "callgrind failed (see $LOGS/callgrind.out)"; rm -f "$OUT/callgrind.txt"; }
  rm -rf "$trees"
}

# ------------------------------------------------------------------ info
collect_info() {
  {
    echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "nproc=$(nproc)"
    echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
    echo "kernel=$(uname -sr)"
    echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "mem=$(free -h | awk '/^Mem:/ {print $2}')"
    echo "gcc=$(gcc --version | head -1)"
    echo "lua=$(lua5.4 -v 2>&1 | head -1)"
    echo "liburing=$(dpkg-query -W -f '${Version}' liburing-dev 2>/dev/null || echo '?')"
    echo "luv=$(lua5.4 -e 'print(require"luv".version_string())' 2>/dev/null || echo n/a) (lua-luv $(dpkg-query -W -f '${Version}' lua-luv 2>/dev/null || echo '?'))"
    echo "cqueues=$(lua5.4 -e 'print(require"cqueues".VERSION)' 2>/dev/null || echo n/a) (lua-cqueues $(dpkg-query -W -f '${Version}' lua-cqueues 2>/dev/null || echo '?'))"
    echo "tokio=$(awk '/^name = "tokio"$/ {getline; gsub(/version = |"/, ""); print}' "$B/servers/tokio/Cargo.lock" 2>/dev/null || echo '?') (rustc $(rustc --version 2>/dev/null | awk '{print $2}'))"
    echo "node=$(node --version 2>/dev/null || echo n/a)"
    echo "nginx=$(nginx -v 2>&1 | sed 's/.*nginx\///')"
    echo "wrk=$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
    echo "corio=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$( [ $CORIO_OK = 1 ] || echo " (n/a: $CORIO_WHY)")"
    echo "params=quick=$QUICK duration=${DURATION}s warmup=${WARMUP}s rounds=$ROUNDS msg=${MSG_SIZE}B echo_conns=[$ECHO_CONNS] http_conns=[$HTTP_CONNS] pipelined=${PIPE_CONNS}x${PIPE_DEPTH} idle_conns=$IDLE_CONNS micro_n=$MICRO_N server_cpu=$SERVER_CPU load_cpu=$LOAD_CPU"
  } > "$INFO"
}

# ------------------------------------------------------------------ main
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
install_missing
build_all
collect_info
log "corio: $( [ $CORIO_OK = 1 ] && echo ok || echo "n/a ($CORIO_WHY)"); tokio: $( [ $TOKIO_OK = 1 ] && echo ok || echo "n/a ($TOKIO_WHY)")"

# The list rotated left by N places: each round starts with another
# server, so no server always runs in the same slot of the machine's
# drift (the first slot of a round was the slowest in some runs).
rotate() {
  local n=$1; shift
  local a=("$@"); local k=$(( n % ${#a[@]} ))
  echo "${a[@]:k}" "${a[@]:0:k}"
}

for r in $(seq 1 "$ROUNDS"); do
  log "round $r/$ROUNDS: echo"
  run_kind echo "$(rotate $((r - 1)) $ECHO_SERVERS)" "$r"
  if command -v wrk >/dev/null; then
    log "round $r/$ROUNDS: http"
    run_kind http "$(rotate $((r - 1)) $HTTP_SERVERS)" "$r"
  elif [ "$r" = 1 ]; then
    for s in $HTTP_SERVERS; do na "$s:http" "wrk not installed"; done
  fi
done
[ "${SKIP_IDLE:-0}" = 1 ] || { log "idle memory ($IDLE_CONNS connections)"; run_idle; }
[ "${SKIP_MICRO:-0}" = 1 ] || { log "micro-benchmarks (N=$MICRO_N)"; run_micro; }
rm -f "$OUT/udp.md"   # the report's UDP section comes from this run or none
[ "${SKIP_UDP:-0}" = 1 ] || { log "UDP echo (bench/udp.sh)"
  BENCH_BUILD=$BUILD BENCH_OUT=$OUT DURATION=$DURATION WARMUP=$WARMUP ROUNDS=$ROUNDS ONLY=$ONLY \
    SERVER_CPU=$SERVER_CPU LOAD_CPU=$LOAD_CPU bash "$B/udp.sh" > "$LOGS/udp.out" || log "UDP echo failed"; }
rm -f "$OUT/unix.md" "$OUT/callgrind.txt"   # likewise for these two sections
if corio_wanted; then
  [ "${SKIP_UNIX:-0}" = 1 ] || { log "Unix-socket ping-pong (bench/unix.sh, $UNIX_ROUNDS rounds)"; run_unix; }
  [ "${SKIP_CALLGRIND:-0}" = 1 ] || { log "instructions per request (bench/callgrind.sh, $CG_BASE against HEAD)"; run_callgrind; }
fi

log "writing report"
lua5.4 "$B/report.lua" "$OUT" "$B" || { log "report generation failed"; exit 1; }
log "done in $(( $(date +%s) - T_START ))s: $B/REPORT.md"
