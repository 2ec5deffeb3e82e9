#!/usr/bin/env bash
# The GPU benchmark, on the GPU machine, in one run: build, model-level images/s against batch
# and size for each padding implementation, half-precision parity, the PyTorch baselines, and
# end to end through gRPC with JPEG in and out at several concurrencies (with GPU utilisation).
# Results (JSON, logs, plot) go to $OUT. Expects in .gpu/: deps.tar.xz, models/adain-vgg19/
# (converted weights, fp16 is fine), images/content.jpg and images/style.jpg (512x512).
#   scripts/gpu-bench.sh [model|e2e|all]
set -uo pipefail
cd "$(dirname "$0")/.."
part=${1:-all}
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
log() { echo "[$(date +%T)] $*" | tee -a "$OUT/bench.log"; }
MODEL=.gpu/models/adain-vgg19
IMAGES=.gpu/images

log "building"
scripts/gpu-build.sh >/tmp/gpu-build.log 2>&1 || { tail -60 /tmp/gpu-build.log | tee -a "$OUT/bench.log"; exit 1; }
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv | tee -a "$OUT/bench.log"
echo "CPU cores: $(nproc)" | tee -a "$OUT/bench.log"

if [ "$part" = model ] || [ "$part" = all ]; then
  log "model level"
  build-gpu/bench/bench_model --model_dir=$MODEL --device=cuda:0 --dtype=float16 --sizes=256,512,1024 \
    --batches=1,4,8,16,32,64 --paddings=fix+fuse+graph --seconds=1 \
    --parity_content=$IMAGES/content.jpg --parity_style=$IMAGES/style.jpg --json="$OUT/model_fix.json" | tee -a "$OUT/bench.log"
  build-gpu/bench/bench_model --model_dir=$MODEL --device=cuda:0 --dtype=float16 --sizes=512 \
    --batches=1,8,32 --paddings=reflect,fix,fix+fuse,fix+fuse+graph,zero,zero+fuse+graph --seconds=1 \
    --json="$OUT/model_padding.json" | tee -a "$OUT/bench.log"
  log "PyTorch baselines"
  PYTHONUNBUFFERED=1 python3 tools/baseline_pytorch.py --model-dir=$MODEL --sizes=256,512,1024 --seconds=2 \
    --json="$OUT/baseline.json" 2>&1 | grep -v Warning | tee -a "$OUT/bench.log"
fi

if [ "$part" = e2e ] || [ "$part" = all ]; then
  log "end to end"
  CLI="build-gpu/client/styletransfer --server 127.0.0.1:50151"
  build-gpu/server/styletransfer-server --model_dir=$MODEL --device=cuda --dtype=float16 --workers=2 \
    --max_batch_size=32 --batch_timeout_micros=0 --codec_threads="$(nproc)" --warmup_shapes=512x512 \
    --queue_size=2048 --max_in_flight=4096 --listen=127.0.0.1:50151 --metrics_listen= \
    2>"$OUT/server.log" &
  server=$!
  for _ in $(seq 1 240); do $CLI --timeout 2 --retries 0 health >/dev/null 2>&1 && break; kill -0 $server 2>/dev/null || { cat "$OUT/server.log"; exit 1; }; sleep 0.5; done
  id=$($CLI styles register $IMAGES/style.jpg --name bench | tail -1 | awk '{print $NF}')
  log "registered $id"
  for c in 1 4 16 64 256; do
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 200 >"$OUT/util_$c.txt" &
    smi=$!
    $CLI --timeout 30 --retries 0 bench --content $IMAGES/content.jpg --style-id "$id" --concurrency $c \
      --duration 8 --warmup 20 --json "$OUT/e2e_$c.json" 2>&1 | tee -a "$OUT/bench.log"
    kill $smi 2>/dev/null
    log "concurrency $c: GPU utilisation mean $(awk '{s+=$1; n++} END {if (n) printf "%.0f", s/n}' "$OUT/util_$c.txt")%"
  done
  # civetweb (the /metrics endpoint) could not bind any port on the GPU machine: no scrape there.
  kill -TERM $server; wait $server
  mkdir -p "$OUT/util"; mv "$OUT"/util_*.txt "$OUT/util/" 2>/dev/null || true
  tar -C "$OUT" -czf "$OUT/e2e.tgz" util $(cd "$OUT" && ls e2e_*.json) && rm -rf "$OUT/util" "$OUT"/e2e_*.json
fi
log "done"
