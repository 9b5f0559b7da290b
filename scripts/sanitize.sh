#!/usr/bin/env bash
# Builds the host code (DSL, passes, interpreter, runtime, tuner, cache)
# with AddressSanitizer and UndefinedBehaviorSanitizer in its own build
# directory and runs the unit and lit tests under them. Any report fails the
# run. After scripts/setup.sh (it needs the same packages).
# Usage: scripts/sanitize.sh [build-dir]   (default build-asan)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
build=${1:-build-asan}
# -O1 keeps the tests fast enough; vptr checks need RTTI, which LLVM's
# libraries are built without.
flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize=vptr -fno-sanitize-recover=undefined"
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=None \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_C_FLAGS="$flags" \
  -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
  -DCMAKE_SHARED_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
ninja -C "$build" -j"${JOBS:-2}" tessel tessel-opt tessel-unit-tests
# LLVM's and MLIR's own static objects are never freed: leaks are not ours.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
"$build/tests/tessel-unit-tests"
/usr/lib/llvm-22/bin/lit -q "$build/tests"
