#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, AddressSanitizer + UndefinedBehaviorSanitizer,
# STYLE_FUZZ=ON) and runs each for a bounded time, starting from the seed corpus that
# make_fuzz_corpus generates. See docs/reliability.md.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]     # default 60
#   FUZZ_BUILD_DIR=build-asan (default; shared with scripts/sanitize.sh, which configures it alike)
# The corpus grows in $FUZZ_BUILD_DIR/fuzz/corpus/<target> between runs. A crash stops the run
# with its input in $FUZZ_BUILD_DIR/fuzz/artifacts/<target>/: fix it and copy the input to
# tests/fuzz/regressions/<target>/, where fuzz_regression_test replays it in every build.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-60}
BUILD_DIR=${FUZZ_BUILD_DIR:-build-asan}
JOBS=${JOBS:-2}

scripts/install-deps.sh
if ! command -v clang++ >/dev/null; then
  echo "fuzz: clang++ is missing (scripts/install-deps.sh installs clang and libclang-rt-14-dev)" >&2
  exit 1
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DSTYLE_SANITIZE=address -DSTYLE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1" >/dev/null
cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzz_decode_image fuzz_validate_request make_fuzz_corpus

WORK=$BUILD_DIR/fuzz
rm -rf "$WORK/seeds"
"$BUILD_DIR/tests/fuzz/make_fuzz_corpus" "$WORK/seeds"

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export LSAN_OPTIONS="suppressions=$ROOT/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$ROOT/tests/sanitizers/ubsan.supp"

status=0
for target in decode_image validate_request; do
  mkdir -p "$WORK/corpus/$target" "$WORK/artifacts/$target"
  extra=()
  if [ "$target" = decode_image ]; then
    extra=(-dict="$ROOT/tests/fuzz/image.dict" -max_len=65536)
  else
    extra=(-max_len=4096)
  fi
  echo "fuzz: fuzz_$target for ${SECONDS_PER_TARGET}s (log: $WORK/$target.log)"
  # -timeout: one input running 10 s is a hang; -rss_limit_mb: a leak or a bomb that got through.
  if ! "$BUILD_DIR/tests/fuzz/fuzz_$target" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
      -timeout=10 -print_final_stats=1 -artifact_prefix="$WORK/artifacts/$target/" "${extra[@]}" \
      "$WORK/corpus/$target" "$WORK/seeds/$target" >"$WORK/$target.log" 2>&1; then
    status=1
    echo "fuzz: fuzz_$target FAILED; the end of its log:" >&2
    grep -v '^"' "$WORK/$target.log" | tail -60 >&2
    ls -l "$WORK/artifacts/$target/" >&2
  fi
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' \
    "$WORK/$target.log" | sed "s/^/fuzz:   /" || true
  echo "fuzz:   corpus now $(find "$WORK/corpus/$target" -type f | wc -l) inputs"
done
exit $status
