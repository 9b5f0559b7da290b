#!/usr/bin/env bash
# Fuzzes the compiler (issue 15): builds tests/fuzz's libFuzzer target with
# clang — the tessel libraries it links instrumented for coverage
# (fuzzer-no-link) under AddressSanitizer and UndefinedBehaviorSanitizer —
# seeds it with every function of the lowering and dialect lit tests (and
# the tile IR of the shipped kernels when build/tools/tessel exists), and
# runs it for SECONDS (default 60) from a fixed seed. A crash, sanitizer
# report, timeout or out-of-memory fails the run and leaves the input in
# BUILD/crashes/ (replay: BUILD/tests/tessel-fuzz-ir BUILD/crashes/<file>).
# Every input that ever crashed it is kept in tests/fuzz/regressions/ and
# runs first, each time (with a lit test beside the pass, when the bug was
# the compiler's).
# scripts/test.sh (CI) runs it bounded; run it longer by hand:
#   scripts/fuzz.sh 3600
# After scripts/setup.sh (it needs the same packages, and clang).
# Usage: scripts/fuzz.sh [SECONDS] [BUILD]   (default 60, build-fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
seconds=${1:-60}
build=${2:-build-fuzz}
cxx=$(command -v clang++ || command -v clang++-14 || true)
cc=$(command -v clang || command -v clang-14 || true)
if [ -z "$cxx" ] || [ -z "$cc" ]; then
  echo "fuzz: clang not found (Debian: apt-get install clang)" >&2
  exit 1
fi
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link -fno-sanitize=vptr -fno-sanitize-recover=undefined"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None -DTESSEL_FUZZ=ON \
  -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DTESSEL_CAPI=OFF >/dev/null
ninja -C "$build" -j"${JOBS:-2}" tessel-fuzz-ir

seeds="$build/seeds" corpus="$build/corpus"
rm -rf "$seeds" && mkdir -p "$seeds" "$corpus" "$build/crashes"
whole=()
if [ -x build/tools/tessel ]; then
  # The shipped kernels' tile IR, as `tessel compile --dump` prints it.
  for k in lightning_fwd lightning_bwd_dq lightning_bwd_dkdv; do
    for extra in "" "--gated" "--initial-state --final-state --dk 32 --dv 48"; do
      f="$seeds.$k${extra// /}.mlir"
      build/tools/tessel compile "$k" $extra --dump 2>/dev/null \
        | awk '/^\/\/ ----- /{on = ($0 == "// ----- tile IR -----"); next} on' > "$f" || true
      [ -s "$f" ] && whole+=(--whole "$f")
    done
  done
fi
python3 tests/fuzz/seed_corpus.py "$seeds" "${whole[@]}" tests/lowering/*.mlir tests/dialect/*.mlir

# LLVM's and MLIR's static objects are never freed (see scripts/sanitize.sh
# for allow_user_poisoning).
export ASAN_OPTIONS=detect_leaks=0:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/tests/tessel-fuzz-ir" -seed=1 -max_total_time="$seconds" -timeout=60 \
  -rss_limit_mb=4096 -max_len=65536 -print_final_stats=1 \
  -artifact_prefix="$build/crashes/" "$corpus" "$seeds" tests/fuzz/regressions
