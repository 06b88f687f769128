#!/usr/bin/env bash
# Installs dependencies, builds everything and runs every test: the whole
# suite on a Release build (unit, sim, cluster, compat), then the unit and
# simulation tests again under AddressSanitizer + UBSan.
# CORVUS_SKIP_ASAN=1 skips the sanitizer pass (for quick local runs).
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh

jobs=$(nproc)
cmake --preset release >/dev/null
cmake --build --preset release -j "$jobs"
ctest --preset release -j "$jobs"

if [ "${CORVUS_SKIP_ASAN:-0}" != "1" ]; then
  cmake --preset asan >/dev/null
  cmake --build --preset asan -j "$jobs" --target corvus_fast_tests
  CORVUS_SIM_SEEDS="${CORVUS_SIM_SEEDS_ASAN:-200}" ctest --preset asan -j "$jobs"
fi
