#!/usr/bin/env bash
# Builds the server, the CLI and the benchmarks against CUDA LibTorch on the GPU machine, from
# the dependency bundle made here by ../shared/gpu/make-deps-bundle.sh (.gpu/deps.tar.xz), as
# in the verified recipe of ../shared/gpu/README.md. Idempotent: a second run only rebuilds.
#   scripts/gpu-build.sh [targets...]      (default: server, CLI, bench_model)
# Afterwards: export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu
set -euo pipefail
cd "$(dirname "$0")/.."
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(styletransfer-server styletransfer bench_model)
if [ ! -d /opt/deps/usr ]; then
  mkdir -p /opt/deps
  tar -C /opt/deps -xJf .gpu/deps.tar.xz
fi
export PKG_CONFIG_SYSROOT_DIR=/opt/deps
export PKG_CONFIG_LIBDIR=/opt/deps/usr/lib/x86_64-linux-gnu/pkgconfig:/opt/deps/usr/share/pkgconfig
# The code generators (protoc, grpc_cpp_plugin) run from the bundle too.
export LD_LIBRARY_PATH=/opt/deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
TORCH=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
if [ ! -f build-gpu/build.ninja ]; then
  cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLE_CUDA=ON -DSTYLE_BUILD_TESTS=OFF \
    -DCMAKE_PREFIX_PATH="/opt/deps/usr;$TORCH" -DCMAKE_CUDA_ARCHITECTURES=90 \
    -DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,/opt/deps/usr/lib/x86_64-linux-gnu" >/dev/null
fi
cmake --build build-gpu -j "$(nproc)" --target "${targets[@]}"
