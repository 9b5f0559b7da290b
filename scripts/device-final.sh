#!/usr/bin/env bash
# The last device call of a session, when little device time is left: the
# GPU tests the session's changes touch (GTEST_FILTER; the fuzz at
# TESSEL_GPU_FUZZ_KERNELS), the simple GLA and Lightning benches at two
# sequence lengths, fla beside them (the gated and the constant-decay
# forward, scripts/peer_gla.py; fla's Lightning-equivalent at the standard
# shape), each under its own time limit; SKIP_LIGHTNING_BENCH and
# SKIP_FLA_LIGHTNING leave those out. carry [".carry", ".peers"].
set -uo pipefail
source scripts/device-unpack.sh
T=/tmp/tessel-bin
echo "== checked runs"
for c in "-B 2 -H 3 -N 300 --dk 128 --dv 128 --backward --gate-range -0.5,0 --initial-state" \
         "-B 1 -H 2 -N 129 --dk 64 --dv 96 --backward --gate-range -3,-0.01 --layout bnhd" \
         "-B 1 -H 2 -N 77 --dk 256 --dv 32 --dtype f32 --backward --gate-range -1,0" \
         "-B 2 -H 3 -N 300 --dk 128 --dv 128 --backward --splits 3 --initial-state --final-state" \
         "-B 2 -H 3 -N 200 --dk 128 --dv 128 --gate-range -0.7,0 --decode-steps 60 --layout bnhd --initial-state --final-state"; do
  if out=$(timeout 60 $T/tessel run lightning $c --check 2>&1); then echo "ok   $c"; else echo "FAIL $c"; echo "$out" | tail -8; fi
done
echo "== GPU tests (${GTEST_FILTER:-*})"
timeout ${TEST_TIMEOUT:-200} $T/tessel-gpu-tests --gtest_filter="${GTEST_FILTER:-*}" > "$OUT/gpu-tests.log" 2>&1
echo "rc=$?"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|\[ fuzz|Failure|relative error" "$OUT/gpu-tests.log" | head -40
echo "== bench"
timeout 45 $T/tessel bench --gated --seqs 2048 8192 --json "$OUT/bench-gated.json" > "$OUT/bench.log" 2>&1
[ -n "${SKIP_LIGHTNING_BENCH:-}" ] || timeout 45 $T/tessel bench --seqs 2048 8192 --json "$OUT/bench.json" >> "$OUT/bench.log" 2>&1
grep -E "^ +[0-9]+ +[0-9]+ +[0-9]+ |copy bandwidth|error" "$OUT/bench.log"
if [ -d .peers ]; then
  echo "== fla"
  PYTHONPATH=.peers SHAPE=16,8192,16,128 timeout 90 python3 scripts/peer_gla.py > "$OUT/peers.log" 2>&1
  [ -n "${SKIP_FLA_LIGHTNING:-}" ] || PYTHONUNBUFFERED=1 PYTHONPATH=.peers SKIP_IMPLS=lightning_attn2,sdpa_causal SHAPES="64,16,2048,128" \
    BUDGET_S=${BUDGET_S:-60} ANCHORS_JSON=anchors.json timeout 75 python3 .peers/bench_peers.py >> "$OUT/peers.log" 2>&1
  grep -E "fla|chunk|ms" "$OUT/peers.log" | tail -12
fi
