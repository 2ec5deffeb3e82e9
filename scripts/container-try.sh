#!/usr/bin/env bash
# Builds the CPU image (Dockerfile) with buildah and tries it: inside the built image it starts
# styletransfer-server on the built-in model, waits for SERVING through the image's health check
# command, stylizes an example image through the CLI and checks the result; then cleans up.
# Follows ../shared/docs/containers.md (no Docker engine here; `podman run` does not work here,
# `buildah run` does). Needs root. Slow (debootstrap, apt, a Release compile): not part of CI.
#
#   scripts/container-try.sh
#
# Environment:
#   FRESH_BASE=1   re-make the local Debian base image even if localhost/debian:bookworm exists
#   KEEP_IMAGE=1   keep the built image (localhost/styletransfer:try) and the layer cache
#   JOBS=N         compile jobs inside the build (default: nproc)
#
# The model: the image takes models/ from the build context, so it serves the built-in
# models/default/ of the checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
IMAGE=localhost/styletransfer:try
BASE_IMAGE=localhost/debian:bookworm
JOBS=${JOBS:-$(nproc)}
PORT=$((20000 + RANDOM % 20000))  # buildah's chroot isolation shares the host's network
METRICS_PORT=$((PORT + 1))
WORK=$(mktemp -d /tmp/container-try.XXXXXX)
START=$(date +%s)
CONTAINER=""

log() { echo "container-try: [$(($(date +%s) - START)) s] $*"; }
cleanup() {
  [ -n "$CONTAINER" ] && buildah rm "$CONTAINER" >/dev/null 2>&1 || true
  if [ "${KEEP_IMAGE:-0}" != 1 ]; then
    buildah rmi "$IMAGE" >/dev/null 2>&1 || true
    buildah rmi --prune >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || { echo "container-try: run as root (buildah, debootstrap)" >&2; exit 2; }
need=()
for tool in buildah podman debootstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  log "installing ${need[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 1. A Debian 12 base image made locally, from the mirror apt already uses.
if [ "${FRESH_BASE:-0}" = 1 ] || ! podman image exists "$BASE_IMAGE"; then
  MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  log "debootstrap bookworm from $MIRROR"
  debootstrap --variant=minbase bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  # The same sources as this machine (with updates and security), as in debian:bookworm-slim.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$WORK/rootfs/etc/apt/sources.list.d/"
    rm -f "$WORK/rootfs/etc/apt/sources.list"
  fi
  rm -rf "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/var/cache/apt/"*.bin
  tar -C "$WORK/rootfs" -c . | podman import - "$BASE_IMAGE" >/dev/null
  rm -rf "$WORK/rootfs"
  log "base image $BASE_IMAGE made"
else
  log "reusing base image $BASE_IMAGE (FRESH_BASE=1 re-makes it)"
fi

# 2. The build context: the work tree's files (git's view: tracked and unignored).
mkdir -p "$WORK/context"
git ls-files -z --cached --others --exclude-standard | xargs -0 -r cp --parents -t "$WORK/context" 2>/dev/null || true
[ -f "$WORK/context/models/default/decoder.pt" ] || { log "models/default is missing from the checkout"; exit 1; }

# 3. Build.
log "buildah bud (JOBS=$JOBS)"
buildah bud --isolation chroot --ulimit nofile=1024:1024 --layers \
  --build-arg BASE="$BASE_IMAGE" --build-arg JOBS="$JOBS" -t "$IMAGE" -f Dockerfile "$WORK/context" \
  >"$WORK/build.log" 2>&1 || { tail -40 "$WORK/build.log" >&2; exit 1; }
log "built $IMAGE: $(podman image inspect --format '{{.Size}}' "$IMAGE" | awk '{printf "%.0f MB", $1 / 1e6}')," \
  "user $(buildah inspect --format '{{.OCIv1.Config.User}}' "$IMAGE")"

# 4. Try it: inside the image, start the server, wait for the health check, stylize, stop.
mkdir -p "$WORK/io"
cp examples/content/chelsea.jpg "$WORK/io/content.jpg"
cp examples/style/the-fall.jpg "$WORK/io/style.jpg"
chmod -R a+rwX "$WORK/io"
CONTAINER=$(buildah from "$IMAGE")
cat >"$WORK/io/try.sh" <<SCRIPT
set -eu
if ldd /usr/local/bin/styletransfer-server /usr/local/bin/styletransfer | grep 'not found'; then exit 1; fi
id
styletransfer-server --model_dir=/opt/styletransfer/models/default --listen=127.0.0.1:$PORT \
  --metrics_listen=127.0.0.1:$METRICS_PORT --workers=1 --warmup_shapes=64x64 2>/io/server.log &
server=\$!
for i in \$(seq 1 180); do
  styletransfer --server 127.0.0.1:$PORT --timeout 4 --retries 0 health >/dev/null 2>&1 && break
  kill -0 \$server || { cat /io/server.log; exit 1; }
  sleep 1
done
styletransfer --server 127.0.0.1:$PORT --timeout 4 --retries 0 health
styletransfer --server 127.0.0.1:$PORT stylize --content /io/content.jpg --style /io/style.jpg \
  --max-side 512 --out /io/out.jpg
kill -TERM \$server
wait \$server
SCRIPT
log "buildah run: server + CLI inside the image (ports $PORT, $METRICS_PORT)"
buildah run --isolation chroot -v "$WORK/io:/io" "$CONTAINER" -- sh /io/try.sh ||
  { echo "--- server log" >&2; cat "$WORK/io/server.log" >&2 || true; exit 1; }
sed 's/^/  server: /' "$WORK/io/server.log"
[ "$(head -c 3 "$WORK/io/out.jpg" | od -An -tx1 | tr -d ' ')" = ffd8ff ] || { echo "container-try: out.jpg is not a JPEG" >&2; exit 1; }
if [ -n "${SAVE_RESULT:-}" ]; then cp "$WORK/io/out.jpg" "$SAVE_RESULT"; fi
log "OK: stylized chicago.jpg with la_muse.jpg inside the image ($(stat -c %s "$WORK/io/out.jpg") bytes)"
