#!/usr/bin/env bash
# Configures and builds the project (CPU) into build/ with Ninja. Extra arguments go to cmake.
#   scripts/build.sh                 # RelWithDebInfo
#   BUILD_DIR=build-asan scripts/build.sh -DCMAKE_BUILD_TYPE=Debug
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja "$@" >/dev/null
# LibTorch translation units need ~1.5 GB of memory each; one job per core is safe here.
cmake --build "$BUILD_DIR" -j "$(nproc)"
