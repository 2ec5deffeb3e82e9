#include "tests/fuzz/fuzz_targets.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vips/vips8>

#include "absl/strings/str_cat.h"
#include "server/request_validation.h"
#include "server/style_registry.h"
#include "styletransfer/v1/style_transfer.pb.h"
#include "tests/test_support.h"

namespace style::fuzz {
namespace {

namespace v1 = styletransfer::v1;
using testing::MakeTestPattern;
using testing::SaveWithVips;
using testing::ToVips;
using vips::VImage;

std::string Describe(const absl::Status& status) { return status.ToString().substr(0, 300); }

// Checks one decode result against the header and the fit it was asked for.
std::string CheckDecoded(const ImageHeader& header, const RgbImage& image, int fit,
                         const DecodeLimits& limits) {
  const int w = image.width;
  const int h = image.height;
  if (w <= 0 || h <= 0) return absl::StrCat("decoded an empty image ", w, "x", h);
  if (image.pixels.size() != static_cast<size_t>(w) * h * 3) {
    return absl::StrCat("decoded ", w, "x", h, " with ", image.pixels.size(), " bytes of pixels");
  }
  if (static_cast<int64_t>(w) * h > limits.max_pixels || std::max(w, h) > limits.max_side) {
    return absl::StrCat("decoded ", w, "x", h, ", over the limits");
  }
  // EXIF orientation may swap the sides.
  const bool as_header = (w == header.width && h == header.height) ||
                         (w == header.height && h == header.width);
  const int longer = std::max(header.width, header.height);
  if (fit == 0 || longer <= fit) {
    if (!as_header) {
      return absl::StrCat("decoded ", w, "x", h, " from a ", header.width, "x", header.height,
                          " header with fit ", fit);
    }
  } else if (std::max(w, h) != fit) {
    return absl::StrCat("fit ", fit, " of ", header.width, "x", header.height, " gave ", w, "x", h);
  }
  return "";
}

// A decoded image must encode, and PNG must give it back exactly.
std::string CheckRoundTrip(const RgbImage& image) {
  if (static_cast<int64_t>(image.width) * image.height > 65536) return "";
  absl::StatusOr<std::string> png = EncodeImage(image, OutputFormat::kPng, 0);
  if (!png.ok()) return "encoding a decoded image failed: " + Describe(png.status());
  absl::StatusOr<RgbImage> again = DecodeImage(*png, DecodeLimits());
  if (!again.ok()) return "decoding our own PNG failed: " + Describe(again.status());
  if (again->width != image.width || again->height != image.height || again->pixels != image.pixels) {
    return "the PNG round trip changed the image";
  }
  return "";
}

const StyleRegistry& FuzzRegistry() {
  static const StyleRegistry* registry = [] {
    auto* r = new StyleRegistry(4);
    RegisteredStyle style;
    style.id = FuzzRegisteredStyleId();
    style.name = "fuzz";
    style.width = 8;
    style.height = 8;
    style.stats = std::make_shared<const StyleStats>(StyleStats{at::zeros({8}), at::ones({8})});
    (void)r->Insert(std::move(style));
    return r;
  }();
  return *registry;
}

RequestLimits FuzzRequestLimits() {
  RequestLimits limits;
  limits.decode.max_bytes = 1024;  // reachable by the fuzzer's inputs
  return limits;
}

std::string Serialize(const v1::StylizeRequest& request) {
  std::string out;
  request.SerializeToString(&out);
  return out;
}

}  // namespace

DecodeLimits FuzzDecodeLimits() {
  DecodeLimits limits;
  limits.max_bytes = 1 << 20;
  limits.max_pixels = 1'000'000;
  limits.max_side = 4096;
  limits.max_frames = 16;
  return limits;
}

std::string FuzzDecodeImage(std::string_view data) {
  if (!InitImageCodec(1).ok()) return "the codec did not start";
  const DecodeLimits limits = FuzzDecodeLimits();
  const absl::StatusOr<ImageHeader> header = ProbeImage(data, limits);
  if (header.ok()) {
    if (header->width <= 0 || header->height <= 0 ||
        static_cast<int64_t>(header->width) * header->height > limits.max_pixels ||
        std::max(header->width, header->height) > limits.max_side || header->pages < 1 ||
        header->pages > limits.max_frames) {
      return absl::StrCat("the probe accepted ", header->width, "x", header->height, " with ", header->pages,
                          " pages");
    }
  } else if (header.status().code() != absl::StatusCode::kInvalidArgument) {
    return "the probe answered " + Describe(header.status());
  }
  // No fit (KEEP), then a fit chosen by the input's length (FIT, and style images).
  constexpr int kFits[] = {1, 7, 16, 64, 300, 512};
  for (const int fit : {0, kFits[data.size() % 6]}) {
    const absl::StatusOr<RgbImage> image = DecodeImage(data, limits, fit);
    if (!image.ok()) {
      const absl::StatusCode code = image.status().code();
      if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kResourceExhausted) {
        return "decoding answered " + Describe(image.status());
      }
      continue;
    }
    if (!header.ok()) return "decoding accepted what the probe refused: " + Describe(header.status());
    if (std::string broken = CheckDecoded(*header, *image, fit, limits); !broken.empty()) return broken;
    if (std::string broken = CheckRoundTrip(*image); !broken.empty()) return broken;
  }
  return "";
}

std::string FuzzRegisteredStyleId() { return StyleRegistry::IdFor("fuzz style"); }

std::string FuzzValidateRequest(std::string_view data) {
  v1::StylizeRequest request;
  if (!request.ParseFromArray(data.data(), static_cast<int>(data.size()))) return "";
  const RequestLimits limits = FuzzRequestLimits();
  const absl::StatusOr<ValidatedRequest> validated = ValidateStylizeRequest(request, limits, FuzzRegistry());
  if (!validated.ok()) {
    const absl::StatusCode code = validated.status().code();
    if (code != absl::StatusCode::kInvalidArgument && code != absl::StatusCode::kNotFound &&
        code != absl::StatusCode::kFailedPrecondition) {
      return "refused with " + Describe(validated.status());
    }
    // Refusals echo at most a short prefix of what the client sent.
    if (validated.status().message().empty() || validated.status().message().size() > 400) {
      return absl::StrCat("a refusal message of ", validated.status().message().size(), " bytes");
    }
    return "";
  }
  const ValidatedRequest& v = *validated;
  if (request.content().empty() || request.content().size() > limits.decode.max_bytes) {
    return absl::StrCat("accepted content of ", request.content().size(), " bytes");
  }
  if (v.styles.empty() || static_cast<int>(v.styles.size()) != request.styles_size() ||
      request.styles_size() > limits.max_styles) {
    return absl::StrCat("accepted ", v.styles.size(), " of ", request.styles_size(), " styles");
  }
  double weight_sum = 0;
  for (int i = 0; i < request.styles_size(); ++i) {
    const ValidatedStyle& style = v.styles[i];
    const v1::StyleSource& source = request.styles(i);
    if ((style.image == nullptr) == (style.registered == nullptr)) return absl::StrCat("style ", i, " has no one source");
    if (style.image != nullptr &&
        (style.image != &source.image() || style.image->empty() || style.image->size() > limits.decode.max_bytes)) {
      return absl::StrCat("style ", i, ": accepted an image of ", style.image->size(), " bytes");
    }
    if (style.registered != nullptr && (style.registered->id != source.style_id() || v.preserve_color)) {
      return absl::StrCat("style ", i, ": a registered style where it should not be");
    }
    if (!std::isfinite(style.weight) || style.weight < 0 || style.weight > 1) {
      return absl::StrCat("style ", i, ": weight ", style.weight);
    }
    weight_sum += style.weight;
  }
  if (std::abs(weight_sum - 1.0) > 1e-6) return absl::StrCat("weights sum to ", weight_sum);
  if (!std::isfinite(v.alpha) || v.alpha < 0 || v.alpha > 1 ||
      v.alpha != (request.has_alpha() ? request.alpha() : 1.0f)) {
    return absl::StrCat("alpha ", v.alpha);
  }
  if (v.quality < 1 || v.quality > 100) return absl::StrCat("quality ", v.quality);
  const bool fit = request.size().mode() == v1::SizePolicy::FIT;
  if (fit != (v.fit_max_side > 0) || (fit && (v.fit_max_side < 16 || v.fit_max_side > limits.decode.max_side))) {
    return absl::StrCat("fit_max_side ", v.fit_max_side);
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> DecodeImageSeeds() {
  if (!InitImageCodec(1).ok()) return {};
  std::vector<std::pair<std::string, std::string>> seeds;
  auto add = [&](std::string name, absl::StatusOr<std::string> bytes) {
    if (bytes.ok()) seeds.emplace_back(std::move(name), *std::move(bytes));
  };
  // Through the codec's own encoder.
  add("1x1.jpg", EncodeImage(MakeTestPattern(1, 1), OutputFormat::kJpeg, 90));
  add("16x9.jpg", EncodeImage(MakeTestPattern(16, 9), OutputFormat::kJpeg, 50));
  add("1x1.png", EncodeImage(MakeTestPattern(1, 1), OutputFormat::kPng, 0));
  add("8x8.png", EncodeImage(MakeTestPattern(8, 8), OutputFormat::kPng, 0));
  add("1x1.webp", EncodeImage(MakeTestPattern(1, 1), OutputFormat::kWebp, 90));
  add("16x9.webp", EncodeImage(MakeTestPattern(16, 9), OutputFormat::kWebp, 50));
  // Through libvips' savers, for the layouts our encoder never writes.
  try {
    const VImage rgb = ToVips(MakeTestPattern(12, 8));
    const VImage grey = rgb.extract_band(1);
    const VImage alpha = (VImage::xyz(12, 8).extract_band(0) > 5).ifthenelse(255, 0).cast(VIPS_FORMAT_UCHAR);
    VImage oriented = rgb.copy();
    oriented.set(VIPS_META_ORIENTATION, 6);
    VImage frames = ToVips(MakeTestPattern(6, 12));  // three 6x4 frames that differ
    frames.set("page-height", 4);
    frames.set("delay", std::vector<int>{50, 50, 50});
    seeds.emplace_back("progressive.jpg", SaveWithVips(rgb, ".jpg[interlace,Q=80]"));
    seeds.emplace_back("grey.jpg", SaveWithVips(grey, ".jpg"));
    seeds.emplace_back("orientation6.jpg", SaveWithVips(oriented, ".jpg"));
    seeds.emplace_back("cmyk.jpg", SaveWithVips(rgb.icc_transform("cmyk"), ".jpg[strip]"));
    seeds.emplace_back("grey_alpha.png", SaveWithVips(grey.bandjoin(alpha), ".png"));
    seeds.emplace_back("rgba.png", SaveWithVips(rgb.bandjoin(alpha), ".png[interlace]"));
    seeds.emplace_back("palette.png", SaveWithVips(rgb, ".png[palette,bitdepth=2]"));
    seeds.emplace_back("16bit.png", SaveWithVips((rgb.cast(VIPS_FORMAT_USHORT) * 257)
                                             .cast(VIPS_FORMAT_USHORT)
                                             .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_RGB16)),
                                         ".png"));
    seeds.emplace_back("lossless_alpha.webp", SaveWithVips(rgb.bandjoin(alpha), ".webp[lossless]"));
    seeds.emplace_back("animated.webp", SaveWithVips(frames, ".webp[Q=50]"));
    seeds.emplace_back("plain.tif", SaveWithVips(rgb, ".tif"));
    seeds.emplace_back("lzw_tiled.tif", SaveWithVips(rgb, ".tif[compression=lzw,tile,tile-width=16,tile-height=16]"));
    seeds.emplace_back("jpeg.tif", SaveWithVips(rgb, ".tif[compression=jpeg]"));
    seeds.emplace_back("bilevel.tif", SaveWithVips(alpha, ".tif[bitdepth=1]"));
    seeds.emplace_back("float.tif", SaveWithVips(rgb.colourspace(VIPS_INTERPRETATION_scRGB), ".tif"));
    seeds.emplace_back("labq.tif", SaveWithVips(rgb.colourspace(VIPS_INTERPRETATION_LABQ), ".tif"));
    seeds.emplace_back("multipage.tif", SaveWithVips(frames, ".tif"));
    seeds.emplace_back("still.gif", SaveWithVips(rgb, ".gif"));
    seeds.emplace_back("animated.gif", SaveWithVips(frames, ".gif"));
  } catch (const vips::VError&) {
    vips_error_clear();  // a saver this libvips lacks: fewer seeds
  }
  return seeds;
}

std::vector<std::pair<std::string, std::string>> ValidateRequestSeeds() {
  std::vector<std::pair<std::string, std::string>> seeds;
  v1::StylizeRequest base;
  base.set_content("\xFF\xD8\xFF content");
  base.add_styles()->set_image("\x89PNG style");
  seeds.emplace_back("minimal", Serialize(base));

  v1::StylizeRequest r = base;
  r.set_alpha(0.5f);
  r.mutable_output()->set_format(v1::IMAGE_FORMAT_WEBP);
  r.mutable_output()->set_quality(80);
  r.mutable_size()->set_mode(v1::SizePolicy::FIT);
  r.mutable_size()->set_max_side(512);
  seeds.emplace_back("options", Serialize(r));

  r = base;
  r.mutable_styles(0)->set_weight(0.25f);
  r.add_styles()->set_style_id(FuzzRegisteredStyleId());
  r.mutable_styles(1)->set_weight(0.75f);
  seeds.emplace_back("weighted_registered", Serialize(r));

  r = base;
  r.set_preserve_color(true);
  r.add_styles()->set_style_id("st-unknown");
  seeds.emplace_back("unknown_id", Serialize(r));

  r = base;
  for (int i = 0; i < 8; ++i) r.add_styles()->set_image("style");
  seeds.emplace_back("too_many_styles", Serialize(r));

  r = base;
  r.set_alpha(1.5f);
  r.mutable_output()->set_quality(101);
  r.mutable_size()->set_mode(v1::SizePolicy::FIT);
  seeds.emplace_back("out_of_range", Serialize(r));

  r = base;
  r.set_content(std::string(1025, 'x'));
  seeds.emplace_back("content_too_big", Serialize(r));
  return seeds;
}

}  // namespace style::fuzz
