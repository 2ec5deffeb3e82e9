#!/usr/bin/env bash
# One training call on the GPU machine (../shared/gpu/README.md): unpacks the dependency bundle,
# builds style_train and style_eval with CUDA (incrementally), trains one phase within a time
# budget, and leaves the checkpoint, the fp16 model and the loss log in $OUT. See
# docs/training.md for the whole procedure.
#
#   scripts/gpu-train.sh --build-only
#   scripts/gpu-train.sh --phase distill --steps 4000 --time 560 [-- extra style_train flags]
#
# Options (defaults in brackets):
#   --phase distill|decoder|joint   which phase to train
#   --steps N          train until the phase's checkpoint reaches N steps in all (resumes if the
#                      checkpoint exists; otherwise starts, from the previous phase's checkpoint
#                      for decoder and joint)
#   --time SECONDS     wall-clock budget of this whole call, build included [560]; training stops
#                      and checkpoints in time to package the results
#   --data DIR         training images, DIR/content and DIR/style [.data/train]
#   --teacher DIR      folder with the VGG19 encoder.pt [.data/teacher]
#   --checkpoints DIR  one checkpoint folder per phase, DIR/<phase> [.data/ckpt]
#   --batch N          batch size [16 for distill, 8 otherwise]
#   --build-only       set up and build, then stop
#   --cpu-check DIR    rehearse on a CPU machine with the binaries of build folder DIR: no
#                      bundle, no CUDA build, device cpu in float32 (to check this script)
# Everything after "--" goes to style_train (e.g. --lr=2e-4 --style_weight=5).
#
# Results in $OUT (at most 6 files, each under 16 MiB):
#   <phase>-ckpt.tar.part-aa, -ab, ...   the checkpoint folder, split (restore with
#                                        cat <phase>-ckpt.tar.part-* | tar -x -C .data/ckpt)
#   <phase>-model.tar                    fp16 encoder.pt + decoder.pt (not for distill)
#   <phase>.csv                          the loss log of the phase (all its runs)
#   train-<phase>.log                    this call's output (train-build.log for --build-only)
set -euo pipefail
START=$(date +%s)
cd "$(dirname "$0")/.."

PHASE="" STEPS="" TIME=560 BATCH="" BUILD_ONLY=0 CPU_CHECK=""
DATA=.data/train TEACHER=.data/teacher CKPT=.data/ckpt
EXTRA=()
while [ $# -gt 0 ]; do
  case $1 in
    --phase) PHASE=$2; shift 2 ;;
    --steps) STEPS=$2; shift 2 ;;
    --time) TIME=$2; shift 2 ;;
    --data) DATA=$2; shift 2 ;;
    --teacher) TEACHER=$2; shift 2 ;;
    --checkpoints) CKPT=$2; shift 2 ;;
    --batch) BATCH=$2; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --cpu-check) CPU_CHECK=$2; shift 2 ;;
    --) shift; EXTRA=("$@"); break ;;
    *) echo "gpu-train: unknown option $1" >&2; exit 2 ;;
  esac
done
OUT=${OUT:-out/gpu-train}
mkdir -p "$OUT"
# One log per call of this script, so that several calls can share one device call.
exec > >(tee "$OUT/train-${PHASE:-build}.log") 2>&1

elapsed() { echo $(( $(date +%s) - START )); }

BUILD=build-gpu
DEVICE_ARGS=(--device=cuda --precision=bf16 --channels_last --padding=fix)
if [ -n "$CPU_CHECK" ]; then
  BUILD=$CPU_CHECK
  DEVICE_ARGS=(--device=cpu --precision=fp32)
fi

# --- 1. Dependencies (gRPC, Abseil, libvips, prometheus-cpp) from the bundle -----------------
if [ -z "$CPU_CHECK" ] && [ ! -d /opt/deps/usr ]; then
  if [ ! -f .gpu/deps.tar.xz ]; then
    echo "gpu-train: /opt/deps is empty and .gpu/deps.tar.xz was not sent; make it with"
    echo "  ../shared/gpu/make-deps-bundle.sh .gpu/deps.tar.xz   and carry .gpu/deps.tar.xz"
    exit 1
  fi
  mkdir -p /opt/deps && tar -C /opt/deps -xJf .gpu/deps.tar.xz
  echo "gpu-train: unpacked the dependency bundle ($(elapsed) s)"
fi
export PKG_CONFIG_SYSROOT_DIR=/opt/deps
export PKG_CONFIG_LIBDIR=/opt/deps/usr/lib/x86_64-linux-gnu/pkgconfig:/opt/deps/usr/share/pkgconfig
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

# --- 2. Build (incremental: a warm machine keeps build-gpu/) --------------------------------
if [ -z "$CPU_CHECK" ] && [ ! -f build-gpu/build.ninja ]; then
  TORCH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLE_CUDA=ON -DSTYLE_BUILD_TESTS=OFF \
    -DCMAKE_PREFIX_PATH="/opt/deps/usr;$TORCH" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,/opt/deps/usr/lib/x86_64-linux-gnu" >/dev/null
fi
if [ -z "$CPU_CHECK" ]; then
  cmake --build build-gpu -j "$(nproc)" --target style_train style_eval
  echo "gpu-train: built style_train and style_eval ($(elapsed) s)"
  nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader || true
fi
[ "$BUILD_ONLY" = 1 ] && exit 0

# --- 3. Train one phase ---------------------------------------------------------------------
case $PHASE in
  distill) PREVIOUS="" ;;
  decoder) PREVIOUS=distill ;;
  joint) PREVIOUS=decoder ;;
  *) echo "gpu-train: --phase distill|decoder|joint is required" >&2; exit 2 ;;
esac
[ -n "$STEPS" ] || { echo "gpu-train: --steps is required" >&2; exit 2; }
[ -f "$TEACHER/encoder.pt" ] || { echo "gpu-train: $TEACHER/encoder.pt is missing (carry it)" >&2; exit 1; }
[ -d "$DATA/content" ] && [ -d "$DATA/style" ] || { echo "gpu-train: $DATA/{content,style} missing (carry it)" >&2; exit 1; }
[ -n "$BATCH" ] || { [ "$PHASE" = distill ] && BATCH=16 || BATCH=8; }
mkdir -p "$CKPT"
ARGS=(--phase="$PHASE" --teacher_dir="$TEACHER" --content_dir="$DATA/content" --style_dir="$DATA/style"
      --checkpoint_dir="$CKPT/$PHASE" --csv="$CKPT/$PHASE.csv" --steps="$STEPS" --batch_size="$BATCH"
      "${DEVICE_ARGS[@]}" --log_every=100 --checkpoint_every=2000)
if [ -f "$CKPT/$PHASE/trainer_state.txt" ]; then
  ARGS+=(--resume)
elif [ -n "$PREVIOUS" ]; then
  [ -f "$CKPT/$PREVIOUS/encoder.pt" ] || { echo "gpu-train: $CKPT/$PREVIOUS is missing (carry it)" >&2; exit 1; }
  # joint with --distill_weight needs the distillation's projections beside the decoder's weights.
  if [ "$PHASE" = joint ] && [ ! -f "$CKPT/decoder/projections.pt" ] && [ -f "$CKPT/distill/projections.pt" ]; then
    cp "$CKPT/distill/projections.pt" "$CKPT/decoder/"
  fi
  ARGS+=(--init_from="$CKPT/$PREVIOUS")
fi
[ "$PHASE" = distill ] || ARGS+=(--export_dir="$CKPT/$PHASE-model")
# Leave 40 s to package the results; style_train also stops cleanly on SIGTERM, which the
# timeout below sends as a last resort.
BUDGET=$(( TIME - $(elapsed) - 40 ))
[ "$BUDGET" -gt 30 ] || { echo "gpu-train: no time left to train ($(elapsed) s used of $TIME)" >&2; exit 1; }
echo "gpu-train: training $PHASE for at most $BUDGET s: style_train ${ARGS[*]} ${EXTRA[*]}"
set +e
timeout -s TERM -k 20 $(( BUDGET + 30 )) "$BUILD/train/style_train" "${ARGS[@]}" --max_seconds="$BUDGET" "${EXTRA[@]}"
RC=$?
set -e
echo "gpu-train: style_train exited with $RC ($(elapsed) s)"

# --- 4. Package -----------------------------------------------------------------------------
if [ -f "$CKPT/$PHASE/trainer_state.txt" ]; then
  tar -C "$CKPT" -cf - "$PHASE" | split -b 15M - "$OUT/$PHASE-ckpt.tar.part-"
  cat "$CKPT/$PHASE/trainer_state.txt"
fi
[ -f "$CKPT/$PHASE.csv" ] && cp "$CKPT/$PHASE.csv" "$OUT/"
[ -d "$CKPT/$PHASE-model" ] && tar -C "$CKPT/$PHASE-model" -cf "$OUT/$PHASE-model.tar" encoder.pt decoder.pt
ls -la "$OUT"
echo "gpu-train: done in $(elapsed) s"
exit $RC
