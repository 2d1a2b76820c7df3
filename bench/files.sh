#!/usr/bin/env bash
# bench/files.sh: corio's file reads against dd and luv (issue 12).
#  - one 1 GiB file read in 256 KiB chunks, page cache warm: corio (both
#    backends; a ring READ per chunk on io_uring, a pool job on epoll)
#    against `dd bs=256K` of the same file to /dev/null;
#  - 10,000 files of 4 KiB read all at once: corio (a task per file,
#    corio.fs.readfile) against luv (fs_open/fs_read/fs_close on libuv's
#    thread pool, all at once).
# ROUNDS alternating rounds (default 3), medians. Pinned to CPU 1. Writes
# $BENCH_OUT/files.md (default bench/results) and files_raw.txt. Needs
# 1.1 GB free in FILES_DIR (default /tmp).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROUNDS=${ROUNDS:-3} CPU=${SERVER_CPU:-1} N=${FILES_N:-10000}
CORIO_DIR=${CORIO_DIR:-$PWD}
export LUA_PATH="$CORIO_DIR/lua/?.lua;$CORIO_DIR/lua/?/init.lua;;" LUA_CPATH="$CORIO_DIR/lua/?.so;;"
OUT=${BENCH_OUT:-bench/results}; mkdir -p "$OUT"
RAW=$OUT/files_raw.txt; : > "$RAW"
WORK=$(mktemp -d "${FILES_DIR:-/tmp}/corio-files.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ulimit -n "$(ulimit -Hn)"

BIG=$WORK/big
dd if=/dev/urandom of="$BIG" bs=1M count=1024 status=none
mkdir "$WORK/small"
head -c 4096 /dev/urandom > "$WORK/one"
for i in $(seq 0 $((N - 1))); do cp "$WORK/one" "$WORK/small/$i"; done
cat "$BIG" > /dev/null   # warm the page cache
cat "$WORK"/small/* > /dev/null

for r in $(seq "$ROUNDS"); do
  # dd reports its own rate; time it the same way as the others
  t0=$(date +%s.%N)
  taskset -c "$CPU" dd if="$BIG" of=/dev/null bs=256K status=none
  t1=$(date +%s.%N)
  echo "big dd $r $(stat -c %s "$BIG") $(echo "$t1 - $t0" | bc -l)" >> "$RAW"
  for be in io_uring epoll; do
    echo "big corio-$be $r $(CORIO_BACKEND=$be taskset -c "$CPU" lua5.4 bench/files.lua big "$BIG" 262144)" >> "$RAW"
  done
  echo "small luv $r $(taskset -c "$CPU" lua5.4 bench/luv_files.lua "$WORK/small" "$N")" >> "$RAW"
  for be in io_uring epoll; do
    echo "small corio-$be $r $(CORIO_BACKEND=$be taskset -c "$CPU" lua5.4 bench/files.lua small "$WORK/small" "$N")" >> "$RAW"
  done
done
lua5.4 bench/files_report.lua "$RAW" "$ROUNDS" "$N" > "$OUT/files.md"
cat "$OUT/files.md"
