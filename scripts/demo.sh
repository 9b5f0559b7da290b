#!/usr/bin/env bash
# One-line set-up and demo on a fresh Debian 12 machine (see README.md):
# installs the packages tessel needs, builds it, and runs `tessel demo`, which
# checks Lightning Attention-2 forward and backward against float64.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
build/tools/tessel demo
