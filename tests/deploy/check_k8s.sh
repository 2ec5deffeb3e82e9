#!/usr/bin/env bash
# CI check of deploy/k8s: renders the base and the GPU overlay (tests/deploy/render.mjs, and
# `kubectl kustomize` too when kubectl is installed: both renderings must agree), validates every
# object against the Kubernetes schemas and the project's rules (validate.mjs), and makes sure
# that the validator rejects a broken manifest.
#   tests/deploy/check_k8s.sh [WORK_DIR]      (ctest runs it with a folder in the build tree)
# The Node packages come from the npm registry with `npm ci` (package-lock.json), cached in
# WORK_DIR/node_modules between runs.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
WORK=${1:-$(mktemp -d)}
mkdir -p "$WORK"
cp "$HERE/package.json" "$HERE/package-lock.json" "$HERE/render.mjs" "$HERE/validate.mjs" "$WORK/"
if ! cmp -s "$WORK/package-lock.json" "$WORK/node_modules/.installed-lock.json" 2>/dev/null; then
  echo "check_k8s: npm ci ($(node --version))"
  (cd "$WORK" && npm ci --no-audit --no-fund --loglevel=error)
  cp "$WORK/package-lock.json" "$WORK/node_modules/.installed-lock.json"
fi

for overlay in base gpu; do
  dir="$SRC/deploy/k8s/base"
  [ "$overlay" = gpu ] && dir="$SRC/deploy/k8s/overlays/gpu"
  node "$WORK/render.mjs" "$dir" >"$WORK/$overlay.yaml"
  if command -v kubectl >/dev/null; then
    kubectl kustomize "$dir" >"$WORK/$overlay.kubectl.yaml"
    node "$WORK/render.mjs" --compare "$WORK/$overlay.yaml" "$WORK/$overlay.kubectl.yaml"
    echo "check_k8s: $overlay: render.mjs and kubectl kustomize agree"
  else
    echo "check_k8s: $overlay: no kubectl; rendered with render.mjs only"
  fi
  node "$WORK/validate.mjs" --overlay "$overlay" "$WORK/$overlay.yaml"
done

# The validator must catch a misspelt field, a wrong type and a broken project rule.
expect_rejected() {
  local what=$1 expr=$2
  sed "$expr" "$WORK/base.yaml" >"$WORK/broken.yaml"
  if cmp -s "$WORK/base.yaml" "$WORK/broken.yaml"; then echo "check_k8s: self-test '$what' changed nothing" >&2; exit 1; fi
  if node "$WORK/validate.mjs" --overlay base "$WORK/broken.yaml" >"$WORK/broken.log" 2>&1; then
    echo "check_k8s: the validator accepted a manifest with $what" >&2
    exit 1
  fi
  echo "check_k8s: rejected as expected: $what ($(grep -m1 -o 'Deployment[^;]*\|HorizontalPodAutoscaler[^;]*' "$WORK/broken.log" | head -1))"
}
expect_rejected "a misspelt field" 's/readinessProbe:/readinesProbe:/'
expect_rejected "a wrong type" 's/^  replicas: 2$/  replicas: two/'
expect_rejected "no drop ALL" 's/- ALL$/- NET_RAW/'
echo "check_k8s: OK (base and gpu valid; broken manifests rejected)"
