# bench/lib.sh: what the benchmark scripts (run.sh, ab.sh, udp.sh) share for
# measuring CPU; sourced from the tree's top, after they cd there.

# utime+stime of process $1, in clock ticks (fields 14 and 15 of its stat,
# counted after the command name, which may hold spaces); 0 once it is gone
cpu_ticks() {
  local s; s=$(cat "/proc/$1/stat" 2>/dev/null) || { echo 0; return; }
  s=${s##*) }
  # shellcheck disable=SC2086 # split into the fields on purpose
  set -- $s
  echo $(( ${12} + ${13} ))
}

# "busy total" ticks of CPU $1 from /proc/stat (busy = all but idle and iowait)
core_ticks() {
  awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= 9; i++) t += $i; print t - $5 - $6, t; exit }' /proc/stat
}

# A as a percentage of B, 0 if negative (counters read at slightly different times)
pct() { awk -v a="$1" -v b="$2" 'BEGIN { p = (b > 0 ? a * 100 / b : 0); printf "%.1f", (p > 0 ? p : 0) }'; }
