#!/usr/bin/env bash
# The autotuner on the GPU machine, in one device call (after
# scripts/build-portable.sh filled .carry/): the tuner's GPU tests, a cold
# `tessel tune lightning` over the standard shape (fwd and bwd) on
# --devices ${DEVICES:-all}, a second run that must hit the cache, and checked
# runs with the tuned block sizes. Logs and JSON under $OUT (8 files at most:
# the device tool returns no more).
#   device run: bash scripts/device-tune.sh   (carry: [".carry"])
set -uo pipefail
source scripts/device-unpack.sh
T=/tmp/tessel-bin/tessel
# Standard shape (bf16, H=16, D=E=128, B·N=131072) at N=16384, and the long
# sequence where B·H is small against the SM count.
SHAPES=${SHAPES:-"8,16384,16,128 1,131072,16,128"}
shape_args=(); for s in $SHAPES; do shape_args+=(--shape "$s"); done
status=0
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } > "$OUT/device.txt" 2>&1
if [ -z "${SKIP_GPU_TESTS:-}" ]; then
  echo "== tuner GPU tests"
  /tmp/tessel-bin/tessel-gpu-tests --gtest_filter='TuneGpu*' 2>&1 | tee "$OUT/gpu-tests.log" || status=1
fi
echo "== tune, cold cache"
/usr/bin/time -f "wall %e s" $T tune lightning "${shape_args[@]}" --devices "${DEVICES:-all}" \
  --json "$OUT/tune-cold.json" > "$OUT/tune.log" 2> /tmp/tune-cold.progress || status=1
cat "$OUT/tune.log"; cat /tmp/tune-cold.progress >> "$OUT/tune.log"
echo "== tune again: cache hits"
/usr/bin/time -f "wall %e s" $T tune lightning "${shape_args[@]}" --devices "${DEVICES:-all}" \
  > /tmp/tune-warm.log 2>&1 || status=1
cat /tmp/tune-warm.log; cat /tmp/tune-warm.log >> "$OUT/tune.log"
$T cache ls >> "$OUT/tune.log" 2>&1
echo "== tuned kernels against the reference (same bucket as the tuned shape)"
$T run lightning --tuned --check -B 8 -N 9000 -H 16 --dk 128 --dv 128 --layout bnhd 2>&1 | tee "$OUT/checks.log" || status=1
$T run lightning --tuned --check --backward -B 8 -N 9000 -H 16 --dk 128 --dv 128 --layout bnhd 2>&1 | tee -a "$OUT/checks.log" || status=1
$T run lightning --tuned --check -B 1 -N 70000 -H 16 --dk 128 --dv 128 --layout bnhd 2>&1 | tee -a "$OUT/checks.log" || status=1
echo "== bench at the tuned shapes: default configuration, then the cached winners"
$T bench --seqs 16384 131072 --json "$OUT/bench-default.json" 2>&1 | tee "$OUT/bench.log" || status=1
$T bench --seqs 16384 131072 --tuned --json "$OUT/bench-tuned.json" 2>&1 | tee -a "$OUT/bench.log" || status=1
if [ -n "${WITH_ALL_GPU_TESTS:-}" ]; then
  echo "== all GPU tests"; /tmp/tessel-bin/tessel-gpu-tests 2>&1 | tee -a "$OUT/gpu-tests.log" || status=1
fi
exit $status
