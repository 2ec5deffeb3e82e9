#!/usr/bin/env bash
# The long soak, on demand: builds the server and the soak tool and runs styletransfer-soak
# against the server binary (built-in model) on loopback for SECONDS (default 180) with CLIENTS
# client threads (default 4) sending valid, invalid, short-deadline and
# cancelled requests. Writes out/soak/summary.txt, rss.csv and server.log; exits 1 if a bound
# is broken (see tests/soak_main.cc). ctest runs a 25 s version (soak_test).
#   scripts/soak.sh [SECONDS]
#   MODEL_DIR=DIR scripts/soak.sh     # another model than the built-in models/default
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
RUN_SECONDS=${1:-180}
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-$ROOT/out/soak}

scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target styletransfer-server styletransfer-soak
MODEL_DIR=${MODEL_DIR:-$ROOT/models/default}
mkdir -p "$OUT"
echo "soak: ${RUN_SECONDS}s on $(nproc) cores; results in $OUT"
"$BUILD_DIR/tests/styletransfer-soak" --server="$BUILD_DIR/server/styletransfer-server" --model_dir="$MODEL_DIR" \
  --seconds="$RUN_SECONDS" --clients="${CLIENTS:-4}" --out="$OUT"
