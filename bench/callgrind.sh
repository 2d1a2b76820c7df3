#!/usr/bin/env bash
# corio server instructions per request, counted by valgrind's callgrind.
#
#   bash bench/callgrind.sh [TREE...]     each TREE a corio checkout (default: this repo)
#
# For each tree, each scenario (echo ping-pong, HTTP keep-alive) and each
# backend (io_uring, epoll), the tree's own examples/{echo,http}_server.lua
# (the servers bench/run.sh measures) runs under callgrind while
# bench/loadgen sends a fixed number of requests.  Instructions are counted,
# not time, so the figures repeat on a noisy machine and a change in the core
# can be compared within a few per cent (see bench/CALLGRIND.md).
#
# Knobs (env):
#   CG_N=100000          requests per measured run (and N/10 for the short run)
#   CG_RUNS=3            server runs per figure; the figure is their median
#   CG_CPU=1             the CPU that server and load generator share
#   CG_CONNS=10 CG_MSG=64   connections, echo message bytes
#   CG_SCENARIOS="echo http" CG_BACKENDS="io_uring epoll"
#   CG_BUILD=/tmp/corio-cg-build   where loadgen and the tree copies are built
#   CG_KEEP=1            keep the callgrind dumps for callgrind_annotate
#                        (<name>.1 start-up and warm-up, .2 N/10 requests, .3 N)
#   BENCH_OUT=bench/results   where the results go
# Output: a markdown table on stdout and in $BENCH_OUT/callgrind.txt (which
# bench/report.lua puts into REPORT.md), the raw totals of every run in
# $BENCH_OUT/callgrind-raw.txt.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD
N=${CG_N:-100000}
N0=$(( N / 10 ))
RUNS=${CG_RUNS:-3}
CPU=${CG_CPU:-1}
CONNS=${CG_CONNS:-10}
MSG=${CG_MSG:-64}
BUILD=${CG_BUILD:-/tmp/corio-cg-build}
OUT=${BENCH_OUT:-$ROOT/bench/results}
LOADGEN=$BUILD/loadgen
BACKENDS=${CG_BACKENDS:-"io_uring epoll"}
SCENARIOS=${CG_SCENARIOS:-"echo http"}
WORK=$(mktemp -d /tmp/corio-cg.XXXXXX)
T_START=$(date +%s)

SPID=""
cleanup() {
  stop_server
  if [ "${CG_KEEP:-0}" = 1 ]; then log "dumps kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM   # through the EXIT trap: no server left behind

log() { printf '[callgrind %4ds] %s\n' "$(( $(date +%s) - T_START ))" "$*" >&2; }
die() { log "error: $*"; exit 1; }

# ------------------------------------------------------------------ pinning

# Server and load generator share one CPU, the load generator at real-time
# priority: woken by a reply, it sends the next request at once, before the
# server goes on.  So the server finds the same work at every wake-up in
# every run.  Left to the scheduler, the race between the two (does a read
# find the next request already there, how many completions does one
# io_uring_enter reap) moved the figures by up to 5 % between runs; pinned
# this way, a server's figure repeats within 0.05 %.  What still differs
# between server processes (up to ~1 %) is Lua's string hash seed, taken
# from time() at start-up: it changes the collision chains of some table
# lookups.  Hence several runs and their median.
set_pinning() {
  [ "$CPU" -lt "$(nproc)" ] || CPU=0
  SERVER_RUN=(taskset -c "$CPU")
  LOAD_RUN=(taskset -c "$CPU" chrt -f 1)
  if ! "${LOAD_RUN[@]}" true 2> /dev/null; then
    log "warning: chrt -f refused (no CAP_SYS_NICE?): load generator at normal priority, figures less stable"
    LOAD_RUN=(taskset -c "$CPU")
  fi
}

# ------------------------------------------------------------------ build

build_loadgen() {
  mkdir -p "$BUILD"
  gcc -O2 -Wall -o "$LOADGEN" "$ROOT/bench/loadgen.c" -lm || die "loadgen does not build"
}

# build_tree TREE DIR: a private copy of TREE built in DIR, so that
# rebuilds of TREE by others (make asan, make clean) cannot change what is
# measured.  The copied core.so is dropped: it may be a sanitizer build.
build_tree() {
  local tree=$1 dir=$2 f
  rm -rf "$dir"; mkdir -p "$dir"
  for f in Makefile csrc lua examples; do
    [ -e "$tree/$f" ] || die "$tree has no $f: not a corio checkout"
    cp -r "$tree/$f" "$dir/"
  done
  rm -f "$dir/lua/corio/core.so"
  make -C "$dir" all SAN= OPT='-O2 -g' > "$dir/build.log" 2>&1 ||
    { tail -5 "$dir/build.log" >&2; die "make all failed in $dir"; }
  if ldd "$dir/lua/corio/core.so" | grep -q -e libasan -e libubsan; then
    die "$dir/lua/corio/core.so links a sanitizer runtime"
  fi
}

# a label for TREE's column: its commit, "+" when csrc/lua/examples differ from it
tree_label() {
  local tree=$1 rev
  rev=$(git -C "$tree" rev-parse --short HEAD 2>/dev/null) || { basename "$tree"; return; }
  [ -z "$(git -C "$tree" status --porcelain -- csrc lua examples Makefile 2>/dev/null)" ] || rev="$rev+"
  echo "$rev"
}

# ------------------------------------------------------------------ server

# start_server DIR KIND BACKEND: the tree's example server under callgrind,
# on a free port (port 0: the server prints the one it got).  Sets SPID, PORT.
start_server() {
  local dir=$1 kind=$2 be=$3 i
  : > "$WORK/server.out"
  # --vgdb-prefix keeps valgrind's control FIFOs in $WORK (a killed valgrind leaves them)
  env CORIO_BACKEND="$be" LUA_PATH="$dir/lua/?.lua;$dir/lua/?/init.lua;;" LUA_CPATH="$dir/lua/?.so;;" \
    "${SERVER_RUN[@]}" valgrind --tool=callgrind --vgdb-prefix="$WORK/vgdb" --callgrind-out-file="$CG_OUT" \
    lua5.4 "$dir/examples/${kind}_server.lua" 127.0.0.1 0 > "$WORK/server.out" 2> "$WORK/server.err" &
  SPID=$!
  for i in $(seq 1 600); do
    PORT=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$WORK/server.out")
    [ -n "$PORT" ] && return 0
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  tail -5 "$WORK/server.err" >&2
  die "$kind server ($be) did not start"
}

# The server is killed, not terminated: under valgrind 3.19 a SIGTERM stays
# pending while the server waits in io_uring_enter (valgrind keeps signals
# blocked in that syscall).  Its counts were dumped before.
stop_server() {
  [ -n "$SPID" ] || return 0
  kill -KILL "$SPID" 2>/dev/null || true
  wait "$SPID" 2>/dev/null || true
  SPID=""
}

# utime+stime of the server (valgrind runs the guest in its own process)
cpu_ticks() {
  local s; s=$(cat "/proc/$SPID/stat") || die "server died (see $WORK/server.err)"
  s=${s##*) }
  # shellcheck disable=SC2086 # split into the fields on purpose
  set -- $s
  echo $(( ${12} + ${13} ))
}

# Returns once the server has used no CPU for 1 s: it has served the closed
# connections and run its idle collection pass (due 50 ms after the loop goes
# quiet), so that work lands in the dump that follows, in every run alike.
wait_quiet() {
  local last=-1 now still=0
  while [ $still -lt 5 ]; do
    sleep 0.2
    now=$(cpu_ticks)
    if [ "$now" = "$last" ]; then still=$(( still + 1 )); else still=0; last=$now; fi
  done
}

# dump: callgrind writes the instructions counted since the previous dump
# (and zeroes its counters); sets IR to that total.  callgrind_control reaches
# the server through vgdb, which interrupts a blocked syscall (the loop
# retries it).  Functions that start or stop the server run in the main
# shell, never in $(...), so the EXIT trap always knows SPID.
DUMPS=0
IR=0
dump() {
  DUMPS=$(( DUMPS + 1 ))
  callgrind_control --vgdb-prefix="$WORK/vgdb" --dump "$SPID" > "$WORK/control.log" 2>&1 ||
    { cat "$WORK/control.log" >&2; die "callgrind_control --dump failed"; }
  local f=$CG_OUT.$DUMPS i
  for i in $(seq 1 100); do
    grep -q '^totals:' "$f" 2>/dev/null && break
    sleep 0.1
  done
  IR=$(awk '/^totals:/ { print $2; exit }' "$f")
  [ -n "$IR" ] || die "no totals in $f"
}

# load KIND COUNT: exactly COUNT requests over $CONNS connections, one in
# flight on each, then the connections close
load() {
  local kind=$1 count=$2 out rc=0
  local mode=(-s "$MSG"); [ "$kind" = http ] && mode=(-m http)
  out=$("${LOAD_RUN[@]}" "$LOADGEN" -p "$PORT" -c "$CONNS" -n "$count" -d 600 "${mode[@]}" 2>&1) || rc=$?
  [ $rc = 0 ] && [[ $out == *" all_requests=$count "* ]] || die "loadgen ($kind, $count): rc=$rc $out"
}

# ------------------------------------------------------------------ measure

# measure DIR KIND BACKEND RUN: sets PER_REQ to the server's instructions
# per request.
#
# The server serves a warm-up, then N0 = N/10 requests, then N; its counts
# are dumped after each.  The dump of N0 requests (A) and that of N (B) hold
# the same fixed work besides the requests: 10 connections accepted, their
# tasks spawned and ended, one idle collection pass.  So (B - A) / (N - N0)
# is the cost of a request, with start-up (Lua, module load, warm-up to a
# steady heap: the first dump) and shutdown (never dumped) left out.  This is
# simpler than toggling collection on and off (--collect-atstart=no), which
# would count the connections' set-up and teardown with the requests.
# Ir counts every user-space instruction of every thread of the process.
measure() {
  local dir=$1 kind=$2 be=$3 run=$4 a b
  DUMPS=0
  CG_OUT=$WORK/cg-$(basename "$dir")-$kind-$be-$run.out
  start_server "$dir" "$kind" "$be"
  load "$kind" "$N0"; wait_quiet; dump        # start-up and warm-up: dropped
  load "$kind" "$N0"; wait_quiet; dump; a=$IR
  load "$kind" "$N"; wait_quiet; dump; b=$IR
  stop_server
  PER_REQ=$(awk -v a="$a" -v b="$b" -v n0="$N0" -v n="$N" 'BEGIN { printf "%.1f", (b - a) / (n - n0) }')
  echo "tree=$dir scenario=$kind backend=$be run=$run n0=$N0 n=$N ir_n0=$a ir_n=$b per_req=$PER_REQ" \
    >> "$OUT/callgrind-raw.txt"
}

# median_spread VALUE...: prints their median and (max - min) / median in %
median_spread() {
  printf '%s\n' "$@" | sort -n |
    awk '{ v[NR] = $1 }
         END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
               printf "%.1f %.2f\n", m, (v[NR] - v[1]) * 100 / m }'
}

# ------------------------------------------------------------------ report

scenario_name() {
  case $1 in
    echo) echo "echo ping-pong ${MSG} B, $CONNS conns" ;;
    http) echo "HTTP keep-alive, $CONNS conns" ;;
  esac
}

# table LABEL... : reads RES[scenario:backend:index]; ratio columns vs the first tree
table() {
  local labels=("$@") k s be row
  row="| scenario | backend |"
  for k in "${!labels[@]}"; do row="$row ${labels[$k]} |"; done
  for (( k = 1; k < ${#labels[@]}; k++ )); do row="$row ${labels[$k]} / ${labels[0]} |"; done
  echo "$row"
  row="|---|---|"
  for (( k = 0; k < 2 * ${#labels[@]} - 1; k++ )); do row="$row---:|"; done
  echo "$row"
  for s in $SCENARIOS; do
    for be in $BACKENDS; do
      row="| $(scenario_name "$s") | $be |"
      for k in "${!labels[@]}"; do row="$row ${RES[$s:$be:$k]} |"; done
      for (( k = 1; k < ${#labels[@]}; k++ )); do
        row="$row $(awk -v x="${RES[$s:$be:$k]}" -v y="${RES[$s:$be:0]}" 'BEGIN { printf "%.3f", x / y }') |"
      done
      echo "$row"
    done
  done
}

# ------------------------------------------------------------------ main

command -v valgrind > /dev/null && command -v callgrind_control > /dev/null ||
  die "valgrind is not installed (apt-get install valgrind)"
[ $# -gt 0 ] || set -- "$ROOT"
mkdir -p "$OUT"
: > "$OUT/callgrind-raw.txt"
set_pinning
build_loadgen

# measure_tree INDEX TREE: builds TREE and fills RES[scenario:backend:INDEX]
measure_tree() {
  local i=$1 tree=$2 dir s be run median spread per
  dir=$BUILD/$i-$(basename "$tree")
  log "tree $i: $tree (${LABELS[$i]}): building in $dir"
  build_tree "$tree" "$dir"
  for s in $SCENARIOS; do
    for be in $BACKENDS; do
      per=()
      for run in $(seq 1 "$RUNS"); do
        measure "$dir" "$s" "$be" "$run"
        per+=("$PER_REQ")
      done
      read -r median spread < <(median_spread "${per[@]}")
      RES[$s:$be:$i]=$median
      log "  $s $be: ${per[*]} instructions/request (spread $spread %)"
      if awk -v x="$spread" -v y="$MAX_SPREAD" 'BEGIN { exit !(x > y) }'; then
        MAX_SPREAD=$spread; MAX_SPREAD_AT="$s $be, ${LABELS[$i]}"
      fi
    done
  done
}

report() {
  local k
  echo "corio server instructions per request: callgrind Ir (user space, whole process),"
  echo "(Ir of $N requests - Ir of $N0) / $(( N - N0 )), median of $RUNS runs;" \
       "$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo
  for k in "${!LABELS[@]}"; do echo "- ${LABELS[$k]}: ${TREES[$k]}"; done
  echo
  table "${LABELS[@]}"
  [ "$RUNS" -gt 1 ] || return 0   # one run per figure: no spread to give
  echo
  echo "The runs of one figure differ by at most $MAX_SPREAD % ($MAX_SPREAD_AT)."
}

declare -A RES
MAX_SPREAD=0 MAX_SPREAD_AT=""
TREES=() LABELS=()
for tree in "$@"; do
  tree=$(cd "$tree" && pwd)
  TREES+=("$tree")
  LABELS+=("$(tree_label "$tree")")
done
for k in "${!TREES[@]}"; do measure_tree "$k" "${TREES[$k]}"; done
report | tee "$OUT/callgrind.txt"
log "done in $(( $(date +%s) - T_START ))s: $OUT/callgrind.txt"
