#!/usr/bin/env bash
# One-line set-up and test run on a fresh Debian 12 machine (see README.md;
# .ci/run calls exactly this): installs the packages tessel needs, builds it,
# runs every test (lit and GoogleTest) through CTest, then the unit and lit
# tests again with the host code under ASan and UBSan (scripts/sanitize.sh),
# then the compiler fuzzer for a minute from a fixed seed (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
ctest --test-dir build --output-on-failure -j2
JOBS=${TESSEL_JOBS:-$(nproc)} bash scripts/sanitize.sh
JOBS=${TESSEL_JOBS:-$(nproc)} bash scripts/fuzz.sh "${TESSEL_FUZZ_SECONDS:-60}"
