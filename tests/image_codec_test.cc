#include "server/image_codec.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>
#include <vips/vips8>

#include "absl/strings/match.h"
#include "tests/test_support.h"

namespace style {
namespace {

using ::style::testing::MakeTestPattern;
using ::style::testing::PngWithHeader;
using ::style::testing::ReadFileOrDie;
using ::style::testing::RequireShared;
using ::style::testing::SaveWithVips;
using ::style::testing::SharedDir;
using ::style::testing::ToVips;
using ::testing::HasSubstr;
using vips::VImage;

class ImageCodecTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(InitImageCodec(1).ok()); }
};

double MeanAbsError(const RgbImage& a, const RgbImage& b) {
  EXPECT_EQ(a.width, b.width);
  EXPECT_EQ(a.height, b.height);
  if (a.pixels.size() != b.pixels.size() || a.pixels.empty()) return 1e9;
  double sum = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) sum += std::abs(a.pixels[i] - b.pixels[i]);
  return sum / a.pixels.size();
}

std::vector<int> PixelAt(const RgbImage& image, int x, int y) {
  const uint8_t* p = &image.pixels[(static_cast<size_t>(y) * image.width + x) * 3];
  return {p[0], p[1], p[2]};
}

RgbImage VipsToRgb(const VImage& image) {
  const VImage rgb = image.cast(VIPS_FORMAT_UCHAR);
  RgbImage out;
  out.width = rgb.width();
  out.height = rgb.height();
  size_t size = 0;
  void* data = rgb.write_to_memory(&size);
  out.pixels.assign(static_cast<uint8_t*>(data), static_cast<uint8_t*>(data) + size);
  g_free(data);
  EXPECT_EQ(out.pixels.size(), static_cast<size_t>(out.width) * out.height * 3);
  return out;
}

RgbImage DecodeOrDie(const std::string& bytes, int fit_max_side = 0) {
  absl::StatusOr<RgbImage> image = DecodeImage(bytes, DecodeLimits(), fit_max_side);
  EXPECT_TRUE(image.ok()) << image.status();
  if (!image.ok()) return {};
  EXPECT_EQ(image->pixels.size(), static_cast<size_t>(image->width) * image->height * 3);
  return *std::move(image);
}

std::string EncodeOrDie(const RgbImage& image, OutputFormat format, int quality = 90) {
  absl::StatusOr<std::string> bytes = EncodeImage(image, format, quality);
  EXPECT_TRUE(bytes.ok()) << bytes.status();
  return bytes.ok() ? *bytes : std::string();
}

void ExpectInvalid(const std::string& bytes, const std::string& reason,
                   const DecodeLimits& limits = DecodeLimits()) {
  const absl::StatusOr<ImageHeader> header = ProbeImage(bytes, limits);
  EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument) << header.status();
  EXPECT_THAT(std::string(header.status().message()), HasSubstr(reason));
  const absl::StatusOr<RgbImage> image = DecodeImage(bytes, limits);
  EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << image.status();
  EXPECT_THAT(std::string(image.status().message()), HasSubstr(reason));
}

// A baseline JPEG with its SOF0 rewritten to claim `width` x `height`.
std::string JpegWithHeader(uint16_t width, uint16_t height) {
  std::string jpeg = EncodeOrDie(MakeTestPattern(16, 16), OutputFormat::kJpeg);
  const size_t sof = jpeg.find("\xFF\xC0");
  EXPECT_NE(sof, std::string::npos);
  if (sof == std::string::npos) return jpeg;
  jpeg[sof + 5] = static_cast<char>(height >> 8);
  jpeg[sof + 6] = static_cast<char>(height & 0xFF);
  jpeg[sof + 7] = static_cast<char>(width >> 8);
  jpeg[sof + 8] = static_cast<char>(width & 0xFF);
  return jpeg;
}

void AppendLe16(std::string* out, uint32_t v) {
  out->push_back(static_cast<char>(v & 0xFF));
  out->push_back(static_cast<char>((v >> 8) & 0xFF));
}

void AppendLe32(std::string* out, uint32_t v) {
  AppendLe16(out, v & 0xFFFF);
  AppendLe16(out, v >> 16);
}

// A GIF with a two-colour palette and `frames` frames of `width` x `height`, each holding a
// token LZW stream (one pixel, then end of information): a header that lies about the size,
// or many frames in few bytes.
std::string GifWithHeader(uint16_t width, uint16_t height, int frames = 1) {
  std::string gif = "GIF89a";
  AppendLe16(&gif, width);
  AppendLe16(&gif, height);
  gif += std::string("\x80\x00\x00", 3);         // global colour table of 2 entries
  gif += std::string("\0\0\0\xFF\xFF\xFF", 6);   // black, white
  for (int i = 0; i < frames; ++i) {
    gif += '\x2C';  // image descriptor
    AppendLe16(&gif, 0);
    AppendLe16(&gif, 0);
    AppendLe16(&gif, width);
    AppendLe16(&gif, height);
    gif += '\0';
    gif += std::string("\x02\x02\x44\x01\x00", 5);  // min code size 2: clear, 0, end
  }
  gif += '\x3B';
  return gif;
}

// A lossless WebP whose VP8L header claims `width` x `height` (each at most 16384; libvips
// refuses 16384 itself).
std::string WebpWithHeader(uint32_t width, uint32_t height) {
  std::string vp8l = "\x2F";
  const uint32_t bits = (width - 1) | ((height - 1) << 14);  // alpha and version bits 0
  AppendLe32(&vp8l, bits);
  vp8l += std::string(15, '\0');  // RIFF chunks have even sizes
  std::string webp = "RIFF";
  AppendLe32(&webp, static_cast<uint32_t>(4 + 8 + vp8l.size()));
  webp += "WEBPVP8L";
  AppendLe32(&webp, static_cast<uint32_t>(vp8l.size()));
  return webp + vp8l;
}

// A little-endian baseline TIFF whose one IFD claims `width` x `height` 8-bit grey pixels in a
// single uncompressed strip, with only 16 bytes of pixel data behind it.
std::string TiffWithHeader(uint32_t width, uint32_t height) {
  struct Entry {
    uint16_t tag, type;
    uint32_t value;
  };
  constexpr uint16_t kShort = 3, kLong = 4;
  const Entry entries[] = {
      {256, kLong, width}, {257, kLong, height}, {258, kShort, 8},  {259, kShort, 1},
      {262, kShort, 1},    {273, kLong, 0},      {277, kShort, 1}, {278, kLong, height},
      {279, kLong, 16},
  };
  const uint32_t count = sizeof(entries) / sizeof(entries[0]);
  const uint32_t data_offset = 8 + 2 + count * 12 + 4;
  std::string tiff("II*\0", 4);
  AppendLe32(&tiff, 8);
  AppendLe16(&tiff, count);
  for (const Entry& e : entries) {
    AppendLe16(&tiff, e.tag);
    AppendLe16(&tiff, e.type);
    AppendLe32(&tiff, 1);
    AppendLe32(&tiff, e.tag == 273 ? data_offset : e.value);
  }
  AppendLe32(&tiff, 0);  // no next IFD
  return tiff + std::string(16, '\x7F');
}

// A TIFF of `pages` chained 1x1 grey pages (123 bytes each).
std::string TiffWithPages(int pages) {
  std::string tiff("II*\0", 4);
  AppendLe32(&tiff, 8);
  constexpr uint16_t kTags[] = {256, 257, 258, 259, 262, 273, 277, 278, 279};
  constexpr uint16_t kTypes[] = {4, 4, 3, 3, 3, 4, 3, 4, 4};
  constexpr uint32_t kValues[] = {1, 1, 8, 1, 1, 4, 1, 1, 1};  // pixel data: byte 4
  for (int page = 0; page < pages; ++page) {
    const uint32_t next = page + 1 < pages ? static_cast<uint32_t>(tiff.size() + 2 + 9 * 12 + 4) : 0;
    AppendLe16(&tiff, 9);
    for (int i = 0; i < 9; ++i) {
      AppendLe16(&tiff, kTags[i]);
      AppendLe16(&tiff, kTypes[i]);
      AppendLe32(&tiff, 1);
      AppendLe32(&tiff, kValues[i]);
    }
    AppendLe32(&tiff, next);
  }
  return tiff;
}

// An animated WebP whose frame chunk (ANMF) is repeated to `frames` frames.
std::string WebpWithFrames(const std::string& animated, int frames) {
  std::string head, anmf;
  for (size_t at = 12; at + 8 <= animated.size();) {
    const uint32_t size = static_cast<uint8_t>(animated[at + 4]) | static_cast<uint8_t>(animated[at + 5]) << 8 |
                          static_cast<uint8_t>(animated[at + 6]) << 16 | static_cast<uint32_t>(static_cast<uint8_t>(animated[at + 7])) << 24;
    const std::string chunk = animated.substr(at, 8 + size + (size & 1));
    if (chunk.substr(0, 4) != "ANMF") {
      head += chunk;
    } else if (anmf.empty()) {
      anmf = chunk;
    }
    at += chunk.size();
  }
  std::string body = head;
  for (int i = 0; i < frames; ++i) body += anmf;
  std::string webp = "RIFF";
  AppendLe32(&webp, static_cast<uint32_t>(4 + body.size()));
  return webp + "WEBP" + body;
}

// `pages` pages of `width` x `height` stacked vertically, for the savers' page-height. Each
// page has its own grey level: the WebP saver merges identical frames.
VImage Pages(int width, int height, int pages) {
  const VImage y = VImage::xyz(width, height * pages).extract_band(1);
  VImage stack = VImage::bandjoin({y, y, y}) / height * (200.0 / pages);
  stack = stack.cast(VIPS_FORMAT_UCHAR).copy_memory();
  stack.set("page-height", height);
  return stack;
}

TEST_F(ImageCodecTest, EncodesEachFormatWithItsMagicBytes) {
  const RgbImage image = MakeTestPattern(64, 48);
  EXPECT_TRUE(absl::StartsWith(EncodeOrDie(image, OutputFormat::kJpeg), "\xFF\xD8\xFF"));
  EXPECT_TRUE(absl::StartsWith(EncodeOrDie(image, OutputFormat::kPng), "\x89PNG\r\n\x1A\n"));
  const std::string webp = EncodeOrDie(image, OutputFormat::kWebp);
  EXPECT_TRUE(absl::StartsWith(webp, "RIFF"));
  EXPECT_EQ(webp.substr(8, 4), "WEBP");
}

TEST_F(ImageCodecTest, PngRoundTripIsLossless) {
  const RgbImage image = MakeTestPattern(97, 61);
  const RgbImage decoded = DecodeOrDie(EncodeOrDie(image, OutputFormat::kPng));
  EXPECT_EQ(decoded.width, 97);
  EXPECT_EQ(decoded.height, 61);
  EXPECT_EQ(decoded.pixels, image.pixels);
}

TEST_F(ImageCodecTest, JpegAndWebpRoundTripsAreClose) {
  const RgbImage image = MakeTestPattern(128, 96);
  EXPECT_LT(MeanAbsError(DecodeOrDie(EncodeOrDie(image, OutputFormat::kJpeg, 95)), image), 4.0);
  // WebP always subsamples chroma, so it gets a smooth picture.
  const RgbImage smooth = VipsToRgb(ToVips(image).gaussblur(1.5));
  EXPECT_LT(MeanAbsError(DecodeOrDie(EncodeOrDie(smooth, OutputFormat::kWebp, 95)), smooth), 4.0);
  // Lower quality gives smaller files.
  EXPECT_LT(EncodeOrDie(image, OutputFormat::kJpeg, 20).size(),
            EncodeOrDie(image, OutputFormat::kJpeg, 95).size());
}

TEST_F(ImageCodecTest, ProbeReadsTheHeader) {
  const RgbImage image = MakeTestPattern(40, 30);
  struct Case {
    std::string bytes;
    ImageFormat format;
  };
  const Case cases[] = {
      {EncodeOrDie(image, OutputFormat::kJpeg), ImageFormat::kJpeg},
      {EncodeOrDie(image, OutputFormat::kPng), ImageFormat::kPng},
      {EncodeOrDie(image, OutputFormat::kWebp), ImageFormat::kWebp},
      {SaveWithVips(ToVips(image), ".tif"), ImageFormat::kTiff},
      {SaveWithVips(ToVips(image), ".gif"), ImageFormat::kGif},
  };
  for (const Case& c : cases) {
    const absl::StatusOr<ImageHeader> header = ProbeImage(c.bytes, DecodeLimits());
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->format, c.format) << ImageFormatName(c.format);
    EXPECT_EQ(header->width, 40);
    EXPECT_EQ(header->height, 30);
    EXPECT_EQ(header->pages, 1);
  }
  EXPECT_STREQ(ImageFormatName(ImageFormat::kWebp), "webp");
}

TEST_F(ImageCodecTest, HonoursExifOrientation) {
  RgbImage image = MakeTestPattern(60, 40);
  // A red top-left corner, to see where it goes.
  for (int y = 0; y < 5; ++y) {
    for (int x = 0; x < 5; ++x) {
      uint8_t* p = &image.pixels[(y * 60 + x) * 3];
      p[0] = 255, p[1] = 0, p[2] = 0;
    }
  }
  VImage vimage = ToVips(image);
  vimage.set(VIPS_META_ORIENTATION, 6);  // display rotated 90 degrees clockwise
  const std::string jpeg = SaveWithVips(vimage, ".jpg[Q=95]");
  const absl::StatusOr<ImageHeader> header = ProbeImage(jpeg, DecodeLimits());
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(header->width, 60);  // the header is as stored

  const RgbImage decoded = DecodeOrDie(jpeg);
  EXPECT_EQ(decoded.width, 40);
  EXPECT_EQ(decoded.height, 60);
  const std::vector<int> corner = PixelAt(decoded, 37, 2);  // now top-right
  EXPECT_GT(corner[0], 200);
  EXPECT_LT(corner[1], 60);

  const RgbImage fitted = DecodeOrDie(jpeg, 30);
  EXPECT_EQ(fitted.width, 20);
  EXPECT_EQ(fitted.height, 30);
}

TEST_F(ImageCodecTest, DecodesGreyscaleTo3Bands) {
  const VImage grey = ToVips(MakeTestPattern(33, 21)).extract_band(1);
  const RgbImage decoded = DecodeOrDie(SaveWithVips(grey, ".png"));
  ASSERT_EQ(decoded.width, 33);
  ASSERT_EQ(decoded.height, 21);
  for (int x = 0; x < 33; ++x) {
    const std::vector<int> p = PixelAt(decoded, x, 20);
    EXPECT_EQ(p[0], 255);
    EXPECT_EQ(p[1], 255);
    EXPECT_EQ(p[2], 255);
  }
  EXPECT_EQ(PixelAt(decoded, 5, 0), (std::vector<int>{0, 0, 0}));
}

TEST_F(ImageCodecTest, Decodes16BitPng) {
  const RgbImage image = MakeTestPattern(50, 40);
  const VImage rgb16 =
      (ToVips(image).cast(VIPS_FORMAT_USHORT) * 257)
          .cast(VIPS_FORMAT_USHORT)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16));
  const std::string png = SaveWithVips(rgb16, ".png");
  EXPECT_EQ(png[24], 16);  // IHDR bit depth
  EXPECT_LE(MeanAbsError(DecodeOrDie(png), image), 0.01);

  // 16-bit grey with alpha: transparent pixels become white, opaque ones keep their value.
  const VImage grey16 = ToVips(image).extract_band(0).cast(VIPS_FORMAT_USHORT) * 257;
  const VImage alpha = (ToVips(image).extract_band(1) > 128).cast(VIPS_FORMAT_USHORT) * 257;
  const VImage ga16 =
      grey16.bandjoin(alpha)
          .cast(VIPS_FORMAT_USHORT)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_GREY16));
  const RgbImage decoded = DecodeOrDie(SaveWithVips(ga16, ".png"));
  ASSERT_EQ(decoded.width, 50);
  EXPECT_EQ(PixelAt(decoded, 10, 0), (std::vector<int>{255, 255, 255}));  // green 0: clear
  const int red = PixelAt(image, 10, 39)[0];
  EXPECT_EQ(PixelAt(decoded, 10, 39), (std::vector<int>{red, red, red}));
}

TEST_F(ImageCodecTest, CompositesAlphaOverWhite) {
  const RgbImage image = MakeTestPattern(20, 10);
  // Columns 0-4 clear, 5-9 half, 10-19 opaque.
  const VImage x = VImage::xyz(20, 10).extract_band(0);
  const VImage alpha = (x < 5).ifthenelse(0.0, (x < 10).ifthenelse(128.0, 255.0));
  const VImage rgba = ToVips(image).bandjoin(alpha.cast(VIPS_FORMAT_UCHAR));
  const RgbImage decoded = DecodeOrDie(SaveWithVips(rgba, ".png"));
  ASSERT_EQ(decoded.width, 20);
  EXPECT_EQ(PixelAt(decoded, 2, 3), (std::vector<int>{255, 255, 255}));
  EXPECT_EQ(PixelAt(decoded, 15, 3), PixelAt(image, 15, 3));
  const std::vector<int> half = PixelAt(decoded, 7, 3);
  const std::vector<int> original = PixelAt(image, 7, 3);
  for (int c = 0; c < 3; ++c) EXPECT_NEAR(half[c], (original[c] * 128 + 255 * 127) / 255.0, 1.0);

  // The same through WebP (lossless, so the alpha survives exactly).
  const RgbImage webp = DecodeOrDie(SaveWithVips(rgba, ".webp[lossless]"));
  EXPECT_EQ(PixelAt(webp, 2, 3), (std::vector<int>{255, 255, 255}));
  EXPECT_EQ(PixelAt(webp, 15, 3), PixelAt(image, 15, 3));
}

TEST_F(ImageCodecTest, DecodesCmyk) {
  const RgbImage image = MakeTestPattern(64, 48);
  const VImage cmyk = ToVips(image).icc_transform("cmyk");
  ASSERT_EQ(cmyk.bands(), 4);
  ASSERT_EQ(cmyk.interpretation(), VIPS_INTERPRETATION_CMYK);
  // The pattern's saturated colours are outside the CMYK gamut, so compare with libvips' own
  // conversion back, and only loosely with the original.
  const RgbImage expected = VipsToRgb(cmyk.icc_transform(
      "srgb", VImage::option()->set("embedded", true)->set("intent", VIPS_INTENT_PERCEPTUAL)));

  // With the profile embedded, and without (libvips' default CMYK profile is assumed).
  const RgbImage from_jpeg = DecodeOrDie(SaveWithVips(cmyk, ".jpg[Q=95]"));
  EXPECT_LT(MeanAbsError(from_jpeg, expected), 3.0);
  EXPECT_LT(MeanAbsError(from_jpeg, image), 25.0);
  const RgbImage from_tiff = DecodeOrDie(SaveWithVips(cmyk, ".tif[strip]"));
  EXPECT_LT(MeanAbsError(from_tiff, expected), 6.0);

  // CMYK with an opaque alpha (5 bands).
  const VImage cmyka = cmyk.bandjoin(VImage::black(64, 48) + 255).cast(VIPS_FORMAT_UCHAR);
  const RgbImage from_cmyka = DecodeOrDie(SaveWithVips(cmyka, ".tif"));
  EXPECT_LT(MeanAbsError(from_cmyka, expected), 1.0);
}

TEST_F(ImageCodecTest, ConvertsEmbeddedIccProfileToSrgb) {
  const RgbImage image = MakeTestPattern(64, 48);
  const VImage p3 = ToVips(image).icc_transform("p3");
  ASSERT_NE(p3.get_typeof(VIPS_META_ICC_NAME), 0u);
  const std::string tagged = SaveWithVips(p3, ".png");
  const std::string untagged = SaveWithVips(p3, ".png[strip]");
  const double tagged_error = MeanAbsError(DecodeOrDie(tagged), image);
  const double untagged_error = MeanAbsError(DecodeOrDie(untagged), image);
  EXPECT_LT(tagged_error, 2.0);
  EXPECT_GT(untagged_error, tagged_error + 2.0);  // the profile made a difference

  // A corrupt profile is ignored rather than failing the decode.
  VImage broken = ToVips(image);
  const std::string junk(200, 'x');
  broken.set(VIPS_META_ICC_NAME, nullptr, const_cast<char*>(junk.data()), junk.size());
  const absl::StatusOr<RgbImage> decoded = DecodeImage(SaveWithVips(broken, ".png"), {});
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->pixels, image.pixels);
}

TEST_F(ImageCodecTest, DecodesFloatAndLabTiff) {
  const RgbImage image = MakeTestPattern(32, 24);
  const VImage scrgb = ToVips(image).colourspace(VIPS_INTERPRETATION_scRGB);
  EXPECT_LT(MeanAbsError(DecodeOrDie(SaveWithVips(scrgb, ".tif")), image), 1.0);
  const VImage lab = ToVips(image).colourspace(VIPS_INTERPRETATION_LAB);
  EXPECT_LT(MeanAbsError(DecodeOrDie(SaveWithVips(lab, ".tif")), image), 1.0);
}

TEST_F(ImageCodecTest, DecodesTiffWebpAndGif) {
  const RgbImage image = MakeTestPattern(45, 35);
  const RgbImage tiff = DecodeOrDie(SaveWithVips(ToVips(image), ".tif[compression=lzw]"));
  EXPECT_EQ(tiff.pixels, image.pixels);
  const RgbImage webp = DecodeOrDie(EncodeOrDie(image, OutputFormat::kWebp, 90));
  EXPECT_EQ(webp.width, 45);
  EXPECT_EQ(webp.height, 35);
  const RgbImage gif = DecodeOrDie(SaveWithVips(ToVips(image), ".gif"));
  EXPECT_EQ(gif.width, 45);
  EXPECT_EQ(gif.height, 35);
  EXPECT_LT(MeanAbsError(gif, image), 20.0);  // palette quantisation
}

TEST_F(ImageCodecTest, DecodesTheFirstFrameOfAnAnimatedGif) {
  // Two 30x20 frames stacked: red, then blue.
  const VImage red =
      VImage::black(30, 20, VImage::option()->set("bands", 3)) + std::vector<double>{255, 0, 0};
  const VImage blue =
      VImage::black(30, 20, VImage::option()->set("bands", 3)) + std::vector<double>{0, 0, 255};
  VImage frames = red.join(blue, VIPS_DIRECTION_VERTICAL).cast(VIPS_FORMAT_UCHAR).copy_memory();
  frames.set("page-height", 20);
  const std::string gif = SaveWithVips(frames, ".gif");

  const absl::StatusOr<ImageHeader> header = ProbeImage(gif, DecodeLimits());
  ASSERT_TRUE(header.ok()) << header.status();
  EXPECT_EQ(header->pages, 2);
  EXPECT_EQ(header->width, 30);
  EXPECT_EQ(header->height, 20);
  const RgbImage decoded = DecodeOrDie(gif);
  ASSERT_EQ(decoded.height, 20);
  EXPECT_EQ(PixelAt(decoded, 15, 10), (std::vector<int>{255, 0, 0}));
  EXPECT_EQ(PixelAt(decoded, 15, 19), (std::vector<int>{255, 0, 0}));
}

TEST_F(ImageCodecTest, FitsTheLongerSide) {
  const RgbImage wide = MakeTestPattern(400, 200);
  for (OutputFormat format : {OutputFormat::kPng, OutputFormat::kJpeg, OutputFormat::kWebp}) {
    const RgbImage fitted = DecodeOrDie(EncodeOrDie(wide, format), 100);
    EXPECT_EQ(fitted.width, 100);
    EXPECT_EQ(fitted.height, 50);
  }
  // Never enlarged.
  const RgbImage small = MakeTestPattern(50, 20);
  const RgbImage kept = DecodeOrDie(EncodeOrDie(small, OutputFormat::kPng), 100);
  EXPECT_EQ(kept.pixels, small.pixels);
  EXPECT_EQ(kept.width, 50);

  // Exact sizes for awkward ratios, with and without JPEG shrink-on-load, and deterministic.
  struct Case {
    int width, height, fit;
  };
  for (const Case& c : {Case{1600, 900, 100}, Case{1001, 999, 333}, Case{999, 7, 100},
                        Case{3, 1000, 64}, Case{1234, 567, 89}, Case{800, 801, 800}}) {
    const RgbImage pattern = MakeTestPattern(c.width, c.height);
    const double scale = static_cast<double>(c.fit) / std::max(c.width, c.height);
    const int want_width = std::max(1, static_cast<int>(std::lround(c.width * scale)));
    const int want_height = std::max(1, static_cast<int>(std::lround(c.height * scale)));
    for (OutputFormat format : {OutputFormat::kJpeg, OutputFormat::kPng}) {
      const std::string bytes = EncodeOrDie(pattern, format);
      const RgbImage a = DecodeOrDie(bytes, c.fit);
      EXPECT_EQ(a.width, want_width) << c.width << "x" << c.height << " fit " << c.fit;
      EXPECT_EQ(a.height, want_height) << c.width << "x" << c.height << " fit " << c.fit;
      EXPECT_EQ(a.pixels, DecodeOrDie(bytes, c.fit).pixels);
    }
  }
  // Shrink-on-load keeps the picture: compare with a full decode resized the same way.
  const RgbImage big = MakeTestPattern(1600, 1200);
  const RgbImage via_png = DecodeOrDie(EncodeOrDie(big, OutputFormat::kPng), 200);
  const RgbImage via_jpeg = DecodeOrDie(EncodeOrDie(big, OutputFormat::kJpeg, 95), 200);
  EXPECT_LT(MeanAbsError(via_jpeg, via_png), 4.0);
  const RgbImage via_webp = DecodeOrDie(EncodeOrDie(big, OutputFormat::kWebp, 95), 200);
  EXPECT_EQ(via_webp.width, 200);
  EXPECT_EQ(via_webp.height, 150);
  EXPECT_LT(MeanAbsError(via_webp, via_png), 8.0);
}

TEST_F(ImageCodecTest, DecodesUnusualLayouts) {
  const RgbImage image = MakeTestPattern(40, 30);
  const VImage rgb = ToVips(image);

  // 8-bit grey with alpha.
  const VImage grey = rgb.extract_band(0);
  const VImage opaque_right = (VImage::xyz(40, 30).extract_band(0) >= 20);
  const RgbImage grey_alpha = DecodeOrDie(SaveWithVips(grey.bandjoin(opaque_right), ".png"));
  ASSERT_EQ(grey_alpha.width, 40);
  EXPECT_EQ(PixelAt(grey_alpha, 5, 5), (std::vector<int>{255, 255, 255}));
  const int value = PixelAt(image, 30, 5)[0];
  EXPECT_EQ(PixelAt(grey_alpha, 30, 5), (std::vector<int>{value, value, value}));

  // Palette PNG and 1-bit TIFF.
  const VImage flat =
      VImage::bandjoin({grey * 0 + 10, grey * 0 + 200, grey * 0 + 30}).cast(VIPS_FORMAT_UCHAR);
  const RgbImage palette = DecodeOrDie(SaveWithVips(flat, ".png[palette]"));
  EXPECT_EQ(PixelAt(palette, 3, 3), (std::vector<int>{10, 200, 30}));
  const RgbImage bilevel = DecodeOrDie(SaveWithVips(opaque_right, ".tif[bitdepth=1]"));
  EXPECT_EQ(PixelAt(bilevel, 5, 5), (std::vector<int>{0, 0, 0}));
  EXPECT_EQ(PixelAt(bilevel, 30, 5), (std::vector<int>{255, 255, 255}));

  // 8-bit CIELAB TIFF (libvips loads it as packed LabQ), tiled, JPEG-in-TIFF and 6 bands.
  const VImage labq = rgb.colourspace(VIPS_INTERPRETATION_LABQ);
  EXPECT_LT(MeanAbsError(DecodeOrDie(SaveWithVips(labq, ".tif")), image), 3.0);
  EXPECT_EQ(DecodeOrDie(SaveWithVips(rgb, ".tif[tile,tile-width=16,tile-height=16]")).pixels,
            image.pixels);
  EXPECT_LT(MeanAbsError(DecodeOrDie(SaveWithVips(rgb, ".tif[compression=jpeg,Q=95]")), image),
            4.0);
  const VImage six =
      VImage::bandjoin({rgb, grey * 0 + 255, grey, grey})
          .cast(VIPS_FORMAT_UCHAR)
          .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_MULTIBAND));
  EXPECT_EQ(DecodeOrDie(SaveWithVips(six, ".tif")).pixels, image.pixels);
}

TEST_F(ImageCodecTest, LoadersOtherThanTheFiveAreBlocked) {
  const std::string svg =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"10\" height=\"10\">"
      "<rect width=\"10\" height=\"10\"/></svg>";
  const std::string ppm = "P3\n2 1\n255\n0 0 0 255 255 255\n";
  const std::string matrix = "2 2\n1 2\n3 4\n";
  // Even bypassing the codec's own format check, libvips refuses them.
  for (const std::string& bytes : {svg, ppm, matrix}) {
    EXPECT_THROW(VImage::new_from_buffer(bytes.data(), bytes.size(), ""), vips::VError) << bytes;
  }
  EXPECT_THROW(VImage::new_from_source(vips::VSource::new_from_memory(ppm.data(), ppm.size()), ""),
               vips::VError);
  const std::string jpeg = EncodeOrDie(MakeTestPattern(8, 8), OutputFormat::kJpeg);
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("codec_test_" + std::to_string(::getpid()) + ".jpg"))
                               .string();
  std::ofstream(path, std::ios::binary) << jpeg;
  EXPECT_THROW(VImage::new_from_file(path.c_str()), vips::VError);
  std::filesystem::remove(path);
  vips_error_clear();

  // And the codec names them.
  ExpectInvalid(svg, "SVG");
  ExpectInvalid("<?xml version=\"1.0\"?>\n" + svg, "SVG");
  ExpectInvalid(ppm, "PNM");
  ExpectInvalid(matrix, "text");
  ExpectInvalid("%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n", "PDF");
  ExpectInvalid(std::string("BM\x36\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00", 14), "BMP");
  ExpectInvalid(std::string("\0\0\0\x18"
                            "ftypheic\0\0\0\0mif1heic",
                            24),
                "HEIF");
}

TEST_F(ImageCodecTest, RejectsGarbage) {
  ExpectInvalid("", "empty");
  ExpectInvalid("\x01\x02\x03", "unrecognised");
  std::mt19937 rng(42);
  std::string noise(10 * 1024, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  noise[0] = 0x01;  // not by chance a magic number
  ExpectInvalid(noise, "unrecognised");
  // Correct magic, garbage after.
  ExpectInvalid("\xFF\xD8\xFF" + noise, "JPEG");
  ExpectInvalid("\x89PNG\r\n\x1A\n" + noise, "PNG");
  ExpectInvalid("GIF89a" + noise, "GIF");
  ExpectInvalid("II*" + std::string(1, '\0') + noise, "TIFF");
}

TEST_F(ImageCodecTest, RejectsTruncatedFiles) {
  const RgbImage image = MakeTestPattern(256, 192);
  for (OutputFormat format : {OutputFormat::kJpeg, OutputFormat::kPng, OutputFormat::kWebp}) {
    const std::string bytes = EncodeOrDie(image, format);
    const std::string half = bytes.substr(0, bytes.size() / 2);
    const absl::StatusOr<RgbImage> decoded = DecodeImage(half, DecodeLimits());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
    EXPECT_THAT(std::string(decoded.status().message()), HasSubstr("cannot"));
  }
  for (const char* suffix : {".tif", ".gif"}) {
    const std::string bytes = SaveWithVips(ToVips(image), suffix);
    const absl::StatusOr<RgbImage> decoded =
        DecodeImage(bytes.substr(0, bytes.size() / 2), DecodeLimits());
    EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << suffix;
  }
}

TEST_F(ImageCodecTest, SurvivesMangledFiles) {
  const RgbImage image = MakeTestPattern(48, 40);
  const VImage vimage = ToVips(image);
  const std::string files[] = {
      EncodeOrDie(image, OutputFormat::kJpeg),
      EncodeOrDie(image, OutputFormat::kPng),
      EncodeOrDie(image, OutputFormat::kWebp),
      SaveWithVips(vimage, ".tif"),
      SaveWithVips(vimage, ".gif"),
  };
  std::mt19937 rng(7);
  for (const std::string& file : files) {
    for (int trial = 0; trial < 40; ++trial) {
      std::string bytes = file;
      if (trial % 2 == 0) {
        bytes.resize(rng() % bytes.size() + 1);
      } else {
        for (int k = 0; k < 4; ++k)
          bytes[8 + rng() % (bytes.size() - 8)] = static_cast<char>(rng());
      }
      const absl::StatusOr<RgbImage> decoded = DecodeImage(bytes, DecodeLimits(), trial % 3 * 20);
      if (decoded.ok()) {
        EXPECT_EQ(decoded->pixels.size(),
                  static_cast<size_t>(decoded->width) * decoded->height * 3);
      } else {
        EXPECT_EQ(decoded.status().code(), absl::StatusCode::kInvalidArgument) << decoded.status();
      }
    }
  }
}

TEST_F(ImageCodecTest, RefusesHugeHeadersFast) {
  const std::string png = PngWithHeader(100000, 100000);
  const auto start = std::chrono::steady_clock::now();
  const absl::StatusOr<ImageHeader> header = ProbeImage(png, DecodeLimits());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(header.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(header.status().message()), HasSubstr("10000000000 pixels"));
  EXPECT_LT(elapsed, std::chrono::milliseconds(100));
  ExpectInvalid(png, "pixels");

  // The hand-made PNG is otherwise well formed: a small size is accepted by the probe.
  const absl::StatusOr<ImageHeader> small = ProbeImage(PngWithHeader(100, 50), DecodeLimits());
  ASSERT_TRUE(small.ok()) << small.status();
  EXPECT_EQ(small->width, 100);

  ExpectInvalid(JpegWithHeader(65000, 65000), "pixels");
}

TEST_F(ImageCodecTest, RefusesInputsDeclaringTooManyFrames) {
  DecodeLimits limits;
  limits.max_frames = 4;
  for (const char* suffix : {".gif", ".webp", ".tif"}) {
    const std::string five = SaveWithVips(Pages(12, 10, 5), suffix);
    const absl::StatusOr<ImageHeader> header = ProbeImage(five, DecodeLimits());
    ASSERT_TRUE(header.ok()) << suffix << ": " << header.status();
    EXPECT_EQ(header->pages, 5) << suffix;
    EXPECT_EQ(header->height, 10) << suffix;
    ExpectInvalid(five, "frames or pages; at most 4 are accepted", limits);
    // At the limit: accepted, and only the first frame is decoded.
    const std::string four = SaveWithVips(Pages(12, 10, 4), suffix);
    const absl::StatusOr<RgbImage> image = DecodeImage(four, limits);
    ASSERT_TRUE(image.ok()) << suffix << ": " << image.status();
    EXPECT_EQ(image->height, 10) << suffix;
  }
  // The default refuses a GIF of 100000 one-pixel frames (1.6 MB). libnsgif stops counting
  // a little past 4096, which is still over the limit.
  ExpectInvalid(GifWithHeader(1, 1, 100000), "frames or pages; at most 1000 are accepted");
  EXPECT_EQ(DecodeLimits().max_frames, 1000);
  // The codec's own counts agree with libvips' at the limit.
  const absl::StatusOr<ImageHeader> tiff = ProbeImage(TiffWithPages(1000), DecodeLimits());
  ASSERT_TRUE(tiff.ok()) << tiff.status();
  EXPECT_EQ(tiff->pages, 1000);
  ExpectInvalid(TiffWithPages(1001), "more than 1000 frames or pages");
  const std::string animated = SaveWithVips(Pages(6, 4, 3), ".webp");
  const absl::StatusOr<ImageHeader> webp = ProbeImage(WebpWithFrames(animated, 1000), DecodeLimits());
  ASSERT_TRUE(webp.ok()) << webp.status();
  EXPECT_EQ(webp->pages, 1000);
  ExpectInvalid(WebpWithFrames(animated, 1001), "more than 1000 frames or pages");
}

// How long a refusal may take: 100 ms, or 1 s under the sanitizers, whose allocators make
// libvips' own (uninstrumented) allocations slower. A normal build takes about a millisecond.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr std::chrono::milliseconds kRefusalBound(1000);
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
constexpr std::chrono::milliseconds kRefusalBound(1000);
#else
constexpr std::chrono::milliseconds kRefusalBound(100);
#endif
#else
constexpr std::chrono::milliseconds kRefusalBound(100);
#endif

// Decompression bombs: small files whose headers promise billions of pixels or pages. Each is
// refused from its header, before a single pixel is decoded, and fast.
TEST_F(ImageCodecTest, RefusesDecompressionBombsFromTheHeaderFast) {
  struct Bomb {
    const char* what;
    std::string bytes;
    const char* reason;
  };
  const Bomb bombs[] = {
      {"PNG 100000x100000", PngWithHeader(100000, 100000), "10000000000 pixels"},
      {"PNG 1x2^31-1", PngWithHeader(1, 0x7FFFFFFF), "PNG"},  // libspng refuses it itself
      {"JPEG 65000x65000", JpegWithHeader(65000, 65000), "4225000000 pixels"},
      {"GIF 65535x65535", GifWithHeader(65535, 65535), "pixels"},
      {"WebP 16383x16383", WebpWithHeader(16383, 16383), "268402689 pixels"},
      {"TIFF 100000x100000", TiffWithHeader(100000, 100000), "10000000000 pixels"},
      {"TIFF 2^32-1 x 1", TiffWithHeader(0xFFFFFFFF, 1), "out of range"},  // libvips refuses it
      {"GIF of 200000 frames", GifWithHeader(1, 1, 200000), "frames"},
      // libtiff walks every page to count them, and libwebp's demuxer takes time quadratic in
      // the frames (12 s for these 100000): the codec counts both itself, up to the limit.
      {"TIFF of 100000 pages", TiffWithPages(100000), "more than 1000 frames or pages"},
      {"WebP of 100000 frames", WebpWithFrames(SaveWithVips(Pages(6, 4, 3), ".webp"), 100000),
       "more than 1000 frames or pages"},
  };
  for (const Bomb& bomb : bombs) {
    EXPECT_LT(bomb.bytes.size(), DecodeLimits().max_bytes) << bomb.what;
    for (int fit : {0, 64}) {
      const auto start = std::chrono::steady_clock::now();
      const absl::StatusOr<RgbImage> image = DecodeImage(bomb.bytes, DecodeLimits(), fit);
      const auto elapsed = std::chrono::steady_clock::now() - start;
      EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument)
          << bomb.what << ": " << image.status();
      EXPECT_THAT(std::string(image.status().message()), HasSubstr(bomb.reason)) << bomb.what;
      EXPECT_LT(elapsed, kRefusalBound)
          << bomb.what << " took "
          << std::chrono::duration_cast<std::chrono::microseconds>(elapsed).count() << " us";
    }
  }
  // The hand-made headers are otherwise well formed: at a small size the probe accepts them.
  for (const std::string& small :
       {GifWithHeader(30, 20), WebpWithHeader(30, 20), TiffWithHeader(30, 20)}) {
    const absl::StatusOr<ImageHeader> header = ProbeImage(small, DecodeLimits());
    ASSERT_TRUE(header.ok()) << header.status();
    EXPECT_EQ(header->width, 30);
    EXPECT_EQ(header->height, 20);
  }
}

// Nothing an input says makes the codec open a file or a connection: formats that can refer to
// other resources (SVG, XML with external entities or XInclude) are refused from their first
// bytes, and their loaders are blocked even if something reached libvips directly. A canary
// file watched with inotify and a listening socket prove that nothing was even tried.
TEST_F(ImageCodecTest, InputsCannotMakeTheCodecReadFilesOrOpenConnections) {
  const std::string dir = ::testing::TempDir();
  const std::string canary = dir + "/codec_canary_" + std::to_string(::getpid()) + ".jpg";
  std::ofstream(canary, std::ios::binary)
      << EncodeOrDie(MakeTestPattern(8, 8), OutputFormat::kJpeg);
  const int watch = inotify_init1(IN_NONBLOCK);
  ASSERT_GE(watch, 0);
  ASSERT_GE(inotify_add_watch(watch, canary.c_str(), IN_OPEN | IN_ACCESS), 0);

  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t length = sizeof(addr);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &length), 0);
  const std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/x.png";
  const std::string file_url = "file://" + canary;

  const std::string svg_head =
      "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" "
      "width=\"10\" height=\"10\">";
  const std::string hostile[] = {
      svg_head + "<image xlink:href=\"" + file_url + "\" width=\"10\" height=\"10\"/></svg>",
      svg_head + "<image href=\"" + url + "\" width=\"10\" height=\"10\"/></svg>",
      svg_head + "<style>@import url(" + url + ");</style></svg>",
      "<?xml version=\"1.0\"?>\n<!DOCTYPE svg [<!ENTITY x SYSTEM \"" + file_url + "\">]>\n" +
          svg_head + "<text>&x;</text></svg>",
      "<?xml version=\"1.0\"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM \"" + url + "\">]><r>&x;</r>",
      "<?xml version=\"1.0\"?>\n<r xmlns:xi=\"http://www.w3.org/2001/XInclude\">"
      "<xi:include href=\"" + canary + "\" parse=\"text\"/></r>",
      // Accepted magic bytes followed by SVG: the GIF loader gets it, and fails.
      "GIF89a" + svg_head + "<image href=\"" + file_url + "\"/></svg>",
      // A file name or URL as the whole input.
      canary,
      file_url,
      url,
  };
  for (const std::string& bytes : hostile) {
    const absl::StatusOr<RgbImage> image = DecodeImage(bytes, DecodeLimits());
    EXPECT_EQ(image.status().code(), absl::StatusCode::kInvalidArgument) << bytes;
    // Bypassing the codec: libvips' own sniffing finds no unblocked loader either.
    EXPECT_THROW(VImage::new_from_buffer(bytes.data(), bytes.size(), ""), vips::VError) << bytes;
    vips_error_clear();
  }
  ExpectInvalid(hostile[0], "SVG is not an accepted image format");
  ExpectInvalid(hostile[4], "XML is not an accepted image format");

  char events[4096];
  EXPECT_LT(read(watch, events, sizeof(events)), 0) << "the canary file was opened";
  EXPECT_EQ(errno, EAGAIN);
  const int connection = accept(listener, nullptr, nullptr);
  EXPECT_LT(connection, 0) << "something connected to " << url;
  if (connection >= 0) close(connection);
  close(listener);
  close(watch);
  std::filesystem::remove(canary);
}

// Damaged input makes libjpeg, libpng and friends warn through glib; the codec keeps that off
// stderr (one log line per bad request is a log flood) but still reports real errors.
TEST_F(ImageCodecTest, SilencesLibvipsWarningsButNotErrors) {
  std::string jpeg = EncodeOrDie(MakeTestPattern(64, 48), OutputFormat::kJpeg);
  const size_t sos = jpeg.find("\xFF\xDA");
  ASSERT_NE(sos, std::string::npos);
  jpeg.insert(sos, std::string("\x00\x01\x02", 3));  // "extraneous bytes before marker"
  const uint64_t before = SilencedCodecWarnings();
  ::testing::internal::CaptureStderr();
  const absl::StatusOr<RgbImage> image = DecodeImage(jpeg, DecodeLimits());
  const absl::StatusOr<RgbImage> truncated = DecodeImage(jpeg.substr(0, jpeg.size() / 2), {});
  const std::string stderr_text = ::testing::internal::GetCapturedStderr();
  EXPECT_TRUE(image.ok()) << image.status();  // a warning, not an error
  EXPECT_GT(SilencedCodecWarnings(), before);
  EXPECT_EQ(stderr_text, "");
  EXPECT_EQ(truncated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(truncated.status().message()), HasSubstr("cannot decode the JPEG"));
}

TEST_F(ImageCodecTest, EnforcesLimits) {
  const std::string png = EncodeOrDie(MakeTestPattern(300, 10), OutputFormat::kPng);
  DecodeLimits limits;
  limits.max_side = 200;
  ExpectInvalid(png, "longer side", limits);
  limits = DecodeLimits();
  limits.max_pixels = 2999;
  ExpectInvalid(png, "over the limit of 2999 pixels", limits);
  limits = DecodeLimits();
  limits.max_bytes = png.size() - 1;
  ExpectInvalid(png, "bytes", limits);
  limits.max_bytes = png.size();
  EXPECT_TRUE(DecodeImage(png, limits).ok());
  EXPECT_EQ(DecodeImage(png, DecodeLimits(), -1).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageCodecTest, EncodeRejectsBadInput) {
  EXPECT_EQ(EncodeImage(RgbImage(), OutputFormat::kPng, 90).status().code(),
            absl::StatusCode::kInvalidArgument);
  RgbImage image = MakeTestPattern(10, 10);
  for (int quality : {0, 101, -5}) {
    EXPECT_EQ(EncodeImage(image, OutputFormat::kJpeg, quality).status().code(),
              absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(EncodeImage(image, OutputFormat::kWebp, quality).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(EncodeImage(image, OutputFormat::kPng, 0).ok());  // quality unused
  image.pixels.pop_back();
  EXPECT_EQ(EncodeImage(image, OutputFormat::kPng, 90).status().code(),
            absl::StatusCode::kInvalidArgument);
  RgbImage too_wide;
  too_wide.width = 16384;
  too_wide.height = 1;
  too_wide.pixels.resize(16384 * 3);
  EXPECT_EQ(EncodeImage(too_wide, OutputFormat::kWebp, 90).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(ImageCodecTest, IsThreadSafe) {
  const RgbImage image = MakeTestPattern(200, 150);
  const std::string jpeg = EncodeOrDie(image, OutputFormat::kJpeg);
  const RgbImage expected = DecodeOrDie(jpeg, 64);
  std::vector<std::thread> threads;
  std::vector<int> matches(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const absl::StatusOr<RgbImage> decoded = DecodeImage(jpeg, DecodeLimits(), 64);
        if (decoded.ok() && decoded->pixels == expected.pixels) ++matches[t];
        (void)EncodeImage(image, OutputFormat::kPng, 0);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int count : matches) EXPECT_EQ(count, 10);
}

TEST_F(ImageCodecTest, DecodesTheSharedExamples) {
  int decoded_files = 0;
  for (const char* folder : {"data/examples/content", "data/examples/style"}) {
    if (!RequireShared(folder)) continue;
    for (const auto& entry : std::filesystem::directory_iterator(SharedDir() + "/" + folder)) {
      if (!entry.is_regular_file()) continue;
      const std::string bytes = ReadFileOrDie(entry.path().string());
      const absl::StatusOr<RgbImage> image = DecodeImage(bytes, DecodeLimits(), 512);
      ASSERT_TRUE(image.ok()) << entry.path() << ": " << image.status();
      EXPECT_LE(std::max(image->width, image->height), 512) << entry.path();
      EXPECT_GT(image->width, 0);
      ++decoded_files;
    }
  }
  if (decoded_files == 0) GTEST_SKIP() << "no ../shared examples";
}

}  // namespace
}  // namespace style
