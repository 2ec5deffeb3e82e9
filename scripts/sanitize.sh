#!/usr/bin/env bash
# Builds and runs the tests under sanitizers (docs/reliability.md lists what runs and why):
#   build-asan  every test with AddressSanitizer + UndefinedBehaviorSanitizer (and LeakSanitizer),
#               then ctest without the `slow` label: drain_test and soak_test run the server
#               binary for tens of seconds, and the soak's memory bounds mean nothing under ASan.
#               clang when installed (the same build then also holds the fuzz targets for
#               scripts/fuzz.sh), else gcc.
#   build-tsan  the queue, scheduler, service and fault tests (scheduler_test, server_test,
#               fault_injection_test) with ThreadSanitizer.
#   scripts/sanitize.sh [asan|tsan]     # default: both
# Suppressions for the uninstrumented libraries (LibTorch, libvips/glib, gRPC) are in
# tests/sanitizers/, each explained there.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SUPP=$ROOT/tests/sanitizers
JOBS=${JOBS:-2}
WHAT=${1:-all}

scripts/install-deps.sh
if command -v clang++ >/dev/null; then
  export CC=clang CXX=clang++
  FUZZ=ON
else
  export CC=gcc CXX=g++
  FUZZ=OFF
fi
# -O1 with line tables: readable reports, and half the compile time of -O2 -g.
COMMON=(-G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1")
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:suppressions=$SUPP/ubsan.supp"

if [ "$WHAT" = all ] || [ "$WHAT" = asan ]; then
  echo "sanitize: AddressSanitizer + UndefinedBehaviorSanitizer in build-asan ($CXX)"
  cmake -S . -B build-asan "${COMMON[@]}" -DSTYLE_SANITIZE=address -DSTYLE_FUZZ=$FUZZ >/dev/null
  cmake --build build-asan -j "$JOBS"
  # detect_stack_use_after_return stays off: LibTorch's uninstrumented frames make it noisy.
  export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:strict_string_checks=1:check_initialization_order=1"
  export LSAN_OPTIONS="suppressions=$SUPP/lsan.supp:print_suppressions=0"
  (cd build-asan && ctest --output-on-failure -j "$JOBS" -LE slow)
fi

if [ "$WHAT" = all ] || [ "$WHAT" = tsan ]; then
  echo "sanitize: ThreadSanitizer in build-tsan ($CXX)"
  cmake -S . -B build-tsan "${COMMON[@]}" -DSTYLE_SANITIZE=thread >/dev/null
  cmake --build build-tsan -j "$JOBS" --target scheduler_test server_test fault_injection_test
  # ignore_noninstrumented_modules: accesses made inside LibTorch, gRPC, glib and the other
  # system libraries are not seen (their synchronization is not either); our code's are.
  export TSAN_OPTIONS="suppressions=$SUPP/tsan.supp:ignore_noninstrumented_modules=1:halt_on_error=1:second_deadlock_stack=1:history_size=4"
  (cd build-tsan && ctest --output-on-failure -j 1 -R '^(scheduler_test|server_test|fault_injection_test)$')
fi
echo "sanitize: passed"
