#include "server/image_codec.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <utility>
#include <vips/vips8>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/status_util.h"

namespace style {
namespace {

using vips::VError;
using vips::VImage;

constexpr char kAccepted[] = "accepted formats are JPEG, PNG, WebP, TIFF and GIF";

// libvips' own messages are echoed to clients, so keep them short.
constexpr size_t kMaxVipsMessage = 300;

// The formats we accept: their names, and the libvips loader classes left unblocked for them
// (alternative names across libvips builds; the first that exists is used).
struct AllowedLoader {
  ImageFormat format;
  const char* name;          // as in the API and the metrics: "jpeg"
  const char* display_name;  // in messages: "JPEG"
  const char* class_names[2];
};
constexpr AllowedLoader kAllowedLoaders[] = {
    {ImageFormat::kJpeg, "jpeg", "JPEG", {"VipsForeignLoadJpegBuffer", nullptr}},
    {ImageFormat::kPng, "png", "PNG", {"VipsForeignLoadPngBuffer", "VipsForeignLoadSpngBuffer"}},
    {ImageFormat::kWebp, "webp", "WebP", {"VipsForeignLoadWebpBuffer", nullptr}},
    {ImageFormat::kTiff, "tiff", "TIFF", {"VipsForeignLoadTiffBuffer", nullptr}},
    {ImageFormat::kGif, "gif", "GIF", {"VipsForeignLoadNsgifBuffer", "VipsForeignLoadGifBuffer"}},
};

const AllowedLoader* FindLoader(ImageFormat format) {
  for (const AllowedLoader& loader : kAllowedLoaders) {
    if (loader.format == format) return &loader;
  }
  return nullptr;
}

std::atomic<uint64_t> g_silenced_warnings{0};

// libvips (and libjpeg, libpng, libtiff, libwebp through it) report damaged input as glib
// warnings on stderr: one or more lines per bad request, which a public server must not let
// its clients write into its log. They carry nothing the caller does not get otherwise: with
// fail_on=error the damage that matters fails the decode and its message is in the status.
void SilenceWarning(const gchar* /*domain*/, GLogLevelFlags /*level*/, const gchar* /*message*/,
                    gpointer /*data*/) {
  g_silenced_warnings.fetch_add(1, std::memory_order_relaxed);
}

absl::Status DoInit(int vips_concurrency) {
  if (VIPS_INIT("styletransfer") != 0) {
    return absl::InternalError(absl::StrCat("libvips failed to start: ", vips_error_buffer()));
  }
  const char* keep_warnings = std::getenv("STYLE_VIPS_WARNINGS");
  if (keep_warnings == nullptr || std::strcmp(keep_warnings, "1") != 0) {
    // Only the "VIPS" domain and only warnings and below: criticals and errors still print.
    g_log_set_handler("VIPS",
                      static_cast<GLogLevelFlags>(G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE |
                                                  G_LOG_LEVEL_INFO | G_LOG_LEVEL_DEBUG),
                      SilenceWarning, nullptr);
  }
  // A cached operation would keep an earlier request's image (and input buffer) alive.
  vips_cache_set_max(0);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  if (vips_concurrency > 0) vips_concurrency_set(vips_concurrency);

  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const AllowedLoader& loader : kAllowedLoaders) {
    bool found = false;
    for (const char* name : loader.class_names) {
      if (name != nullptr && g_type_from_name(name) != 0) {
        vips_operation_block_set(name, FALSE);
        found = true;
        break;
      }
    }
    if (!found) {
      return absl::InternalError(
          absl::StrCat("libvips has no ", ImageFormatName(loader.format), " buffer loader"));
    }
  }
  return absl::OkStatus();
}

std::once_flag g_init_once;
// Written once inside g_init_once, read-only afterwards.
absl::Status* g_init_status = nullptr;

absl::Status EnsureInit() { return InitImageCodec(); }

// libvips keeps one process-wide error log that VError copies but never clears.
std::string VipsMessage(const VError& error) {
  vips_error_clear();
  std::string message = error.what();
  absl::StripAsciiWhitespace(&message);
  if (message.empty()) message = "unknown libvips error";
  if (message.size() > kMaxVipsMessage) {
    message.resize(kMaxVipsMessage);
    message += "...";
  }
  return message;
}

struct BlobUnref {
  void operator()(VipsBlob* blob) const { vips_area_unref(VIPS_AREA(blob)); }
};
using BlobPtr = std::unique_ptr<VipsBlob, BlobUnref>;

const char* FormatDisplayName(ImageFormat format) {
  const AllowedLoader* loader = FindLoader(format);
  return loader != nullptr ? loader->display_name : "image";
}

bool HasPrefix(std::string_view bytes, std::string_view prefix) {
  return bytes.substr(0, prefix.size()) == prefix;
}

std::optional<ImageFormat> SniffAccepted(std::string_view b) {
  using namespace std::string_view_literals;
  if (HasPrefix(b, "\xFF\xD8\xFF"sv)) return ImageFormat::kJpeg;
  if (HasPrefix(b, "\x89PNG\r\n\x1A\n"sv)) return ImageFormat::kPng;
  if (b.size() >= 12 && HasPrefix(b, "RIFF") && b.substr(8, 4) == "WEBP") {
    return ImageFormat::kWebp;
  }
  // Classic TIFF and BigTIFF, both byte orders.
  if (HasPrefix(b, "II*\0"sv) || HasPrefix(b, "MM\0*"sv) || HasPrefix(b, "II+\0"sv) ||
      HasPrefix(b, "MM\0+"sv)) {
    return ImageFormat::kTiff;
  }
  if (HasPrefix(b, "GIF87a") || HasPrefix(b, "GIF89a")) return ImageFormat::kGif;
  return std::nullopt;
}

bool LooksLikeText(std::string_view b) {
  const std::string_view head = b.substr(0, 512);
  return std::all_of(head.begin(), head.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u >= 0x20 || c == '\n' || c == '\r' || c == '\t' || u >= 0x80;
  });
}

// Names what unaccepted data looks like, or "" when it is unrecognised.
std::string DescribeRejected(std::string_view b) {
  using namespace std::string_view_literals;
  if (HasPrefix(b, "%PDF")) return "PDF";
  if (HasPrefix(b, "%!PS")) return "PostScript";
  // "BM", file size, then four reserved zero bytes.
  if (b.size() >= 14 && HasPrefix(b, "BM") && b.substr(6, 4) == "\0\0\0\0"sv) return "BMP";
  if (HasPrefix(b, "8BPS")) return "PSD";
  if (HasPrefix(b, "\0\0\1\0"sv)) return "ICO";
  if (HasPrefix(b, "RIFF")) return "RIFF (not WebP)";
  if (HasPrefix(b, "\xFF\x0A"sv) || HasPrefix(b, "\0\0\0\x0CJXL \r\n\x87\n"sv)) return "JPEG XL";
  if (HasPrefix(b, "\0\0\0\x0CjP  \r\n\x87\n"sv) || HasPrefix(b, "\xFF\x4F\xFF\x51"sv)) {
    return "JPEG 2000";
  }
  if (b.size() >= 12 && b.substr(4, 4) == "ftyp") {
    const std::string_view brand = b.substr(8, 4);
    if (brand == "avif" || brand == "avis") return "AVIF";
    if (brand == "heic" || brand == "heix" || brand == "hevc" || brand == "hevx" ||
        brand == "heim" || brand == "heis" || brand == "mif1" || brand == "msf1") {
      return "HEIF";
    }
    return "ISO media (MP4/MOV)";
  }
  if (HasPrefix(b, "\x76\x2F\x31\x01"sv)) return "OpenEXR";
  if (HasPrefix(b, "\x08\xF2\xA6\xB6"sv) || HasPrefix(b, "\xB6\xA6\xF2\x08"sv)) return "VIPS";
  if (HasPrefix(b, "SIMPLE  =")) return "FITS";
  if (HasPrefix(b, "#?RADIANCE") || HasPrefix(b, "#?RGBE")) return "Radiance HDR";
  if (HasPrefix(b, "MATLAB")) return "MATLAB";
  if (HasPrefix(b, "\x1F\x8B"sv)) return "gzip";
  if (HasPrefix(b, "PK\3\4"sv)) return "ZIP";
  if (b.size() >= 3 && b[0] == 'P' && std::strchr("1234567Ff", b[1]) != nullptr &&
      absl::ascii_isspace(static_cast<unsigned char>(b[2]))) {
    return "PNM (PBM/PGM/PPM/PFM)";
  }

  std::string_view text = b.substr(0, 4096);
  if (HasPrefix(text, "\xEF\xBB\xBF"sv)) text.remove_prefix(3);
  while (!text.empty() && absl::ascii_isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  std::string lower(text);
  absl::AsciiStrToLower(&lower);
  if (absl::StrContains(lower, "<svg")) return "SVG";
  if (HasPrefix(lower, "<?xml")) return "XML";
  if (HasPrefix(lower, "<!doctype html") || HasPrefix(lower, "<html")) return "HTML";
  if (LooksLikeText(b)) return "text";
  return "";
}

std::string HexPrefix(std::string_view b) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i) {
    const auto u = static_cast<unsigned char>(b[i]);
    if (i > 0) out += ' ';
    out += kHex[u >> 4];
    out += kHex[u & 15];
  }
  return out;
}

// The checks that need no libvips: size, emptiness and format.
absl::StatusOr<ImageFormat> CheckBytes(std::string_view bytes, const DecodeLimits& limits) {
  if (bytes.empty()) return absl::InvalidArgumentError("image is empty (0 bytes)");
  if (bytes.size() > limits.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image is ", bytes.size(), " bytes, over the limit of ", limits.max_bytes, " bytes"));
  }
  if (std::optional<ImageFormat> format = SniffAccepted(bytes)) return *format;
  const std::string what = DescribeRejected(bytes);
  if (!what.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not an accepted image format (", kAccepted, ")"));
  }
  return absl::InvalidArgumentError(absl::StrCat("unrecognised image format (data starts ",
                                                 HexPrefix(bytes), "; ", kAccepted, ")"));
}

absl::Status CheckDimensions(int width, int height, const DecodeLimits& limits);

absl::Status CheckFrames(int pages, const DecodeLimits& limits) {
  if (pages > limits.max_frames) {
    return absl::InvalidArgumentError(
        absl::StrCat("image has ", pages, " frames or pages; at most ", limits.max_frames,
                     " are accepted (only the first is used; send a still image)"));
  }
  return absl::OkStatus();
}

absl::Status TooManyFrames(const DecodeLimits& limits) {
  return absl::InvalidArgumentError(
      absl::StrCat("image has more than ", limits.max_frames, " frames or pages; at most ",
                   limits.max_frames, " are accepted (only the first is used; send a still image)"));
}

// Little-endian (or big-endian) unsigned integers of `n` bytes at `at`; the caller checks bounds.
uint64_t ReadUnsigned(std::string_view b, size_t at, int n, bool little_endian) {
  uint64_t value = 0;
  for (int i = 0; i < n; ++i) {
    const auto byte = static_cast<unsigned char>(b[at + (little_endian ? n - 1 - i : i)]);
    value = (value << 8) | byte;
  }
  return value;
}

// What libvips would only learn expensively, read straight from the container: libwebp's
// demuxer takes time quadratic in the number of animation frames (100000 frames: 12 s) and
// libvips allocates a canvas-sized frame buffer while reading a WebP header (16383x16383:
// 1 GiB), and libtiff walks every IFD to count a TIFF's pages. So WebP's size and frame count
// and TIFF's page count are checked here, before libvips sees the data, in time linear in the
// chunks or pages visited (at most max_frames + 1 of them). Malformed structure is left for
// libvips to refuse.
absl::Status PreCheckWebp(std::string_view b, const DecodeLimits& limits) {
  const uint64_t riff_end = std::min<uint64_t>(b.size(), 8 + ReadUnsigned(b, 4, 4, true));
  bool sized = false;
  int frames = 0;
  for (uint64_t at = 12; at + 8 <= riff_end;) {
    const std::string_view tag = b.substr(at, 4);
    const uint64_t size = ReadUnsigned(b, at + 4, 4, true);
    const uint64_t payload = at + 8;
    const uint64_t available = b.size() - payload;
    if (tag == "VP8X" && size >= 10 && available >= 10) {
      // Flags and reserved bytes, then the canvas width and height minus one, 24 bits each.
      const auto width = static_cast<int>(1 + ReadUnsigned(b, payload + 4, 3, true));
      const auto height = static_cast<int>(1 + ReadUnsigned(b, payload + 7, 3, true));
      RETURN_IF_ERROR(CheckDimensions(width, height, limits));
      sized = true;
    } else if (tag == "VP8L" && !sized && size >= 5 && available >= 5 && b[payload] == '\x2F') {
      // The lossless signature, then width and height minus one, 14 bits each.
      const uint64_t bits = ReadUnsigned(b, payload + 1, 4, true);
      RETURN_IF_ERROR(CheckDimensions(static_cast<int>(1 + (bits & 0x3FFF)),
                                      static_cast<int>(1 + ((bits >> 14) & 0x3FFF)), limits));
      sized = true;
    } else if (tag == "VP8 " && !sized && size >= 10 && available >= 10 &&
               b.substr(payload + 3, 3) == "\x9D\x01\x2A") {
      // A key frame's tag and start code, then width and height, 14 bits each.
      RETURN_IF_ERROR(CheckDimensions(static_cast<int>(ReadUnsigned(b, payload + 6, 2, true) & 0x3FFF),
                                      static_cast<int>(ReadUnsigned(b, payload + 8, 2, true) & 0x3FFF),
                                      limits));
      sized = true;
    } else if (tag == "ANMF" && ++frames > limits.max_frames) {
      return TooManyFrames(limits);
    }
    at = payload + size + (size & 1);  // chunks are padded to even sizes
  }
  return absl::OkStatus();
}

absl::Status PreCheckTiff(std::string_view b, const DecodeLimits& limits) {
  const bool little_endian = b[0] == 'I';
  const bool big_tiff = ReadUnsigned(b, 2, 2, little_endian) == 43;
  const int offset_size = big_tiff ? 8 : 4;
  const int count_size = big_tiff ? 8 : 2;
  const int entry_size = big_tiff ? 20 : 12;
  if (b.size() < (big_tiff ? 16u : 8u)) return absl::OkStatus();
  uint64_t ifd = ReadUnsigned(b, big_tiff ? 8 : 4, offset_size, little_endian);
  // A chain that loops is cut off by the count too.
  for (int pages = 0; ifd != 0 && ifd <= b.size() - count_size;) {
    if (++pages > limits.max_frames) return TooManyFrames(limits);
    const uint64_t entries = ReadUnsigned(b, ifd, count_size, little_endian);
    if (entries > b.size()) break;
    const uint64_t next_at = ifd + count_size + entries * entry_size;
    if (next_at > b.size() - offset_size) break;
    ifd = ReadUnsigned(b, next_at, offset_size, little_endian);
  }
  return absl::OkStatus();
}

absl::Status PreCheck(ImageFormat format, std::string_view bytes, const DecodeLimits& limits) {
  switch (format) {
    case ImageFormat::kWebp:
      return PreCheckWebp(bytes, limits);
    case ImageFormat::kTiff:
      return PreCheckTiff(bytes, limits);
    default:
      // libjpeg, libspng and libnsgif read sizes without allocating for them, and libnsgif
      // stops counting frames a little past 4096.
      return absl::OkStatus();
  }
}

absl::Status CheckDimensions(int width, int height, const DecodeLimits& limits) {
  if (width <= 0 || height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("image is ", width, "x", height, ", which has no pixels"));
  }
  const int64_t pixels = static_cast<int64_t>(width) * height;
  if (pixels > limits.max_pixels) {
    return absl::InvalidArgumentError(absl::StrCat("image is ", width, "x", height, " = ", pixels,
                                                   " pixels, over the limit of ", limits.max_pixels,
                                                   " pixels"));
  }
  const int side = std::max(width, height);
  if (side > limits.max_side) {
    return absl::InvalidArgumentError(
        absl::StrCat("image is ", width, "x", height, ": its longer side of ", side,
                     " pixels is over the limit of ", limits.max_side));
  }
  return absl::OkStatus();
}

// Opens `blob` with the loader for `format`; libvips reads only the header here, pixels are
// decoded when first used. `jpeg_shrink` (1, 2, 4, 8) and `webp_scale` (<= 1) shrink on load.
// Throws VError.
VImage OpenFirstPage(ImageFormat format, VipsBlob* blob, int jpeg_shrink = 1,
                     double webp_scale = 1.0) {
  // "error" also fails on truncation; without it libvips fills the missing rows with grey.
  vips::VOption* options =
      VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL)->set("fail_on", VIPS_FAIL_ON_ERROR);
  switch (format) {
    case ImageFormat::kJpeg:
      // Orientation is applied after decoding, like for every other format.
      return VImage::jpegload_buffer(blob, options->set("shrink", jpeg_shrink));
    case ImageFormat::kPng:
      return VImage::pngload_buffer(blob, options);
    case ImageFormat::kWebp:
      return VImage::webpload_buffer(blob, options->set("scale", webp_scale));
    case ImageFormat::kTiff:
      return VImage::tiffload_buffer(blob, options->set("page", 0)->set("n", 1));
    case ImageFormat::kGif:
      return VImage::gifload_buffer(blob, options->set("page", 0)->set("n", 1));
  }
  delete options;
  throw VError("unknown image format");
}

ImageHeader HeaderOf(ImageFormat format, const VImage& image) {
  ImageHeader header;
  header.format = format;
  header.width = image.width();
  header.height = image.height();
  if (image.get_typeof(VIPS_META_N_PAGES) != 0) {
    header.pages = std::max(1, image.get_int(VIPS_META_N_PAGES));
  }
  return header;
}

bool IsDeviceSpace(VipsInterpretation interpretation) {
  switch (interpretation) {
    case VIPS_INTERPRETATION_sRGB:
    case VIPS_INTERPRETATION_RGB16:
    case VIPS_INTERPRETATION_B_W:
    case VIPS_INTERPRETATION_GREY16:
    case VIPS_INTERPRETATION_CMYK:
      return true;
    default:
      return false;
  }
}

bool HasRouteToSrgb(VipsInterpretation interpretation) {
  switch (interpretation) {
    case VIPS_INTERPRETATION_sRGB:
    case VIPS_INTERPRETATION_RGB16:
    case VIPS_INTERPRETATION_B_W:
    case VIPS_INTERPRETATION_GREY16:
    case VIPS_INTERPRETATION_CMYK:
    case VIPS_INTERPRETATION_scRGB:
    case VIPS_INTERPRETATION_LAB:
    case VIPS_INTERPRETATION_LABQ:
    case VIPS_INTERPRETATION_LABS:
    case VIPS_INTERPRETATION_LCH:
    case VIPS_INTERPRETATION_CMC:
    case VIPS_INTERPRETATION_XYZ:
    case VIPS_INTERPRETATION_YXY:
    case VIPS_INTERPRETATION_HSV:
      return true;
    default:
      return false;
  }
}

// Maps any numeric format to uchar, assuming the format's full range is in use (as for 16-bit
// images whose interpretation libvips did not recognise).
VImage ToUchar(const VImage& image) {
  switch (image.format()) {
    case VIPS_FORMAT_UCHAR:
      return image;
    case VIPS_FORMAT_USHORT:
    case VIPS_FORMAT_SHORT:
      return image.linear(1.0 / 257.0, 0.0)
          .round(VIPS_OPERATION_ROUND_RINT)
          .cast(VIPS_FORMAT_UCHAR);
    case VIPS_FORMAT_UINT:
    case VIPS_FORMAT_INT:
      return image.linear(1.0 / 16843009.0, 0.0)
          .round(VIPS_OPERATION_ROUND_RINT)
          .cast(VIPS_FORMAT_UCHAR);
    default:
      // char, float and double: taken as 0..255, clipped.
      return image.round(VIPS_OPERATION_ROUND_RINT).cast(VIPS_FORMAT_UCHAR);
  }
}

// The value that means "opaque" in an alpha band, as libvips' flatten assumes.
double MaxAlpha(const VImage& image, VipsInterpretation interpretation) {
  switch (image.format()) {
    case VIPS_FORMAT_USHORT:
    case VIPS_FORMAT_SHORT:
      return 65535.0;
    case VIPS_FORMAT_FLOAT:
    case VIPS_FORMAT_DOUBLE:
      return interpretation == VIPS_INTERPRETATION_scRGB ? 1.0 : 255.0;
    default:
      return 255.0;
  }
}

// Any colour image without alpha to 3-band uchar sRGB. Throws VError.
VImage ToSrgb8(VImage colour) {
  VipsInterpretation interpretation = colour.guess_interpretation();
  if (interpretation != colour.interpretation()) {
    colour = colour.copy(VImage::option()->set("interpretation", interpretation));
  }
  if (colour.get_typeof(VIPS_META_ICC_NAME) != 0 && IsDeviceSpace(interpretation)) {
    try {
      colour = colour.icc_transform("srgb", VImage::option()
                                                ->set("embedded", true)
                                                ->set("intent", VIPS_INTENT_PERCEPTUAL)
                                                ->set("depth", 8));
      interpretation = VIPS_INTERPRETATION_sRGB;
    } catch (const VError&) {
      // A broken or mismatched profile: treat the pixels as untagged, as browsers do.
      vips_error_clear();
    }
  }
  if (HasRouteToSrgb(interpretation)) {
    colour = colour.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  colour = ToUchar(colour);
  if (colour.bands() > 3) {
    colour = colour.extract_band(0, VImage::option()->set("n", 3));
  } else if (colour.bands() < 3) {
    const VImage grey = colour.extract_band(0);
    colour = VImage::bandjoin({grey, grey, grey});
  }
  return colour.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Converts to sRGB and composites any alpha band over white. Throws VError.
VImage FlattenToSrgb8(VImage image) {
  if (image.coding() != VIPS_CODING_NONE) {
    // Packed pixels (8-bit CIELAB TIFF loads as LABQ).
    VipsImage* decoded = nullptr;
    if (vips_image_decode(image.get_image(), &decoded) != 0) throw VError();
    image = VImage(decoded);
  }
  const VipsInterpretation interpretation = image.guess_interpretation();
  const int bands = image.bands();
  const bool cmyk = interpretation == VIPS_INTERPRETATION_CMYK;
  int colour_bands = bands;
  if (bands == 2) {
    colour_bands = 1;
  } else if (bands == 4 && !cmyk) {
    colour_bands = 3;
  } else if (bands >= 5) {
    colour_bands = cmyk ? 4 : 3;
  }
  if (colour_bands == bands) return ToSrgb8(image);

  // Colour and alpha are converted apart, so that every colour path ends in 8-bit sRGB and the
  // flatten below always sees an alpha of 0..255.
  const VImage colour = ToSrgb8(image.extract_band(0, VImage::option()->set("n", colour_bands)));
  VImage alpha = image.extract_band(colour_bands);
  if (alpha.format() != VIPS_FORMAT_UCHAR) {
    alpha = alpha.linear(255.0 / MaxAlpha(image, interpretation), 0.0)
                .round(VIPS_OPERATION_ROUND_RINT)
                .cast(VIPS_FORMAT_UCHAR);
  }
  return colour.bandjoin(alpha)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
      .flatten(VImage::option()
                   ->set("background", std::vector<double>{255.0, 255.0, 255.0})
                   ->set("max_alpha", 255.0))
      .cast(VIPS_FORMAT_UCHAR);
}

// Resizes to exactly `width` x `height`. Throws VError.
VImage ResizeExactly(const VImage& image, int width, int height) {
  if (image.width() == width && image.height() == height) return image;
  VImage out = image.resize(static_cast<double>(width) / image.width(),
                            VImage::option()
                                ->set("vscale", static_cast<double>(height) / image.height())
                                ->set("kernel", VIPS_KERNEL_LANCZOS3));
  // libvips may round a side to one pixel off the target; trim or repeat the edge.
  if (out.width() > width || out.height() > height) {
    out = out.crop(0, 0, std::min(width, out.width()), std::min(height, out.height()));
  }
  if (out.width() < width || out.height() < height) {
    out = out.embed(0, 0, width, height, VImage::option()->set("extend", VIPS_EXTEND_COPY));
  }
  return out;
}

// Shrink-on-load leaves each side at least twice its target, so that the final resize does
// the last (high quality) step and tiny sides never shrink to zero.
int JpegShrinkFor(int width, int height, int target_width, int target_height) {
  for (int shrink : {8, 4, 2}) {
    if (width / shrink >= 2 * target_width && height / shrink >= 2 * target_height) return shrink;
  }
  return 1;
}

double WebpScaleFor(int width, int height, int target_width, int target_height) {
  const double scale =
      std::max((2 * target_width + 0.5) / width, (2 * target_height + 0.5) / height);
  return scale <= 0.5 ? scale : 1.0;
}

struct GFree {
  void operator()(void* p) const { g_free(p); }
};

}  // namespace

const char* ImageFormatName(ImageFormat format) {
  const AllowedLoader* loader = FindLoader(format);
  return loader != nullptr ? loader->name : "unknown";
}

uint64_t SilencedCodecWarnings() { return g_silenced_warnings.load(std::memory_order_relaxed); }

absl::Status InitImageCodec(int vips_concurrency) {
  std::call_once(g_init_once, [vips_concurrency] {
    g_init_status = new absl::Status(DoInit(vips_concurrency));
  });
  return *g_init_status;
}

absl::StatusOr<ImageHeader> ProbeImage(std::string_view bytes, const DecodeLimits& limits) {
  RETURN_IF_ERROR(EnsureInit());
  ASSIGN_OR_RETURN(const ImageFormat format, CheckBytes(bytes, limits));
  RETURN_IF_ERROR(PreCheck(format, bytes, limits));
  // The blob does not copy `bytes`; they outlive every image made here.
  BlobPtr blob(vips_blob_new(nullptr, bytes.data(), bytes.size()));
  try {
    const ImageHeader header = HeaderOf(format, OpenFirstPage(format, blob.get()));
    RETURN_IF_ERROR(CheckDimensions(header.width, header.height, limits));
    RETURN_IF_ERROR(CheckFrames(header.pages, limits));
    return header;
  } catch (const VError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read the ", FormatDisplayName(format), " header: ", VipsMessage(e)));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("probing the image failed: ", e.what()));
  }
}

absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, const DecodeLimits& limits,
                                     int fit_max_side) {
  if (fit_max_side < 0) {
    return absl::InvalidArgumentError(absl::StrCat("fit_max_side is ", fit_max_side));
  }
  ASSIGN_OR_RETURN(const ImageHeader header, ProbeImage(bytes, limits));
  const char* name = FormatDisplayName(header.format);
  BlobPtr blob(vips_blob_new(nullptr, bytes.data(), bytes.size()));
  try {
    // Output size, before orientation is applied (a quarter turn swaps both sides alike).
    int width = header.width;
    int height = header.height;
    const int longer = std::max(width, height);
    int jpeg_shrink = 1;
    double webp_scale = 1.0;
    if (fit_max_side > 0 && longer > fit_max_side) {
      const double scale = static_cast<double>(fit_max_side) / longer;
      width = std::max(1, static_cast<int>(std::lround(header.width * scale)));
      height = std::max(1, static_cast<int>(std::lround(header.height * scale)));
      if (header.format == ImageFormat::kJpeg) {
        jpeg_shrink = JpegShrinkFor(header.width, header.height, width, height);
      } else if (header.format == ImageFormat::kWebp) {
        webp_scale = WebpScaleFor(header.width, header.height, width, height);
      }
    }

    const VImage loaded = OpenFirstPage(header.format, blob.get(), jpeg_shrink, webp_scale);
    RETURN_IF_ERROR(CheckDimensions(loaded.width(), loaded.height(), limits));
    if (vips_band_format_iscomplex(loaded.format())) {
      return absl::InvalidArgumentError(absl::StrCat(name, " image has complex-valued pixels"));
    }
    int orientation = 1;
    if (loaded.get_typeof(VIPS_META_ORIENTATION) != 0) {
      orientation = loaded.get_int(VIPS_META_ORIENTATION);
    }

    VImage image = ResizeExactly(FlattenToSrgb8(loaded), width, height);
    if (orientation >= 2 && orientation <= 8) {
      // Rotation reads out of order, which the sequential loaders refuse: decode first.
      image = image.copy_memory();
      image.set(VIPS_META_ORIENTATION, orientation);
      image = image.autorot();
    }
    RETURN_IF_ERROR(CheckDimensions(image.width(), image.height(), limits));
    if (image.bands() != 3 || image.format() != VIPS_FORMAT_UCHAR) {
      return absl::InternalError(
          absl::StrCat("decoding produced ", image.bands(), " bands of format ", image.format()));
    }

    size_t size = 0;
    std::unique_ptr<void, GFree> data(image.write_to_memory(&size));
    RgbImage out;
    out.width = image.width();
    out.height = image.height();
    if (size != static_cast<size_t>(out.width) * out.height * 3) {
      return absl::InternalError("decoded buffer has the wrong size");
    }
    const auto* begin = static_cast<const uint8_t*>(data.get());
    out.pixels.assign(begin, begin + size);
    return out;
  } catch (const VError& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot decode the ", name, " image: ", VipsMessage(e)));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("out of memory decoding the ", name, " image"));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("decoding the image failed: ", e.what()));
  }
}

absl::StatusOr<std::string> EncodeImage(const RgbImage& image, OutputFormat format, int quality) {
  RETURN_IF_ERROR(EnsureInit());
  if (image.width <= 0 || image.height <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot encode an empty image (", image.width, "x", image.height, ")"));
  }
  const uint64_t expected = static_cast<uint64_t>(image.width) * image.height * 3;
  if (image.pixels.size() != expected) {
    return absl::InvalidArgumentError(absl::StrCat("image is ", image.width, "x", image.height,
                                                   " but has ", image.pixels.size(),
                                                   " bytes of pixels, not ", expected));
  }
  if (format != OutputFormat::kPng && (quality < 1 || quality > 100)) {
    return absl::InvalidArgumentError(absl::StrCat("quality ", quality, " is not in 1..100"));
  }
  // The formats' own size limits.
  const int max_side = format == OutputFormat::kWebp   ? 16383
                       : format == OutputFormat::kJpeg ? 65500
                                                       : VIPS_MAX_COORD;
  if (std::max(image.width, image.height) > max_side) {
    return absl::InvalidArgumentError(absl::StrCat("image is ", image.width, "x", image.height,
                                                   ", too large to encode (side limit ", max_side,
                                                   ")"));
  }
  try {
    // libvips only reads the pixels, and only within this call.
    const VImage vimage =
        VImage::new_from_memory(const_cast<uint8_t*>(image.pixels.data()), image.pixels.size(),
                                image.width, image.height, 3, VIPS_FORMAT_UCHAR);
    BlobPtr blob;
    switch (format) {
      case OutputFormat::kJpeg:
        blob.reset(vimage.jpegsave_buffer(VImage::option()->set("Q", quality)->set("strip", true)));
        break;
      case OutputFormat::kPng:
        blob.reset(
            vimage.pngsave_buffer(VImage::option()->set("compression", 6)->set("strip", true)));
        break;
      case OutputFormat::kWebp:
        blob.reset(vimage.webpsave_buffer(VImage::option()->set("Q", quality)->set("strip", true)));
        break;
    }
    if (blob == nullptr) return absl::InternalError("unknown output format");
    size_t size = 0;
    const void* data = vips_blob_get(blob.get(), &size);
    return std::string(static_cast<const char*>(data), size);
  } catch (const VError& e) {
    return absl::InternalError(absl::StrCat("encoding failed: ", VipsMessage(e)));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("out of memory encoding the image");
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("encoding failed: ", e.what()));
  }
}

}  // namespace style
