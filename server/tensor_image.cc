#include "server/tensor_image.h"

#include <cstring>

namespace style {

at::Tensor ImageToTensor(const RgbImage& image) {
  at::Tensor hwc = at::empty({image.height, image.width, 3}, at::kByte);
  std::memcpy(hwc.data_ptr<uint8_t>(), image.pixels.data(), image.pixels.size());
  return hwc.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat).div_(255.0f).contiguous();
}

RgbImage TensorToImage(const at::Tensor& tensor) {
  at::Tensor chw = tensor.dim() == 4 ? tensor[0] : tensor;
  at::Tensor hwc = chw.to(at::kFloat).clamp(0, 1).mul(255.0f).add_(0.5f).floor_().to(at::kByte)
                       .permute({1, 2, 0}).contiguous();
  RgbImage image;
  image.height = static_cast<int>(hwc.size(0));
  image.width = static_cast<int>(hwc.size(1));
  image.pixels.resize(static_cast<size_t>(hwc.numel()));
  std::memcpy(image.pixels.data(), hwc.data_ptr<uint8_t>(), image.pixels.size());
  return image;
}

}  // namespace style
