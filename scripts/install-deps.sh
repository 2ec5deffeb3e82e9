#!/usr/bin/env bash
# Installs every Debian package the build, the tests and the tools need. Idempotent and
# non-interactive; uses sudo when not run as root. Skips apt entirely when all are present.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config git ca-certificates
  libtorch-dev python3-torch python3-numpy
  libvips-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libabsl-dev libssl-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  curl
  # scripts/fuzz.sh and scripts/sanitize.sh: clang with its sanitizer and libFuzzer runtimes
  # (-fsanitize=fuzzer,address,undefined,thread) and llvm-symbolizer for readable reports.
  clang libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
