#!/usr/bin/env bash
# Shared first half of scripts/demo.sh and scripts/test.sh: installs tessel's
# Debian 12 packages (only those missing) and builds tessel with Ninja in
# Release mode into build/. TESSEL_JOBS=<n> limits the build's parallelism.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

packages=(cmake ninja-build g++ llvm-22-dev libmlir-22-dev mlir-22-tools
          libzstd-dev libedit-dev libfmt-dev libgtest-dev libgmock-dev
          libbenchmark-dev nlohmann-json3-dev libcli11-dev ccache python3
          zlib1g-dev libxml2-dev clang python3-torch python3-pytest)

sudo=()
if [ "$(id -u)" -ne 0 ]; then
  sudo=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "tessel: installing ${missing[*]}"
  "${sudo[@]}" apt-get update
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
fi

# The CUDA toolkit is not a Debian package: its headers (cuda.h, for the
# driver API's types) must already be at /usr/local/cuda or $CUDA_HOME.
cuda_home=${CUDA_HOME:-/usr/local/cuda}
if [ ! -f "$cuda_home/include/cuda.h" ]; then
  echo "tessel: no CUDA toolkit at $cuda_home (cuda.h missing); install it" \
       "there or set CUDA_HOME. Only its headers are needed to build; ptxas" \
       "is used when present, the driver only on a GPU machine." >&2
  exit 1
fi

# Debian's python3-torch belongs to /usr/bin/python3, whatever else is first
# on PATH: the Python package's tests run with it.
python=/usr/bin/python3
[ -x "$python" ] || python=$(command -v python3)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$python"
ninja -C build -j "${TESSEL_JOBS:-$(nproc)}"
