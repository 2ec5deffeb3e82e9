#!/usr/bin/env bash
# Collects the training images for style_train into OUT_DIR/content and OUT_DIR/style, with
# OUT_DIR/SOURCES.txt naming each file's origin and licence:
#
#   content  ../shared/data/train/content (photos, MIT; copied as they are) and the CC0 /
#            public-domain colour photos of Debian's python3-skimage
#   style    ../shared/data/train/style (paintings, MIT; copied as they are) and the painted
#            story art and a few campaign maps of Debian's Wesnoth 1.16 packages (GPL-2+)
#
# Debian images are fetched with `apt-get download` (no root needed), unpacked with dpkg-deb
# and resized with vips so that the shorter side is at most 320 (content) or 384 (style) px,
# JPEG quality 90. Nothing is installed. Keep OUT_DIR out of version control (.data/ is ignored).
#
#   scripts/gather-training-data.sh .data/train        # about 20 MB
set -euo pipefail

OUT=${1:?usage: $0 OUT_DIR}
cd "$(dirname "$0")/.."
SHARED=${SHARED_DIR:-../shared}/data/train
CONTENT_SIDE=320
STYLE_SIDE=384

for tool in apt-get dpkg-deb vips vipsheader; do
  command -v "$tool" >/dev/null || { echo "gather: $tool is missing (vips: apt-get install libvips-tools)" >&2; exit 1; }
done
[ -d "$SHARED/content" ] && [ -d "$SHARED/style" ] || { echo "gather: $SHARED/{content,style} not found" >&2; exit 1; }

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# apt-get download runs as the _apt user where it can, which must be able to write here.
chmod 777 "$WORK"
mkdir -p "$OUT/content" "$OUT/style"
SOURCES="$OUT/SOURCES.txt"
{
  echo "# file<TAB>source<TAB>licence, one line per image (scripts/gather-training-data.sh)"
} > "$SOURCES"

record() { printf '%s\t%s\t%s\n' "$1" "$2" "$3" >> "$SOURCES"; }

# resize IN OUT_JPEG SHORT_SIDE: shrink (never enlarge) so that the shorter side is at most
# SHORT_SIDE; an alpha channel is flattened onto white; colour profiles are converted to sRGB.
resize() {
  local in=$1 out=$2 side=$3 w h scale
  w=$(vipsheader -f width "$in")
  h=$(vipsheader -f height "$in")
  scale=$(awk -v w="$w" -v h="$h" -v s="$side" 'BEGIN { m = (w < h) ? w : h; r = s / m; print (r < 1) ? r : 1 }')
  vips resize "$in" "$WORK/resized.v" "$scale" --kernel lanczos3 2>/dev/null
  if [ "$(vipsheader -f bands "$WORK/resized.v")" = 4 ] || [ "$(vipsheader -f bands "$WORK/resized.v")" = 2 ]; then
    vips flatten "$WORK/resized.v" "$WORK/flat.v" --background 255 2>/dev/null
    mv "$WORK/flat.v" "$WORK/resized.v"
  fi
  vips colourspace "$WORK/resized.v" "$WORK/srgb.v" srgb 2>/dev/null
  vips jpegsave "$WORK/srgb.v" "$out" --Q 90 --strip 2>/dev/null
  rm -f "$WORK"/*.v
}

# 1. The shared images, unchanged (already at most 320 / 384 px on the shorter side).
shared_licence() {
  case $(basename "$1") in
    bsds_*) echo "shared/data/train: BSDS300 via jiny2001/dcscn-super-resolution	MIT" ;;
    coco_*) echo "shared/data/train: MS-COCO via jiwoogit/StyleID	MIT" ;;
    raccoon_*) echo "shared/data/train: penny4860/android-style-transfer	MIT" ;;
    wikiart_*) echo "shared/data/train: WikiArt via jiwoogit/StyleID	MIT" ;;
    penny_*) echo "shared/data/train: penny4860/android-style-transfer	MIT" ;;
    *) echo "shared/data/train	see ../shared/data/README.md" ;;
  esac
}
for kind in content style; do
  for f in "$SHARED/$kind"/*; do
    cp "$f" "$OUT/$kind/"
    IFS=$'\t' read -r src lic <<< "$(shared_licence "$f")"
    record "$kind/$(basename "$f")" "$src" "$lic"
  done
done

# 2. scikit-image's sample photos: the colour photographs whose docstrings (skimage/data/
#    _fetchers.py) say CC0 or public domain. motorcycle_left (Middlebury) has no clear licence.
(cd "$WORK" && apt-get download python3-skimage >/dev/null)
dpkg-deb -x "$WORK"/python3-skimage_*.deb "$WORK/skimage"
SKDATA=$(find "$WORK/skimage" -type d -path '*skimage/data' | head -1)
SKVER=$(dpkg-deb -f "$WORK"/python3-skimage_*.deb Version)
for entry in "astronaut.png:public domain (NASA)" "chelsea.png:CC0 (Stefan van der Walt)" \
             "coffee.png:CC0 (Rachel Michetti)" "rocket.jpg:public domain (SpaceX)" \
             "camera.png:CC0 (Lav Varshney)" "hubble_deep_field.jpg:public domain (NASA)"; do
  name=${entry%%:*}
  out="content/skimage_${name%.*}.jpg"
  resize "$SKDATA/$name" "$OUT/$out" $CONTENT_SIDE
  record "$out" "Debian python3-skimage $SKVER: skimage/data/$name" "${entry#*:}"
done

# 3. Wesnoth 1.16 story art (painted scenes and landscapes) and four campaign maps.
#    Left out: localised logos, portraits with transparent backgrounds (too little painting
#    per crop), a duplicate (DM reuses HttT's story3), near-duplicate landscapes, and the
#    Secrets of the Ancients story images, which are in-game screenshots rather than paintings.
#    (Hence no wesnoth-1.16-dm or -low: their story folders hold only those.) The other
#    campaigns (dw, ei, nr, sof, sotbe, thot, utbs) have no story art.
PACKAGES=(wesnoth-1.16-data wesnoth-1.16-did wesnoth-1.16-httt wesnoth-1.16-l
          wesnoth-1.16-sota wesnoth-1.16-trow wesnoth-1.16-tsg wesnoth-1.16-ttb)
EXCLUDE='/l10n/|trow-logo|black-background|/story/portraits/|/story/characters/|Delfadors_Memoirs/images/story/httt_story3|landscape-battlefield_nohumans|landscape-bridge_sun|Secrets_of_the_Ancients/images/story/[^/]*\.jpg$'
MAPS='Heir_To_The_Throne/images/maps/httt.png|The_Rise_Of_Wesnoth/images/maps/great_continent.png|core/images/maps/wesnoth.png|core/images/maps/background.jpg'
for pkg in "${PACKAGES[@]}"; do
  (cd "$WORK" && apt-get download "$pkg" >/dev/null)
  deb=$(ls "$WORK/${pkg}"_*.deb)
  version=$(dpkg-deb -f "$deb" Version)
  rm -rf "$WORK/x"
  dpkg-deb -x "$deb" "$WORK/x"
  rm "$deb"
  while IFS= read -r f; do
    rel=${f#"$WORK/x/usr/share/games/wesnoth/1.16/data/"}
    # campaigns/Heir_To_The_Throne/images/story/httt_story1.jpg -> wesnoth_Heir_To_The_Throne_httt_story1.jpg
    name=$(echo "$rel" | sed -E 's#^campaigns/##; s#/images/(story|maps)/#_#; s#^core_#core_#; s#/#_#g')
    out="style/wesnoth_${name%.*}.jpg"
    resize "$f" "$OUT/$out" $STYLE_SIDE
    record "$out" "Debian $pkg $version: data/$rel" "GPL-2+ (Battle for Wesnoth artwork, see /usr/share/doc/$pkg/copyright)"
  done < <(find "$WORK/x" -type f \( -path '*/images/story/*' -o -path '*/images/maps/*' \) \
             \( -name '*.png' -o -name '*.jpg' -o -name '*.webp' \) | grep -E "/images/story/|$MAPS" | grep -Ev "$EXCLUDE" | sort)
  rm -rf "$WORK/x"
done

content=$(find "$OUT/content" -type f | wc -l)
style=$(find "$OUT/style" -type f | wc -l)
echo "gather: $content content and $style style images, $(du -sh "$OUT" | cut -f1) in $OUT (sources: $SOURCES)"
