#!/usr/bin/env bash
# Runs on the GPU machine in one device call, from the repository root, after
# scripts/build-portable.sh filled .carry/: unpacks the binaries, runs every
# GPU test, the demo and the benchmark, and writes logs under $OUT.
#   device run: bash scripts/device-run.sh   (carry: [".carry"])
set -uo pipefail
source scripts/device-unpack.sh
status=0
{
  date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
} > "$OUT/device.txt" 2>&1
echo "== JIT cold (empty cache) and warm (disk cache), each in a fresh process"
/tmp/tessel-bin/tessel bench --jit-only --json "$OUT/jit-cold.json" 2>&1 | tee "$OUT/jit.log" || status=1
/tmp/tessel-bin/tessel bench --jit-only --json "$OUT/jit-warm.json" 2>&1 | tee -a "$OUT/jit.log" || status=1
echo "== GPU tests"; /tmp/tessel-bin/tessel-gpu-tests ${GTEST_ARGS:-} 2>&1 | tee "$OUT/gpu-tests.log" || status=1
echo "== demo"; /tmp/tessel-bin/tessel demo 2>&1 | tee "$OUT/demo.log" || status=1
if [ -z "${SKIP_BENCH:-}" ]; then
  echo "== bench"; /tmp/tessel-bin/tessel bench ${BENCH_ARGS:-} --json "$OUT/bench.json" 2>&1 | tee "$OUT/bench.log" || status=1
  if [ -n "${BENCH_VARIANTS:-}" ]; then
    echo "== bench, 4 warps"; /tmp/tessel-bin/tessel bench --num-warps 4 --json "$OUT/bench-w4.json" 2>&1 | tee -a "$OUT/bench.log" || status=1
    echo "== bench, no ldmatrix"; TESSEL_NO_LDMATRIX=1 /tmp/tessel-bin/tessel bench --json "$OUT/bench-noldm.json" 2>&1 | tee -a "$OUT/bench.log" || status=1
  fi
fi
exit $status
