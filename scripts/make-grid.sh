#!/usr/bin/env bash
# Makes a picture grid for the README: one row per content/style pair, columns
#   content | style | stylized by each server given.
# Usage: scripts/make-grid.sh OUT.jpg SIDE "SERVER[,SERVER...]" CONTENT:STYLE [CONTENT:STYLE ...]
# Each SERVER is host:port of a running styletransfer-server. Needs libvips-tools (vips).
set -euo pipefail
cd "$(dirname "$0")/.."
out=$1 side=$2 servers=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cells=()
n=0
for pair in "$@"; do
  content=${pair%%:*} style=${pair##*:}
  vips thumbnail "$content" "$tmp/c$n.png" "$side" --height "$side" --crop centre
  vips thumbnail "$style" "$tmp/s$n.png" "$side" --height "$side" --crop centre
  cells+=("$tmp/c$n.png" "$tmp/s$n.png")
  IFS=, read -ra list <<<"$servers"
  for i in "${!list[@]}"; do
    build/client/styletransfer --server "${list[$i]}" stylize --content "$tmp/c$n.png" --style "$style" \
      --format png --out "$tmp/o$n-$i.png" >/dev/null
    cells+=("$tmp/o$n-$i.png")
  done
  n=$((n + 1))
done
columns=$((2 + $(awk -F, '{print NF}' <<<"$servers")))
vips arrayjoin "${cells[*]}" "$out[Q=88]" --across "$columns" --shim 4 --background 255
echo "wrote $out ($n rows, $columns columns)"
