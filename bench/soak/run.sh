#!/usr/bin/env bash
# bench/soak/run.sh: the soak test (make soak). A corio echo server with
# background churn (bench/soak/server.lua) and a corio client holding
# SOAK_CONNS connections (bench/soak/client.lua), run for SOAK_S seconds.
# Every SOAK_EVERY seconds both processes are asked (SIGUSR1) for their
# counters and the server's RSS, fd count and CPU time are read from /proc;
# then the client, and after it the server, are stopped with SIGTERM and
# must wind down cleanly. bench/soak/report.lua writes the table, the plot
# and the verdict into the run's directory.
#
# Knobs: SOAK_S (600), SOAK_CONNS (1000), SOAK_SEED (random, printed),
# SOAK_EVERY (2), SOAK_WARMUP (20), SOAK_OUT (bench/results/soak/<stamp>),
# CORIO_BACKEND (io_uring or epoll), SOAK_LEAK (mem or fd: a leaking server,
# to see the verdict fail).
set -u
cd "$(dirname "$0")/../.."
export LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;'

S=${SOAK_S:-600}
CONNS=${SOAK_CONNS:-1000}
SEED=${SOAK_SEED:-$(( (RANDOM << 15) | RANDOM ))}
EVERY=${SOAK_EVERY:-2}
WARMUP=${SOAK_WARMUP:-20}
OUT=${SOAK_OUT:-bench/results/soak/$(date -u +%Y%m%d-%H%M%S)-${S}s-${SEED}}
TCK=$(getconf CLK_TCK)
mkdir -p "$OUT"
: >"$OUT/server.stats"; : >"$OUT/client.stats"; : >"$OUT/samples.txt"

echo "soak: ${S} s, ${CONNS} connections, seed ${SEED}, backend ${CORIO_BACKEND:-default}," \
     "sample every ${EVERY} s, warm-up ${WARMUP} s${SOAK_LEAK:+, SOAK_LEAK=$SOAK_LEAK}; output $OUT"

now() { local t=${EPOCHREALTIME/./}; echo $(( t / 1000 )); }   # milliseconds
T0=$(now)
elapsed() { local t; t=$(now); printf '%d.%03d' $(( (t - T0) / 1000 )) $(( (t - T0) % 1000 )); }

# wait_for CMD...: retries CMD for up to 5 s.
wait_for() {
  local i
  for i in $(seq 250); do "$@" && return 0; sleep 0.02; done
  return 1
}
lines() { local c; c=$(wc -l <"$1"); [ "$c" -ge "$2" ]; }
alive() { kill -0 "$1" 2>/dev/null; }
cpu_ticks() { local f; read -ra f <"/proc/$1/stat" || return; echo $(( f[13] + f[14] )); }
fd_count() { local f=(/proc/"$1"/fd/*); echo ${#f[@]}; }
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

lua5.4 bench/soak/server.lua "$OUT/server.stats" >"$OUT/server.out" 2>"$OUT/server.err" &
SPID=$!
CPID=
cleanup() { for p in $CPID $SPID; do kill -9 "$p" 2>/dev/null; done; }
trap cleanup EXIT
if ! wait_for grep -q '^port ' "$OUT/server.out"; then
  echo "soak: the server did not start"; cat "$OUT/server.err"; echo "0 passed, 1 failed"; exit 1
fi
PORT=$(awk '/^port/ { print $2 }' "$OUT/server.out")
FDS_IDLE=$(fd_count $SPID)
echo "meta seed=$SEED conns=$CONNS seconds=$S every=$EVERY warmup=$WARMUP backend=${CORIO_BACKEND:-default}" \
     "leak=${SOAK_LEAK:-none} tck=$TCK idle_fds=$FDS_IDLE idle_rss_kb=$(rss_kb $SPID)" \
     "server_pid=$SPID port=$PORT" >"$OUT/meta.txt"

lua5.4 bench/soak/client.lua "$PORT" "$CONNS" "$SEED" "$OUT/client.stats" $(( S + 60 )) \
  >"$OUT/client.out" 2>"$OUT/client.err" &
CPID=$!
sleep 0.3                               # the client opens its signal listener
T0=$(now)

# One sample: ask both processes, then read the server's /proc. A process
# that does not answer within 5 s has stalled: the sample says so.
k=0; missed=0
sample_once() {
  k=$((k + 1))
  kill -USR1 $SPID $CPID 2>/dev/null
  local sl cl
  wait_for lines "$OUT/server.stats" $k && sl=$(tail -n1 "$OUT/server.stats") || { sl="s_missed=1"; missed=1; }
  wait_for lines "$OUT/client.stats" $k && cl=$(tail -n1 "$OUT/client.stats") || { cl="c_missed=1"; missed=1; }
  echo "t=$(elapsed) rss_kb=$(rss_kb $SPID) fds=$(fd_count $SPID) s_cpu=$(cpu_ticks $SPID)" \
       "c_cpu=$(cpu_ticks $CPID) $sl $cl" >>"$OUT/samples.txt"
}

next=$EVERY
while [ "$(( ($(now) - T0) / 1000 ))" -lt "$S" ]; do
  wait_ms=$(( next * 1000 - ($(now) - T0) ))
  [ $wait_ms -gt 0 ] && sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"
  if ! alive $SPID || ! alive $CPID; then break; fi
  sample_once
  [ $missed = 1 ] && break
  next=$(( next + EVERY ))
done

# Wind down: the client first (its connections end, it says final=1), then
# the server, once it holds no connection (its own count and /proc's fds).
# A process that does not stop within 15 s (20 s for the server) is killed
# and counted as hung.
END=""
if alive $CPID; then
  kill -TERM $CPID
  for _ in $(seq 150); do alive $CPID || break; sleep 0.1; done
  alive $CPID && { END="$END client_hung=1"; kill -9 $CPID; }
fi
wait $CPID 2>/dev/null; CRC=$?
CPID=
if alive $SPID; then
  drained=0
  for _ in $(seq 100); do
    [ "$(fd_count $SPID)" -le "$FDS_IDLE" ] && { drained=1; break; }
    sleep 0.05
  done
  END="$END drain_fds=$(fd_count $SPID) drain_rss_kb=$(rss_kb $SPID) drained=$drained"
  kill -TERM $SPID
  for _ in $(seq 200); do alive $SPID || break; sleep 0.1; done
  alive $SPID && { END="$END server_hung=1"; kill -9 $SPID; }
fi
wait $SPID 2>/dev/null; SRC=$?
trap - EXIT
cleanup
echo "end client_rc=$CRC server_rc=$SRC$END" >>"$OUT/meta.txt"
grep -h 'final=1' "$OUT/server.stats" "$OUT/client.stats" | tr '\n' ' ' | sed 's/^/final /' >>"$OUT/meta.txt"
echo >>"$OUT/meta.txt"

# The report prints the verdict; should it break, the run fails all the same.
report=$(lua5.4 bench/soak/report.lua "$OUT" 2>&1); rc=$?
echo "$report"
if ! tail -n1 <<<"$report" | grep -Eq '^[0-9]+ passed, [0-9]+ failed$'; then
  echo "0 passed, 1 failed"; exit 1
fi
exit $rc
