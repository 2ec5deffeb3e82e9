// Image decoding and encoding through libvips: bytes in, 8-bit sRGB RGB pixels out, and back.
//
// Only JPEG, PNG, WebP, TIFF and GIF are accepted; every other libvips loader is blocked at
// start-up (InitImageCodec), so no input can reach the SVG, PDF, matrix or file-reading
// loaders. Limits are checked from the header before any pixel is decoded.
//
// Thread-safe: every function may be called from any thread once InitImageCodec has run.
#ifndef STYLE_SERVER_IMAGE_CODEC_H_
#define STYLE_SERVER_IMAGE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace style {

// Interleaved 8-bit RGB, row-major, `pixels.size() == width * height * 3`.
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

enum class ImageFormat { kJpeg, kPng, kWebp, kTiff, kGif };

// "jpeg", "png", ...
const char* ImageFormatName(ImageFormat format);

// What the header says, read without decoding pixels.
struct ImageHeader {
  ImageFormat format;
  int width = 0;
  int height = 0;
  int pages = 1;  // animation frames or TIFF pages; only the first is ever decoded
};

// Limits applied to every input. Defaults suit a GPU server; documented in docs/operations.md
// and docs/reliability.md.
struct DecodeLimits {
  size_t max_bytes = 32u << 20;        // encoded size
  int64_t max_pixels = 40'000'000;     // width * height, from the header
  int max_side = 16384;                // longest side, from the header
  // Animation frames (GIF, WebP) or pages (TIFF) the header may declare. Only the first is
  // ever decoded; an input declaring more is refused rather than walked further.
  int max_frames = 1000;
};

// Loads libvips once, blocks every loader but the five above, turns off the operation cache
// (it would hold decoded images of earlier requests), sets libvips' own thread count and
// silences libvips' warnings (messages about damaged input that would otherwise go to stderr
// once per bad request; set STYLE_VIPS_WARNINGS=1 to see them). Errors are not affected: they
// reach the caller in the returned status, and glib's critical messages still print.
// `vips_concurrency` 0 keeps libvips' default. Safe to call more than once; later calls do
// nothing (and return the first call's result). Returns INTERNAL if libvips cannot start.
// The functions below call it with the default if no one has yet.
absl::Status InitImageCodec(int vips_concurrency = 1);

// How many libvips warnings InitImageCodec's handler has silenced since start-up.
uint64_t SilencedCodecWarnings();

// Identifies the format from the magic bytes and reads the dimensions from the header.
// INVALID_ARGUMENT for empty, unrecognised or unsupported data (the message names what was
// found, e.g. "SVG is not an accepted image format"), or a header that libvips cannot read;
// INVALID_ARGUMENT also when a limit is exceeded (bytes before libvips sees the data; side,
// pixels and frames from the header), saying which limit and by how much.
absl::StatusOr<ImageHeader> ProbeImage(std::string_view bytes, const DecodeLimits& limits);

// Decodes the first frame/page to 8-bit sRGB RGB: EXIF orientation applied, any ICC profile
// converted to sRGB, any colour space (CMYK, greyscale, Lab, 16-bit, float) converted,
// an alpha band composited over white. With `fit_max_side > 0` the image is shrunk (never
// enlarged) so that its longer side is at most `fit_max_side`, using shrink-on-load where the
// format allows. Probes first, so the limits hold before any pixel is decoded.
// INVALID_ARGUMENT for bad or truncated data and exceeded limits.
absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, const DecodeLimits& limits,
                                     int fit_max_side = 0);

enum class OutputFormat { kJpeg, kPng, kWebp };

// Encodes to JPEG, PNG or WebP. `quality` 1..100 for JPEG and WebP (ignored for PNG).
// INVALID_ARGUMENT for an empty image, a pixel buffer of the wrong size, a quality out of
// range or a side over the format's limit (16383 for WebP, 65500 for JPEG); INTERNAL if
// libvips fails.
absl::StatusOr<std::string> EncodeImage(const RgbImage& image, OutputFormat format, int quality);

}  // namespace style

#endif  // STYLE_SERVER_IMAGE_CODEC_H_
