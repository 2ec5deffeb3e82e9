#include "server/request_validation.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace style {

namespace v1 = styletransfer::v1;

absl::StatusOr<ValidatedRequest> ValidateStylizeRequest(const v1::StylizeRequest& request,
                                                        const RequestLimits& limits,
                                                        const StyleRegistry& registry) {
  ValidatedRequest out;
  if (request.content().empty()) return absl::InvalidArgumentError("content image is empty");
  if (request.content().size() > limits.decode.max_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("content image is ", request.content().size(),
                                                   " bytes, over the limit of ", limits.decode.max_bytes));
  }
  if (request.styles().empty()) return absl::InvalidArgumentError("at least one style is needed");
  if (request.styles_size() > limits.max_styles) {
    return absl::InvalidArgumentError(
        absl::StrCat(request.styles_size(), " styles given; at most ", limits.max_styles, " are allowed"));
  }

  if (request.has_alpha()) {
    const float alpha = request.alpha();
    if (!std::isfinite(alpha) || alpha < 0.0f || alpha > 1.0f) {
      return absl::InvalidArgumentError(absl::StrCat("alpha must be in [0, 1], got ", alpha));
    }
    out.alpha = alpha;
  }
  out.preserve_color = request.preserve_color();

  int weights_set = 0;
  double weight_sum = 0;
  for (int i = 0; i < request.styles_size(); ++i) {
    const v1::StyleSource& source = request.styles(i);
    ValidatedStyle style;
    switch (source.source_case()) {
      case v1::StyleSource::kImage:
        if (source.image().empty()) return absl::InvalidArgumentError(absl::StrCat("style ", i, ": image is empty"));
        if (source.image().size() > limits.decode.max_bytes) {
          return absl::InvalidArgumentError(absl::StrCat("style ", i, ": image is ", source.image().size(),
                                                         " bytes, over the limit of ", limits.decode.max_bytes));
        }
        style.image = &source.image();
        break;
      case v1::StyleSource::kStyleId:
        style.registered = registry.Find(source.style_id());
        if (!style.registered) {
          return absl::NotFoundError(absl::StrCat("style ", i, ": no registered style has id \"",
                                                  source.style_id().substr(0, 80), "\""));
        }
        if (out.preserve_color) {
          return absl::FailedPreconditionError(
              "colour preservation needs the style's pixels; send the style image instead of its id");
        }
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("style ", i, ": give either image bytes or a style_id"));
    }
    const float w = source.weight();
    if (!std::isfinite(w) || w < 0.0f || w > 1.0f) {
      return absl::InvalidArgumentError(absl::StrCat("style ", i, ": weight must be in (0, 1], got ", w));
    }
    if (w > 0.0f) ++weights_set;
    weight_sum += w;
    style.weight = w;
    out.styles.push_back(std::move(style));
  }
  const int n = static_cast<int>(out.styles.size());
  if (weights_set == 0) {
    for (ValidatedStyle& style : out.styles) style.weight = 1.0 / n;
  } else if (weights_set != n) {
    return absl::InvalidArgumentError("either set every style's weight or none");
  } else if (std::abs(weight_sum - 1.0) > 1e-3) {
    return absl::InvalidArgumentError(absl::StrCat("style weights must add up to 1, they add up to ", weight_sum));
  } else {
    for (ValidatedStyle& style : out.styles) style.weight /= weight_sum;
  }

  switch (request.output().format()) {
    case v1::IMAGE_FORMAT_UNSPECIFIED:
    case v1::IMAGE_FORMAT_JPEG: out.format = OutputFormat::kJpeg; break;
    case v1::IMAGE_FORMAT_PNG: out.format = OutputFormat::kPng; break;
    case v1::IMAGE_FORMAT_WEBP: out.format = OutputFormat::kWebp; break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown output format ", request.output().format()));
  }
  const uint32_t quality = request.output().quality();
  if (quality > 100) return absl::InvalidArgumentError(absl::StrCat("quality must be 1..100, got ", quality));
  out.quality = quality == 0 ? limits.default_quality : static_cast<int>(quality);

  switch (request.size().mode()) {
    case v1::SizePolicy::MODE_UNSPECIFIED:
    case v1::SizePolicy::KEEP: break;
    case v1::SizePolicy::FIT: {
      const uint32_t side = request.size().max_side();
      if (side < 16 || side > static_cast<uint32_t>(limits.decode.max_side)) {
        return absl::InvalidArgumentError(
            absl::StrCat("size policy FIT needs max_side in 16..", limits.decode.max_side, ", got ", side));
      }
      out.fit_max_side = static_cast<int>(side);
      break;
    }
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown size policy ", request.size().mode()));
  }
  return out;
}

}  // namespace style
