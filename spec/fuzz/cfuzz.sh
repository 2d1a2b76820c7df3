#!/usr/bin/env bash
# spec/fuzz/cfuzz.sh: run each libFuzzer target `make cfuzz` built
# (spec/c/bin/fuzz/*_fuzz) for CFUZZ_S seconds (default 20), from its
# seeds (spec/fuzz/corpus/<target>/) and the corpus it grows under
# spec/c/bin/fuzz/corpus/<target>/ (kept between runs, never committed).
# CFUZZ_SEED fixes libFuzzer's -seed (default: a new one, printed). Prints
# a line per target (execs, execs/s, libFuzzer's cov: and ft:), for a
# failure the check or sanitizer report and the saved input, then
# "N passed, N failed" last (one test per target); exits non-zero on any
# failure.
set -u
cd "$(dirname "$0")/../.."
secs=${CFUZZ_S:-20}
seed=${CFUZZ_SEED:-$(( $(od -An -N4 -tu4 /dev/urandom) % 2147483646 + 1 ))}
out=spec/c/bin/fuzz
passed=0 failed=0
echo "cfuzz: seed $seed, ${secs} s per target (CFUZZ_SEED=$seed CFUZZ_S=$secs make cfuzz repeats it)"

for bin in "$out"/*_fuzz; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin" _fuzz)
  work=$out/corpus/$name log=$out/$name.log
  mkdir -p "$work"
  "$bin" -seed="$seed" -max_total_time="$secs" -timeout=10 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$out/$name-" \
    "$work" "spec/fuzz/corpus/$name" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "cfuzz $name: ok, ${execs:-?} execs, ${rate:-?}/s, ${cov:-no cov}"
    passed=$((passed + 1))
  else
    input=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    # what broke, and the stack frames in corio's and the target's code
    grep -E 'CHECK FAILED|ERROR: |runtime error|^SUMMARY|^    #[0-9]+ .*(csrc|spec/fuzz)/' "$log" |
      head -20
    echo "cfuzz $name: FAILED (exit $rc, seed $seed), input ${input:-not saved}, log $log"
    [ -n "$input" ] && echo "  reproduce: $bin $input"
    failed=$((failed + 1))
  fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
