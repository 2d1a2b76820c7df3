#!/usr/bin/env bash
# spec/fuzz/api_fuzz.sh: the API fuzzer (spec/fuzz/api_fuzz.lua) for FUZZ_S
# seconds on each backend, io_uring then epoll, against the module built
# with ASan + UBSan in spec/c/bin/asan (`make fuzz` builds it), with the
# ASan runtime preloaded as spec/run.sh does for CORIO_ASAN=1. One test per
# backend run; prints a line per backend and "N passed, N failed" last.
# Environment: FUZZ_S (default 60), FUZZ_SEED (default: the time; printed),
# FUZZ_ROUND (replay one round), FUZZ_BACKENDS (default "io_uring epoll"),
# FUZZ_CPATH (default the ASan build; "lua/?.so;;" runs the plain one),
# FUZZ_ASAN (default 1: preload the ASan runtime), FUZZ_OUT (the logs' directory).
set -u
cd "$(dirname "$0")/../.."

FUZZ_S=${FUZZ_S:-60}
FUZZ_SEED=${FUZZ_SEED:-$(date +%s)}
CPATH_=${FUZZ_CPATH:-"spec/c/bin/asan/?.so;lua/?.so;;"}
OUT=${FUZZ_OUT:-spec/c/bin/apifuzz}   # logs, and the round each backend is in
mkdir -p "$OUT"
echo "fuzz: seed $FUZZ_SEED, $FUZZ_S s per backend${FUZZ_ROUND:+, round $FUZZ_ROUND only}"

if [ "${FUZZ_ASAN:-1}" = 1 ]; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

passed=0 failed=0
for be in ${FUZZ_BACKENDS:-io_uring epoll}; do
  log=$OUT/$be.log state=$OUT/$be.state
  rm -f "$state"
  # bounded: the fuzzer stops starting rounds after FUZZ_S; a round hangs
  # past its own 30 s watchdog only if the loop itself is stuck
  CORIO_BACKEND=$be FUZZ_SEED=$FUZZ_SEED FUZZ_S=$FUZZ_S FUZZ_STATE=$state \
    LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH="$CPATH_" \
    timeout -k 5 $((FUZZ_S + 120)) lua5.4 spec/fuzz/api_fuzz.lua >"$log" 2>&1
  rc=$?
  if [ $rc = 0 ] && grep -q "^fuzz $be:" "$log"; then
    grep "^fuzz $be:" "$log"
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  if grep -aq '^FUZZ FAILURE' "$log"; then   # the failure, the program, how to reproduce
    sed -n '/^FUZZ FAILURE/,$p' "$log" | head -400
  elif grep -aq 'ERROR: AddressSanitizer\|runtime error:' "$log"; then   # a sanitizer's report
    sed -n '/ERROR: AddressSanitizer\|runtime error:/,$p' "$log" | head -120
  else
    tail -60 "$log"
  fi
  if ! grep -q '^reproduce:' "$log"; then   # a crash or a kill: name the round it was in
    read -r seed round _ < "$state" 2>/dev/null
    echo "fuzz $be: exit status $rc in seed ${seed:-?} round ${round:-?}" \
         "(reproduce: make fuzz FUZZ_SEED=${seed:-?} FUZZ_ROUND=${round:-?} FUZZ_BACKENDS=$be); its program:"
    [ -n "${round:-}" ] && FUZZ_SEED=$seed FUZZ_ROUND=$round FUZZ_DUMP=1 \
      LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH="$CPATH_" lua5.4 spec/fuzz/api_fuzz.lua
  fi
  echo "fuzz $be: FAILED (seed $FUZZ_SEED, log $log)"
done

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
