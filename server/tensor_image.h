// Conversions between decoded images and the model's tensors.
#ifndef STYLE_SERVER_TENSOR_IMAGE_H_
#define STYLE_SERVER_TENSOR_IMAGE_H_

#include <ATen/ATen.h>

#include "server/image_codec.h"

namespace style {

// [1,3,H,W] float32 in [0,1] on the CPU.
at::Tensor ImageToTensor(const RgbImage& image);

// From [3,H,W] (or [1,3,H,W]) float in [0,1]: clamped, stored as floor(x * 255 + 0.5).
RgbImage TensorToImage(const at::Tensor& tensor);

}  // namespace style

#endif  // STYLE_SERVER_TENSOR_IMAGE_H_
