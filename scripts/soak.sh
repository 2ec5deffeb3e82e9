#!/usr/bin/env bash
# The long soak, on demand: builds the server and the soak tool, converts the standard weights
# once, and runs styletransfer-soak against the server binary on loopback for SECONDS (default
# 180) with CLIENTS client threads (default 4) sending valid, invalid, short-deadline and
# cancelled requests. Writes out/soak/summary.txt, rss.csv and server.log; exits 1 if a bound
# is broken (see tests/soak_main.cc). ctest runs a 25 s version (soak_test).
#   scripts/soak.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SHARED=${STYLE_SHARED_DIR:-$ROOT/../shared}
RUN_SECONDS=${1:-180}
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-$ROOT/out/soak}

scripts/install-deps.sh
cmake -S . -B "$BUILD_DIR" -G Ninja >/dev/null
cmake --build "$BUILD_DIR" -j "${JOBS:-2}" --target styletransfer-server styletransfer-soak
MODEL_DIR=${MODEL_DIR:-$ROOT/$BUILD_DIR/models/adain-vgg19}
if [ ! -f "$MODEL_DIR/decoder.pt" ]; then
  /usr/bin/python3 tools/convert_weights.py "$SHARED/models/adain-vgg19/vgg_normalised.pth" \
    "$SHARED/models/adain-vgg19/decoder.pth" --out-dir "$MODEL_DIR"
fi
mkdir -p "$OUT"
echo "soak: ${RUN_SECONDS}s on $(nproc) cores; results in $OUT"
"$BUILD_DIR/tests/styletransfer-soak" --server="$BUILD_DIR/server/styletransfer-server" --model_dir="$MODEL_DIR" \
  --seconds="$RUN_SECONDS" --clients="${CLIENTS:-4}" --out="$OUT"
