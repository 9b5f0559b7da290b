#!/usr/bin/env bash
# One device call for code-generation work, on the GPU machine after
# scripts/build-portable.sh (carry [".carry", ".peers"]; .peers as
# ../shared/peers/README.md says): correctness first — the GPU tests named by
# GTEST_FILTER and checked runs of every Lightning pass over a grid of block
# sizes and warps — then tessel's bench at each config in BENCH_CONFIGS
# (';'-separated flag sets), the peers in the same run (fla's
# chunk_simple_gla, the Triton yardstick of the same fused forward), and an
# Nsight Compute profile of the forward at N = 8192 (NCU_CONFIG: its run
# flags), STARTUP=1 start-up times (cold and warm) and the host benchmarks. TUNE_ARGS, when set, runs `tessel tune lightning $TUNE_ARGS` before
# the bench (so that a `--tuned` entry of BENCH_CONFIGS times the winners). SKIP_TESTS, SKIP_BENCH, SKIP_PEERS and SKIP_YARDSTICK leave parts
# out, to split
# the work over calls of 10 minutes. At most 8 files come back: logs, and
# the JSON of every bench in results.tar.
set -uo pipefail
source scripts/device-unpack.sh
T=/tmp/tessel-bin
status=0
{ date -u; nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv; } > "$OUT/device.txt" 2>&1
mkdir -p /tmp/json
# Re-packed after every step, so that a call cut short by its time limit
# (or the device budget) still returns what it measured.
pack() { tar cf "$OUT/results.tar" -C /tmp/json . 2>/dev/null; }

if [ -z "${SKIP_TESTS:-}" ]; then
echo "== GPU tests (${GTEST_FILTER:-*})"
timeout ${TEST_TIMEOUT:-300} $T/tessel-gpu-tests --gtest_filter="${GTEST_FILTER:-*}" > "$OUT/gpu-tests.log" 2>&1 || status=1
tail -5 "$OUT/gpu-tests.log"

echo "== checked runs over the config grid" | tee "$OUT/checks.log"
IFS=';' read -ra checkConfigs <<< "${CHECK_CONFIGS:---num-warps 4 --block-c 64 --block-e 64;--num-warps 8 --block-c 128 --block-e 128;--num-warps 4 --block-c 32 --block-e 32;--num-warps 2 --block-c 64 --block-e 64 --block-d 32}"
# One checked run, its verdict a line of checks.log.
check() {
  if out=$(timeout 120 $T/tessel run lightning "$@" --check 2>&1); then
    echo "ok   $* :: $(echo "$out" | tr '\n' ' ' | cut -c1-200)" >> "$OUT/checks.log"
  else
    echo "FAIL $* :: $(echo "$out" | tr '\n' ' ' | cut -c1-400)" >> "$OUT/checks.log"; status=1
  fi
}
for cfg in "${checkConfigs[@]}"; do
  for shape in "-B 2 -H 3 -N 300 --dk 128 --dv 128" "-B 1 -H 2 -N 129 --dk 64 --dv 96 --initial-state --final-state" \
               "-B 1 -H 2 -N 77 --dk 256 --dv 32 --dtype f32"; do
    check $cfg $shape --backward
  done
done
# Decode: forward prefills, then decode steps (lightningDecode), checked.
check -B 2 -H 3 -N 300 --dk 128 --dv 128 --decode-steps 40 --layout bnhd
check -B 1 -H 2 -N 129 --dk 64 --dv 96 --decode-steps 129 --initial-state --final-state
# The sequence split, its state passes unrefined (the default) and refined.
check -B 1 -H 2 -N 1000 --dk 128 --dv 128 --backward --splits 4 --initial-state --final-state
check -B 2 -H 1 -N 777 --dk 64 --dv 128 --backward --splits 3 --layout bnhd
TESSEL_STATE_REFINE=auto check -B 1 -H 2 -N 1000 --dk 128 --dv 128 --backward --splits 4 --initial-state --final-state
# Simple GLA forward (per-token gates), tails, odd D/E, states, both layouts.
check -B 2 -H 3 -N 300 --dk 128 --dv 128 --gate-range -0.5,0
check -B 1 -H 2 -N 129 --dk 64 --dv 96 --gate-range -3,-0.01 --initial-state --final-state --layout bnhd
check -B 1 -H 2 -N 77 --dk 256 --dv 32 --dtype f32 --gate-range -1,0
check -B 2 -H 3 -N 300 --dk 128 --dv 128 --backward --gate-range -0.5,0 --initial-state
check -B 1 -H 2 -N 129 --dk 64 --dv 96 --backward --gate-range -3,-0.01 --layout bnhd
# Variable-length batches and non-causal attention (forward and backward,
# Lightning and simple GLA, states per sequence).
check --varlen 300,1,129,64 -H 3 --dk 128 --dv 128 --backward --initial-state --final-state
check --varlen 77,200 -H 2 --dk 64 --dv 96 --backward --gate-range -1,0 --layout bnhd
check -B 2 -H 3 -N 300 --dk 128 --dv 128 --backward --non-causal
check -B 1 -H 2 -N 129 --dk 64 --dv 96 --backward --non-causal --gate-range -0.5,0 --layout bnhd
check -B 1 -H 2 -N 77 --dk 256 --dv 32 --dtype f32 --backward --non-causal
check -B 1 -H 2 -N 1000 --dk 128 --dv 128 --backward --gate-range -1,0 --final-state
grep -c "^ok" "$OUT/checks.log"; grep "^FAIL" "$OUT/checks.log" | head -5
fi

# PYTHON_TESTS=1: the Python package on CUDA tensors, with the portable
# libtessel.so (.carry-capi, carried beside .carry; the machine's torch
# environment has pytest).
if [ -n "${PYTHON_TESTS:-}" ]; then
  echo "== python on CUDA" | tee "$OUT/python.log"
  python3 -c "import lzma,sys; open('/tmp/tessel-bin/libtessel.so','wb').write(lzma.open('.carry-capi/libtessel.so.xz').read())"
  TESSEL_LIBRARY=/tmp/tessel-bin/libtessel.so PYTHONPATH=python \
    timeout ${PYTHON_TIMEOUT:-240} python3 -m pytest -q -p no:cacheprovider python/tests >> "$OUT/python.log" 2>&1 || status=1
  tail -15 "$OUT/python.log"
fi

# PY_BENCH=1: python/bench/bench.py through the same libtessel.so, beside
# fla (.peers) and SDPA — the JSON and the PNG of time against N (issue 13;
# the machine's torch environment may lack matplotlib: then JSON only).
if [ -n "${PY_BENCH:-}" ]; then
  echo "== python bench" | tee "$OUT/pybench.log"
  [ -f /tmp/tessel-bin/libtessel.so ] || python3 -c "import lzma,sys; open('/tmp/tessel-bin/libtessel.so','wb').write(lzma.open('.carry-capi/libtessel.so.xz').read())"
  TESSEL_LIBRARY=/tmp/tessel-bin/libtessel.so PYTHONPATH=python:.peers \
    timeout ${PY_BENCH_TIMEOUT:-240} python3 python/bench/bench.py --impls ${PY_BENCH_IMPLS:-tessel,fla,sdpa} \
    --out "$OUT/pybench.json" --plot "$OUT/pybench.png" >> "$OUT/pybench.log" 2>&1 || status=1
  tail -12 "$OUT/pybench.log"
fi

# STARTUP=1: start-up of the standard shape's kernels (startLightning,
# forward and backward) from an empty disk cache, then warm from it, and the
# host-side benchmarks (IR build, each lowering stage, ptxas, cache hit,
# launch overhead) on this machine's CPUs.
if [ -n "${STARTUP:-}" ]; then
  echo "== start-up: cold, then warm" | tee "$OUT/startup.log"
  rm -rf "$TESSEL_CACHE_DIR"
  for run in cold warm; do
    timeout 120 $T/tessel bench --jit-only --json /tmp/json/startup-$run.json >> "$OUT/startup.log" 2>&1 || status=1
  done
  echo "-- tessel-host-bench" >> "$OUT/startup.log"
  LD_LIBRARY_PATH=/tmp/tessel-bin timeout 240 $T/tessel-host-bench --benchmark_min_time=0.2 \
    --benchmark_out=/tmp/json/host-bench.json --benchmark_out_format=json >> "$OUT/startup.log" 2>&1 || status=1
  pack
  grep -E "ready in|startLightning|BM_" "$OUT/startup.log" | head -40
fi

if [ -n "${TUNE_ARGS:-}" ]; then
  echo "== tune lightning $TUNE_ARGS" | tee "$OUT/tune.log"
  timeout ${TUNE_TIMEOUT:-300} $T/tessel tune lightning $TUNE_ARGS --json /tmp/json/tune.json >> "$OUT/tune.log" 2>&1 || status=1
  pack
  tail -30 "$OUT/tune.log"
fi

if [ -z "${SKIP_BENCH:-}" ]; then
echo "== bench" | tee "$OUT/bench.log"
i=0
IFS=';' read -ra configs <<< "${BENCH_CONFIGS:---num-warps 4 --block-e 64}"
for cfg in "${configs[@]}"; do
  i=$((i + 1))
  # Leading VAR=value words are environment for this config's runs (A/B
  # switches such as TESSEL_STATE_REFINE=1).
  envs=()
  while [[ "$cfg" =~ ^\ *([A-Z_]+=[^ ]*)\ *(.*)$ ]]; do
    envs+=("${BASH_REMATCH[1]}"); cfg=${BASH_REMATCH[2]}
  done
  echo "-- standard shape, ${envs[*]} $cfg" >> "$OUT/bench.log"
  env "${envs[@]}" timeout 240 $T/tessel bench ${BENCH_ARGS:-} $cfg --json /tmp/json/bench-$i.json >> "$OUT/bench.log" 2>&1 || status=1
  pack
  # Configs that pick their own --seqs are long-sequence probes: no D=256.
  [[ "$cfg" == *--seqs* ]] && continue
  echo "-- B8 H32 N2048 D=E=256, $cfg" >> "$OUT/bench.log"
  env "${envs[@]}" timeout 120 $T/tessel bench --tokens 16384 -H 32 --dk 256 --dv 256 --seqs 2048 $cfg \
    --json /tmp/json/bench256-$i.json >> "$OUT/bench.log" 2>&1 || status=1
  pack
done
# EXTRA_SHAPES="B,H,N,D;...": more shapes at the heuristic (fla's own
# benchmark shapes), each a bench of its own; the peers time them too.
IFS=';' read -ra extra <<< "${EXTRA_SHAPES:-}"
for shape in "${extra[@]}"; do
  IFS=',' read -r b h n d <<< "$shape"
  echo "-- B$b H$h N$n D=E=$d, heuristic" >> "$OUT/bench.log"
  timeout 120 $T/tessel bench --tokens $((b * n)) -H "$h" --dk "$d" --dv "$d" --seqs "$n" \
    --json "/tmp/json/bench-extra-B$b-H$h-N$n-D$d.json" >> "$OUT/bench.log" 2>&1 || status=1
  pack
done
tail -40 "$OUT/bench.log"
fi

if [ -d .peers ] && [ -z "${SKIP_PEERS:-}" ]; then
  echo "== peers"
  PYTHONUNBUFFERED=1 PYTHONPATH=.peers SKIP_IMPLS=${SKIP_IMPLS:-lightning_attn2,sdpa_causal} BUDGET_S=${BUDGET_S:-150} \
    ANCHORS_JSON=anchors.json timeout 240 python3 .peers/bench_peers.py > "$OUT/peers.log" 2>&1 || status=1
  if [ -n "${EXTRA_SHAPES:-}" ]; then
    PYTHONUNBUFFERED=1 PYTHONPATH=.peers SKIP_IMPLS=${SKIP_IMPLS:-lightning_attn2,sdpa_causal} BUDGET_S=${BUDGET_S:-150} \
      SHAPES="$EXTRA_SHAPES" ANCHORS_JSON=anchors-extra.json timeout 240 python3 .peers/bench_peers.py >> "$OUT/peers.log" 2>&1 || status=1
    mv "$OUT/anchors-extra.json" /tmp/json/ 2>/dev/null
  fi
  mv "$OUT/anchors.json" /tmp/json/ 2>/dev/null
  pack
  if [ -z "${SKIP_YARDSTICK:-}" ]; then
    # The Triton yardstick of the same fused forward: a trimmed copy of
    # ../shared/peers/triton_fused_la2.py if one is in .peers, else the sweep.
    yard=.peers/triton_yardstick.py
    [ -f "$yard" ] || yard=.peers/triton_fused_la2.py
    PYTHONUNBUFFERED=1 PYTHONPATH=.peers YARD_BUDGET_S=${YARD_BUDGET_S:-150} timeout 200 \
      python3 "$yard" >> "$OUT/peers.log" 2>&1 || status=1
  fi
  mv "$OUT/triton-yardstick.json" "$OUT/triton-fused.json" /tmp/json/ 2>/dev/null
  tail -30 "$OUT/peers.log"
fi

# GATED_PEER=1: fla's chunk_simple_gla with per-token gates (g=) and with a
# constant decay (g_gamma=) beside tessel's --gated bench, N = 2048 and 8192
# (SKIP_PEERS does not skip it).
if [ -d .peers ] && [ -n "${GATED_PEER:-}" ]; then
  echo "== fla simple GLA"
  for shape in 64,2048,16,128 16,8192,16,128; do
    PYTHONPATH=.peers SHAPE=$shape OUT=/tmp/json timeout 90 python3 scripts/peer_gla.py >> "$OUT/peers.log" 2>&1 || status=1
    mv /tmp/json/fla-gla.json "/tmp/json/fla-gla-$shape.json" 2>/dev/null
  done
  grep "fla chunk_simple_gla" "$OUT/peers.log"
  pack
fi

if [ -n "${NCU_CONFIG:-}" ]; then
  echo "== ncu"
  # NCU_KERNEL: which launch (a regex of kernel names); NCU_SECTIONS: more
  # sections (WarpStateStats: the stall reasons).
  timeout 200 ncu --clock-control none -k "regex:${NCU_KERNEL:-lightning_fwd}" -c 1 \
    --section SpeedOfLight --section MemoryWorkloadAnalysis --section LaunchStats \
    --section Occupancy --section SchedulerStats ${NCU_SECTIONS:-} \
    $T/tessel run lightning -B 16 -N 8192 -H 16 --dk 128 --dv 128 --layout bnhd $NCU_CONFIG \
    > "$OUT/ncu.txt" 2>&1 || status=1
  grep -E "Memory Throughput|DRAM Throughput|Mem Busy|Issue Slots Busy|Registers Per|Achieved Occupancy|Duration|Shared Memory Configuration Size|Block Limit|Stall|Warp Cycles|lightning_" "$OUT/ncu.txt" | head -40
fi
pack
exit $status
