// Checks a Stylize request's options before any image is decoded, and turns them into the
// settings the pipeline uses. Pure functions of the request: the fuzz target drives them.
#ifndef STYLE_SERVER_REQUEST_VALIDATION_H_
#define STYLE_SERVER_REQUEST_VALIDATION_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/image_codec.h"
#include "server/style_registry.h"
#include "styletransfer/v1/style_transfer.pb.h"

namespace style {

// Limits on what one request may ask for. Defaults documented in docs/operations.md.
struct RequestLimits {
  DecodeLimits decode;                   // every input image
  int64_t max_compute_pixels = 4194304;  // content pixels stylized (after the size policy): 2048x2048
  int max_style_side = 512;              // style images are shrunk to this longer side
  int max_styles = 8;                    // styles in one request
  int default_quality = 90;
};

// One style of a validated request.
struct ValidatedStyle {
  const std::string* image = nullptr;             // into the request, when sent as bytes
  std::shared_ptr<const RegisteredStyle> registered;  // when sent as an id
  double weight = 1.0;                            // normalised: the weights sum to 1
};

struct ValidatedRequest {
  std::vector<ValidatedStyle> styles;
  float alpha = 1.0f;
  bool preserve_color = false;
  OutputFormat format = OutputFormat::kJpeg;
  int quality = 90;
  int fit_max_side = 0;  // 0 keeps the size
};

// INVALID_ARGUMENT for a missing content image or style, too many styles, alpha outside
// [0,1] or not finite, bad weights (negative, not finite, some set and some not, or not
// summing to 1 within 1e-3), an unknown output format, quality outside 1..100, FIT without a
// max_side in 16..decode.max_side, or input bytes over the limit; NOT_FOUND for an unknown
// style id; FAILED_PRECONDITION for colour preservation with a registered style.
absl::StatusOr<ValidatedRequest> ValidateStylizeRequest(const styletransfer::v1::StylizeRequest& request,
                                                        const RequestLimits& limits,
                                                        const StyleRegistry& registry);

}  // namespace style

#endif  // STYLE_SERVER_REQUEST_VALIDATION_H_
