#!/usr/bin/env bash
# The main job, end to end on a fresh machine: install, build, start the server on the built-in
# model (models/default), stylize an example content image with an example style image through
# the CLI, write the result, stop the server. Needs nothing outside the checkout.
#   scripts/demo.sh [CONTENT STYLE OUT]
#   MODEL_DIR=models/adain-vgg19 scripts/demo.sh   # another model folder (e.g. the standard
#                                                  # weights, tools/convert_weights.py)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CONTENT=${1:-$ROOT/examples/content/chelsea.jpg}
STYLE=${2:-$ROOT/examples/style/the-fall.jpg}
OUT=${3:-$ROOT/out/demo.jpg}
PORT=${PORT:-50051}
METRICS_PORT=${METRICS_PORT:-9090}

scripts/build.sh
MODEL_DIR=${MODEL_DIR:-$ROOT/models/default}

CLI=build/client/styletransfer
mkdir -p out "$(dirname "$OUT")"
build/server/styletransfer-server --model_dir="$MODEL_DIR" --listen="127.0.0.1:$PORT" \
  --metrics_listen="127.0.0.1:$METRICS_PORT" --warmup_shapes=64x64 2> out/server.log &
SERVER=$!
trap 'kill -TERM $SERVER 2>/dev/null; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do
  $CLI --server "127.0.0.1:$PORT" --timeout 2 --retries 0 health >/dev/null 2>&1 && break
  kill -0 $SERVER 2>/dev/null || { cat out/server.log >&2; exit 1; }
  sleep 0.5
done
$CLI --server "127.0.0.1:$PORT" health
$CLI --server "127.0.0.1:$PORT" stylize --content "$CONTENT" --style "$STYLE" --max-side 512 --out "$OUT"
echo "demo: the stylized image is $OUT (server log: out/server.log, metrics were on :$METRICS_PORT/metrics)"
