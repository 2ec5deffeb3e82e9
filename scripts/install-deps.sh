#!/usr/bin/env bash
# Installs the Debian packages the project needs. Idempotent and non-interactive; uses sudo when
# not run as root. Skips apt entirely when all are present.
#   scripts/install-deps.sh           # all: build + tests + tools (developers, CI)
#   scripts/install-deps.sh build     # what compiling the server and the CLI needs (Dockerfile build stage)
#   scripts/install-deps.sh runtime   # the shared libraries the binaries load (Dockerfile runtime stage)
#   scripts/install-deps.sh build-cuda / runtime-cuda   # the same without Debian's CPU LibTorch
#                                     # (Dockerfile.cuda brings a CUDA LibTorch of its own)
set -euo pipefail

PROFILE=${1:-all}

BUILD=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev
  libvips-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libabsl-dev libssl-dev
  # scripts/fuzz.sh and scripts/sanitize.sh: clang with its sanitizer and libFuzzer runtimes
  # (-fsanitize=fuzzer,address,undefined,thread) and llvm-symbolizer for readable reports.
  clang libclang-rt-14-dev llvm-14
)
# Tests and tools: GoogleTest, the weight converter (python3-torch), openssl (certificates made by
# the TLS tests), promtool (package prometheus: checks the Prometheus configuration and rules),
# python3-yaml (compose and Grafana checks).
TEST=(
  python3-torch python3-numpy python3-matplotlib libvips-tools
  libgtest-dev libgmock-dev libbenchmark-dev
  curl openssl prometheus python3-yaml
)
# The runtime libraries of styletransfer-server and styletransfer (checked with ldd in
# scripts/container-try.sh).
RUNTIME=(
  ca-certificates
  libtorch1.13 libvips42 libgrpc++1.51 libgrpc29 libprotobuf32
  libprometheus-cpp-core1.0 libprometheus-cpp-pull1.0 libcivetweb1 libabsl20220623 libssl3
)

without() {  # the packages $2... without $1
  local skip=$1
  shift
  for p in "$@"; do [ "$p" = "$skip" ] || PACKAGES+=("$p"); done
}
PACKAGES=()
case "$PROFILE" in
  all) PACKAGES=("${BUILD[@]}" "${TEST[@]}") ;;
  build) PACKAGES=("${BUILD[@]}") ;;
  runtime) PACKAGES=("${RUNTIME[@]}") ;;
  build-cuda) without libtorch-dev "${BUILD[@]}" ;;
  runtime-cuda) without libtorch1.13 "${RUNTIME[@]}" ;;
  *) echo "usage: $0 [all|build|runtime|build-cuda|runtime-cuda]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The Kubernetes manifest check (tests/deploy/) runs Node.js; any node >= 18 with npm will do, so
# Debian's is installed only when none is on the PATH.
if [ "$PROFILE" = all ] && ! { command -v node && command -v npm; } >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} $PROFILE packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
