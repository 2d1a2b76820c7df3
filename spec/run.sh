#!/usr/bin/env bash
# spec/run.sh: the whole suite. The C unit tests (spec/c/bin, built by
# `make ctest`; each program run counts as one test), then every busted
# spec once per backend. Prints a line per
# part and per backend, then "N passed, N failed" as the last line; exits
# non-zero if anything failed. CORIO_ASAN=1 runs Lua with the ASan runtime
# preloaded (for `make asan`).
set -u
cd "$(dirname "$0")/.."
passed=0 failed=0

add() { passed=$((passed + $1)); failed=$((failed + $2)); }

if [ "${CORIO_ASAN:-0}" = 1 ]; then
  export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
  export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
fi

# One C test binary with one argument; counts its "N passed, M failed".
run_c() {
  local bin=$1 arg=$2 out rc p f
  out=$("$bin" $arg 2>&1); rc=$?
  if [ $rc -eq 77 ]; then echo "c $(basename "$bin") $arg: skipped (feature unavailable)"; return; fi
  read -r p f < <(echo "$out" | sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed.*/\1 \2/p' | tail -1)
  p=${p:-0} f=${f:-0}
  if [ $rc -ne 0 ] && [ "$f" = 0 ]; then f=1; fi
  [ "$f" != 0 ] && echo "$out" | grep -v '^ok' | tail -30
  echo "c $(basename "$bin") $arg: $p checks passed, $f failed"
  if [ "$f" = 0 ]; then add 1 0; else add 0 1; fi   # one test per program run
}

for bin in spec/c/bin/*_test; do
  [ -x "$bin" ] || continue
  case $(basename "$bin") in
    backend_test) run_c "$bin" epoll; run_c "$bin" io_uring ;;
    *) run_c "$bin" "" ;;
  esac
done

# The busted suite on one backend.
run_busted() {
  local be=$1 out rc s f e
  if ! CORIO_BACKEND=$be LUA_PATH='lua/?.lua;lua/?/init.lua;;' LUA_CPATH='lua/?.so;;' \
       lua5.4 -e 'require "corio"' >/dev/null 2>&1; then
    echo "backend $be: skipped (unavailable on this machine)"
    return
  fi
  out=$(CORIO_BACKEND=$be busted --lua=lua5.4 -o utfTerminal spec 2>&1); rc=$?
  local summary
  summary=$(echo "$out" | grep -E '[0-9]+ success' | tail -1)
  s=$(echo "$summary" | grep -oE '^[^0-9]*[0-9]+' | grep -oE '[0-9]+$')
  f=$(echo "$summary" | grep -oE '[0-9]+ failure' | grep -oE '[0-9]+')
  e=$(echo "$summary" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
  s=${s:-0} f=${f:-0} e=${e:-0}
  if [ $rc -ne 0 ] && [ $((f + e)) = 0 ]; then e=1; fi
  [ $((f + e)) != 0 ] && echo "$out" | tail -80
  echo "backend $be: $s passed, $((f + e)) failed"
  add "$s" $((f + e))
}

run_busted io_uring
run_busted epoll

echo "$passed passed, $failed failed"
[ "$failed" = 0 ] && [ "$passed" -gt 0 ]
