#!/usr/bin/env bash
# Builds the host code (DSL, passes, interpreter, runtime, tuner, cache)
# with AddressSanitizer and UndefinedBehaviorSanitizer in its own build
# directory and runs the unit and lit tests under them. Any report fails the
# run. After scripts/setup.sh (it needs the same packages).
# Usage: scripts/sanitize.sh [build-dir]   (default build-asan)
# scripts/test.sh (the README's test command, CI's) runs it after the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build-asan}
# -O1 keeps the tests fast enough; vptr checks need RTTI, which LLVM's
# libraries are built without.
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DTESSEL_CAPI=OFF >/dev/null
ninja -C "$build" -j"${JOBS:-2}" tessel tessel-opt tessel-unit-tests
# LLVM's and MLIR's own static objects are never freed: leaks are not ours.
# allow_user_poisoning=0: LLVM's headers poison and unpoison BumpPtrAllocator
# slabs when the including file is built with ASan, but the prebuilt MLIR
# libraries allocate from the same slabs without unpoisoning, so every
# MLIRContext reports a use-after-poison in MLIR's own code (the first run's
# abort in Dialect::addType). The allocator annotations are LLVM's, not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allow_user_poisoning=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# The unit tests in one shard per job (about 7 minutes in one at -O1).
jobs=${JOBS:-2}
pids=()
for ((i = 0; i < jobs; ++i)); do
  GTEST_TOTAL_SHARDS=$jobs GTEST_SHARD_INDEX=$i \
    "$build/tests/tessel-unit-tests" > "$build/unit-shard-$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for ((i = 0; i < jobs; ++i)); do
  if ! wait "${pids[$i]}"; then
    echo "sanitize: unit-test shard $i failed:"; tail -60 "$build/unit-shard-$i.log"; failed=1
  else
    tail -1 "$build/unit-shard-$i.log"
  fi
done
[ "$failed" = 0 ]
/usr/lib/llvm-22/bin/lit -q "$build/tests"
echo "sanitize: unit and lit tests clean under ASan and UBSan"
