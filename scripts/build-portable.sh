#!/usr/bin/env bash
# Builds the binaries for the GPU machine: MLIR/LLVM and libstdc++ linked
# statically (that machine has no LLVM), stripped and xz-compressed into the
# git-ignored .carry/ folder that a device call carries (64 MiB limit).
# Usage: scripts/build-portable.sh [build-dir]
# TESSEL_CARRY_CAPI=1 also builds the C API's libtessel.so the same way (the
# whole build is then position-independent, which the non-PIE executables
# link as well; ~17 MB compressed) into .carry-capi/ for the Python package there:
# TESSEL_LIBRARY=<unpacked .so> PYTHONPATH=python. A separate folder,
# because .carry/ and .peers/ together already fill most of a device call's
# 64 MiB: carry it in place of what the call does not need.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-portable}
capi=OFF
[ "${TESSEL_CARRY_CAPI:-0}" = 1 ] && capi=ON
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSEL_PORTABLE=ON -DTESSEL_CAPI=$capi >/dev/null
targets=(tessel tessel-gpu-tests tessel-host-bench)
[ $capi = ON ] && targets+=(tessel_capi)
ninja -C "$build" -j"${JOBS:-2}" "${targets[@]}"
mkdir -p .carry
for bin in tools/tessel tests/tessel-gpu-tests bench/tessel-host-bench; do
  name=$(basename "$bin")
  strip -o ".carry/$name" "$build/$bin"
  xz -6 -T2 -f ".carry/$name"
done
# Debian ships Google Benchmark as a shared library only: it travels beside
# tessel-host-bench (run it with LD_LIBRARY_PATH=/tmp/tessel-bin there).
bench_lib=$(ldd "$build/bench/tessel-host-bench" | awk '/libbenchmark/ {print $3}')
if [ -n "$bench_lib" ]; then
  cp "$bench_lib" ".carry/$(basename "$bench_lib")"
  xz -6 -T2 -f ".carry/$(basename "$bench_lib")"
fi
if [ "${TESSEL_CARRY_CAPI:-0}" = 1 ]; then
  mkdir -p .carry-capi
  strip -o .carry-capi/libtessel.so "$build/capi/libtessel.so"
  xz -6 -T2 -f .carry-capi/libtessel.so
fi
cp scripts/device-run.sh .carry/
ls -l .carry
du -ch .carry/* | tail -1
