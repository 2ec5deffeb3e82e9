# syntax=docker/dockerfile:1
# The CPU image of the style-transfer service: styletransfer-server and the styletransfer CLI on
# Debian 12, with the built-in model inside. The GPU image is Dockerfile.cuda (same steps).
#
#   docker build -t styletransfer:cpu .
#   docker run -p 50051:50051 -p 9090:9090 styletransfer:cpu
#
# BASE must be Debian 12 (bookworm): the packages come from the project's own
# scripts/install-deps.sh. scripts/container-try.sh builds this file here with buildah from a
# locally made Debian base (BASE=localhost/debian:bookworm) and tries the image.
#
# The image serves the built-in model, models/default/ of the checkout (see docs/operations.md).
# Override the model at run time with --model_dir and a mounted volume.
ARG BASE=debian:bookworm-slim

# ---- build: compile the server and the CLI (Release, no tests) ------------------------------
FROM ${BASE} AS build
ARG JOBS=2
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh build && rm -rf /var/lib/apt/lists/*
COPY CMakeLists.txt ./
COPY proto/ proto/
COPY server/ server/
COPY client/ client/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTYLE_BUILD_TESTS=OFF >/dev/null \
 && cmake --build /build -j "${JOBS}" --target styletransfer-server styletransfer \
 && install -d /out \
 && install -s /build/server/styletransfer-server /build/client/styletransfer /out/

# ---- runtime: only the shared libraries, the binaries and the model -------------------------
FROM ${BASE} AS runtime
ENV DEBIAN_FRONTEND=noninteractive
COPY scripts/install-deps.sh /tmp/install-deps.sh
RUN /tmp/install-deps.sh runtime \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /tmp/install-deps.sh \
 && groupadd --system --gid 10001 styletransfer \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin styletransfer
COPY --from=build /out/ /usr/local/bin/
COPY models/ /opt/styletransfer/models/
USER 10001:10001
# gRPC (StyleTransfer, health, reflection); Prometheus /metrics
EXPOSE 50051 9090
# The CLI's health command exits 0 only for SERVING. It speaks plaintext: with --tls_cert, also
# pass --health_listen and point this at that port (or override the check).
HEALTHCHECK --interval=15s --timeout=5s --start-period=120s --retries=3 \
  CMD ["styletransfer", "--server", "127.0.0.1:50051", "--timeout", "4", "--retries", "0", "health"]
ENTRYPOINT ["styletransfer-server"]
CMD ["--model_dir=/opt/styletransfer/models/default"]
