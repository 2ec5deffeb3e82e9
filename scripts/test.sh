#!/usr/bin/env bash
# Builds everything and runs the whole test suite (ctest). The tests read the standard AdaIN
# weights and example images from ../shared; under CI=true a test fails if they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/build.sh
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j "$(nproc)" "$@"
