#!/usr/bin/env bash
# compute-sanitizer over every shipped Lightning kernel, on the GPU machine
# after scripts/build-portable.sh (carry [".carry"]): memcheck (out-of-bounds
# and misaligned global/shared accesses), racecheck (shared-memory hazards
# between threads of a program: the rings, stagings and their barriers) and
# synccheck (barriers in divergent code) on checked runs that reach every
# kernel: forward, dq, dk and dv fused and apart, the segment kernels and
# scans of the sequence split, decode, tails inside the last chunk, odd D and
# E, both register-A and shared-operand wgmma configs and the mma.sync ones.
# Every run must also pass its float64 check. Writes $OUT/sanitize.log, a line
# per (tool, case), and the first reports of any failing run.
#   TOOLS (default "memcheck racecheck synccheck"), CASE_TIMEOUT (s, 150),
#   CASES (a slice, below).
set -uo pipefail
source scripts/device-unpack.sh
T=/tmp/tessel-bin
status=0
log="$OUT/sanitize.log"
: > "$log"
cases=(
  "-B 1 -H 2 -N 129 --dk 64 --dv 96 --backward --initial-state --final-state"
  "-B 2 -H 3 -N 300 --dk 128 --dv 128 --backward --splits 3"
  "-B 1 -H 2 -N 77 --dk 256 --dv 32 --dtype f32 --backward"
  "-B 2 -H 2 -N 200 --dk 128 --dv 128 --decode-steps 20 --layout bnhd"
  "-B 1 -H 2 -N 520 --dk 128 --dv 128 --backward --splits 4 --num-warps 8 --block-c 128 --block-e 128"
  "-B 4 -H 4 -N 1000 --dk 128 --dv 128 --backward --layout bnhd"
  "-B 1 -H 2 -N 333 --dk 128 --dv 128 --backward --num-warps 2 --block-c 32 --block-e 32 --block-d 32 --stages 4"
  "UNFUSED -B 1 -H 3 -N 190 --dk 128 --dv 128 --backward --final-state"
  # The variants: simple GLA (its gate rows and gate-gradient kernel), a
  # variable-length batch, non-causal (the anti-causal sweeps), both gated.
  "-B 1 -H 2 -N 300 --dk 128 --dv 128 --backward --gate-range -1,0 --initial-state --final-state"
  "--varlen 77,200,1 -H 2 --dk 64 --dv 96 --backward --gate-range -1,0 --layout bnhd"
  "-B 1 -H 2 -N 129 --dk 64 --dv 96 --backward --non-causal --gate-range -0.5,0"
  "-B 2 -H 2 -N 150 --dk 128 --dv 128 --backward --non-causal"
)
# CASES=<first>-<last> (0-based, inclusive) runs a slice of them.
if [ -n "${CASES:-}" ]; then
  cases=("${cases[@]:${CASES%-*}:$((${CASES#*-} - ${CASES%-*} + 1))}")
fi
for tool in ${TOOLS:-memcheck racecheck synccheck}; do
  for c in "${cases[@]}"; do
    env=()
    if [[ "$c" == UNFUSED* ]]; then env=(TESSEL_FUSE_DKDV=0); c=${c#UNFUSED }; fi
    out=$(env "${env[@]}" timeout "${CASE_TIMEOUT:-150}" compute-sanitizer --tool "$tool" \
      --error-exitcode 9 --print-limit 10 $T/tessel run lightning $c --check 2>&1)
    rc=$?
    summary=$(echo "$out" | grep -E "ERROR SUMMARY|RACECHECK SUMMARY" | tail -1)
    if [ $rc -eq 0 ]; then
      echo "ok   $tool ${env[*]} $c :: $summary" >> "$log"
    else
      echo "FAIL $tool ${env[*]} $c :: rc=$rc $summary" >> "$log"
      echo "$out" | head -60 | sed 's/^/    /' >> "$log"
      status=1
    fi
  done
done
echo "$(grep -c '^ok' "$log") ok, $(grep -c '^FAIL' "$log") failed"
grep -A12 '^FAIL' "$log" | head -60
exit $status
