#!/usr/bin/env bash
# One device call for the sequence split (carry [".carry", ".peers"]):
# checked runs of the chained split (TESSEL_SPLIT=chained: one launch whose
# segments hand their states on) against the float64 reference, the GPU
# tests of the split shapes under it and the flag hand-off test, then the
# forward at B1 N131072 H16 D=E=128 through the three-launch split (the
# heuristic) and the chained one at each segment count of SPLITS, fla in
# the same call (SKIP_PEERS=1: not). NCU_SPLITS: profile the chained
# forward at that count. Logs and JSON under $OUT.
set -uo pipefail
source scripts/device-unpack.sh
T=/tmp/tessel-bin
status=0
mkdir -p /tmp/json
{ date -u; nvidia-smi --query-gpu=name,driver_version --format=csv; } > "$OUT/device.txt" 2>&1
pack() { tar cf "$OUT/results.tar" -C /tmp/json . 2>/dev/null; }
cfg="--num-warps 4 --block-c 64 --block-e 64 --block-d 64 --block-e-bwd 64"

echo "== checked runs, chained split" | tee "$OUT/checks.log"
for c in "-B 1 -H 2 -N 1000 --dk 128 --dv 128 --splits 4 --initial-state --final-state --backward" \
         "-B 2 -H 1 -N 777 --dk 64 --dv 128 --splits 3 --layout bnhd" \
         "-B 1 -H 4 -N 40000 --dk 128 --dv 128 --splits 128 --stages 2 --final-state" \
         "-B 1 -H 3 -N 3000 --dk 128 --dv 32 --dtype f32 --splits 16 --initial-state" \
         "-B 1 -H 16 -N 16384 --dk 128 --dv 128 --splits 64 --stages 3 --layout bnhd"; do
  if out=$(TESSEL_SPLIT=chained timeout 120 $T/tessel run lightning $cfg $c --check 2>&1); then
    echo "ok   $c :: $(echo "$out" | tr '\n' ' ' | cut -c1-160)" >> "$OUT/checks.log"
  else
    echo "FAIL $c :: $(echo "$out" | tr '\n' ' ' | cut -c1-400)" >> "$OUT/checks.log"; status=1
  fi
done
cat "$OUT/checks.log"

echo "== GPU tests: flags; the split shapes, chained"
timeout 120 $T/tessel-gpu-tests --gtest_filter='DslGpu.Flags*' > "$OUT/gpu-tests.log" 2>&1 || status=1
TESSEL_SPLIT=chained timeout 200 $T/tessel-gpu-tests --gtest_filter="${GTEST_FILTER:-Shapes/LightningGpu.*}" >> "$OUT/gpu-tests.log" 2>&1 || status=1
grep -E "^\[  (PASSED|FAILED) |^\[  FAILED  \]" "$OUT/gpu-tests.log"

echo "== bench B1 N131072" | tee "$OUT/bench.log"
timeout 60 $T/tessel bench --seqs 131072 2048 --json /tmp/json/bench-heuristic.json >> "$OUT/bench.log" 2>&1 || status=1
for s in ${SPLITS:-4 16 64 128 256}; do
  for st in ${STAGES:-2 3}; do
    echo "-- chained, $s segments, $st stages" >> "$OUT/bench.log"
    TESSEL_SPLIT=chained timeout 60 $T/tessel bench --seqs 131072 $cfg --stages $st --splits $s \
      --json /tmp/json/bench-chained-s$s-p$st.json >> "$OUT/bench.log" 2>&1 || status=1
  done
  pack
done
grep -E "^-- |^ +[0-9]+ +[0-9]+ +[0-9]+ |error" "$OUT/bench.log"

if [ -n "${NCU_SPLITS:-}" ]; then
  TESSEL_SPLIT=chained timeout 150 ncu --clock-control none -k "regex:chained" -c 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy \
    --section SchedulerStats --section WarpStateStats \
    $T/tessel run lightning -B 1 -N 131072 -H 16 --dk 128 --dv 128 --layout bnhd $cfg --stages ${NCU_STAGES:-2} --splits $NCU_SPLITS \
    > "$OUT/ncu.txt" 2>&1 || status=1
  grep -E "DRAM Throughput|L2 Hit|Mem Busy|Issue Slots Busy|Registers Per|Achieved Occupancy|Duration|Stall" "$OUT/ncu.txt" | head -30
fi

# NCU_BWD=1: the backward's two kernels at B16 N8192 (the heuristic), with
# their stall reasons.
if [ -n "${NCU_BWD:-}" ]; then
  timeout 200 ncu --clock-control none -k "regex:bwd_dq|bwd_dkdv" -c 2 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats --section Occupancy \
    --section SchedulerStats --section WarpStateStats \
    $T/tessel run lightning -B 16 -N 8192 -H 16 --dk 128 --dv 128 --layout bnhd --backward \
    > "$OUT/ncu-bwd.txt" 2>&1 || status=1
  grep -E "lightning_|DRAM Throughput|Mem Busy|Issue Slots Busy|Registers Per|Achieved Occupancy|Duration|Stall" "$OUT/ncu-bwd.txt" | head -40
fi

if [ -d .peers ] && [ -z "${SKIP_PEERS:-}" ]; then
  echo "== fla"
  PYTHONUNBUFFERED=1 PYTHONPATH=.peers SKIP_IMPLS=lightning_attn2,sdpa_causal SHAPES="1,16,131072,128;64,16,2048,128" \
    BUDGET_S=150 ANCHORS_JSON=anchors.json timeout 200 python3 .peers/bench_peers.py > "$OUT/peers.log" 2>&1 || status=1
  mv "$OUT/anchors.json" /tmp/json/ 2>/dev/null
  grep -E "chunk_simple_gla|fwd|ms" "$OUT/peers.log" | tail -8
fi
pack
exit $status
