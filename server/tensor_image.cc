#include "server/tensor_image.h"

#include <algorithm>
#include <cmath>

namespace style {

// Plain loops rather than ATen operations: these run on the codec threads, many at once, and
// ATen would hand each conversion to its shared intra-op thread pool (which the model's
// threads also use), oversubscribing the cores. One pass each way is all the work there is.

at::Tensor ImageToTensor(const RgbImage& image) {
  const int64_t plane = static_cast<int64_t>(image.width) * image.height;
  at::Tensor tensor = at::empty({1, 3, image.height, image.width}, at::kFloat);
  float* out = tensor.data_ptr<float>();
  const uint8_t* in = image.pixels.data();
  // Division (not a multiplication by 1/255) so the values are exactly the reference's x / 255.
  for (int64_t i = 0; i < plane; ++i) {
    out[i] = in[3 * i] / 255.0f;
    out[plane + i] = in[3 * i + 1] / 255.0f;
    out[2 * plane + i] = in[3 * i + 2] / 255.0f;
  }
  return tensor;
}

RgbImage TensorToImage(const at::Tensor& tensor) {
  const at::Tensor chw = (tensor.dim() == 4 ? tensor[0] : tensor).to(at::kFloat).contiguous();
  RgbImage image;
  image.height = static_cast<int>(chw.size(1));
  image.width = static_cast<int>(chw.size(2));
  const int64_t plane = static_cast<int64_t>(image.width) * image.height;
  image.pixels.resize(static_cast<size_t>(plane) * 3);
  const float* in = chw.data_ptr<float>();
  uint8_t* out = image.pixels.data();
  for (int64_t i = 0; i < plane; ++i) {
    for (int64_t c = 0; c < 3; ++c) {
      // clamp to [0, 1], then floor(x * 255 + 0.5) as the reference stores it
      const float x = std::min(1.0f, std::max(0.0f, in[c * plane + i]));
      out[3 * i + c] = static_cast<uint8_t>(std::floor(x * 255.0f + 0.5f));
    }
  }
  return image;
}

}  // namespace style
