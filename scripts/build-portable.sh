#!/usr/bin/env bash
# Builds the binaries for the GPU machine: MLIR/LLVM and libstdc++ linked
# statically (that machine has no LLVM), stripped and xz-compressed into the
# git-ignored .carry/ folder that a device call carries (64 MiB limit).
# Usage: scripts/build-portable.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-portable}
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DTESSEL_PORTABLE=ON >/dev/null
ninja -C "$build" -j"${JOBS:-2}" tessel tessel-gpu-tests
mkdir -p .carry
for bin in tools/tessel tests/tessel-gpu-tests; do
  name=$(basename "$bin")
  strip -o ".carry/$name" "$build/$bin"
  xz -6 -T2 -f ".carry/$name"
done
cp scripts/device-run.sh .carry/
ls -l .carry
du -ch .carry/* | tail -1
