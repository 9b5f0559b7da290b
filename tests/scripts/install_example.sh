#!/usr/bin/env bash
# Installs the build in $1 into a fresh prefix, then configures, builds and
# runs the out-of-tree project $2 (examples/) against it with nothing but
# find_package(tessel): the install must stay usable.
set -euo pipefail
build=$1 example=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" > "$work/install.log"
launcher=()
if command -v ccache > /dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$example" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" > "$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" > "$work/build.log" || { tail -50 "$work/build.log"; exit 1; }
TESSEL_CACHE_DIR="$work/cache" "$work/build/linear_attention"
# A second run finds the winner in the tuning cache.
TESSEL_CACHE_DIR="$work/cache" "$work/build/linear_attention" | tee "$work/second.log"
grep -q "from the tuning cache" "$work/second.log"
