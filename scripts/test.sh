#!/usr/bin/env bash
# Builds everything and runs the whole test suite (ctest). The tests read the standard AdaIN
# weights and example images from ../shared; under CI=true a test fails if they are missing.
# With --all it then also runs the sanitizer builds (scripts/sanitize.sh) and the fuzzers for
# FUZZ_SECONDS each (scripts/fuzz.sh, default 60 s per target); see docs/reliability.md.
# CI=true implies --all: CI runs every stage.
#   scripts/test.sh [--all] [ctest arguments...]
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=false
if [ "${1:-}" = "--all" ]; then
  ALL=true
  shift
fi
[ "${CI:-}" = "true" ] && ALL=true
# Elapsed time after each phase, for keeping CI's duration in view (docs/reliability.md).
phase() { echo "test.sh: $1 done, ${SECONDS}s elapsed"; }
scripts/build.sh
phase build
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j "$(nproc)" "$@")
phase ctest
if [ "$ALL" = true ]; then
  scripts/sanitize.sh asan
  phase "ASan+UBSan build and tests"
  scripts/sanitize.sh tsan
  phase "TSan build and tests"
  scripts/fuzz.sh "${FUZZ_SECONDS:-60}"
  phase fuzzing
fi
