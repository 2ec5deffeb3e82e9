// The interface between the job scheduler and a model that stylizes images.
//
// A StyleModel belongs to one worker (it may hold a device, a CUDA stream and scratch memory),
// so implementations need not be thread-safe. Tests of the scheduler and the service use a fake.
#ifndef STYLE_SERVER_STYLE_MODEL_H_
#define STYLE_SERVER_STYLE_MODEL_H_

#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "server/model_info.h"

namespace style {

// The statistics of a style at the AdaIN layer: per channel, the mean and the standard
// deviation (sqrt of the unbiased variance + 1e-5). Float32 CPU tensors of shape [C].
struct StyleStats {
  at::Tensor mean;
  at::Tensor std;
};


class StyleModel {
 public:
  virtual ~StyleModel() = default;

  // Encodes one style image ([1,3,H,W] float in [0,1], CPU) and returns its statistics.
  // INVALID_ARGUMENT if the image is too small for the encoder; RESOURCE_EXHAUSTED when the
  // device runs out of memory; INTERNAL for any other failure.
  virtual absl::StatusOr<StyleStats> EncodeStyle(const at::Tensor& style) = 0;

  // Stylizes a batch of content images of one shape ([N,3,H,W] float in [0,1], CPU) towards
  // per-sample target statistics (`style_mean`, `style_std`: [N,C]) with a per-sample
  // content-style trade-off `alpha` ([N]). Returns [N,3,H,W] float in [0,1] on the CPU, the
  // same size as the input. Errors as for EncodeStyle.
  virtual absl::StatusOr<at::Tensor> Stylize(const at::Tensor& contents, const at::Tensor& style_mean,
                                             const at::Tensor& style_std, const at::Tensor& alpha) = 0;

  virtual const ModelInfo& info() const = 0;
};

}  // namespace style

#endif  // STYLE_SERVER_STYLE_MODEL_H_
