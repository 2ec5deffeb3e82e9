// The AdaIN model: encoder to relu4_1, AdaIN, decoder, on one device.
//
// AdainNetworks holds the weights, loaded once and shared read-only by every worker on the CPU;
// each worker owns an AdainModel (its own device copy, dtype and scratch), see StyleModel.
#ifndef STYLE_SERVER_ADAIN_MODEL_H_
#define STYLE_SERVER_ADAIN_MODEL_H_

#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "server/device.h"
#include "server/networks.h"
#include "server/style_model.h"

namespace style {

// A model on disk: a folder holding encoder.pt and decoder.pt (see tools/convert_weights.py).
struct AdainNetworks {
  std::string name;  // the folder's base name, e.g. "adain-vgg19" or "default"
  NetworkWidths widths;
  ConvNet encoder;
  ConvNet decoder;
};

// Loads `dir`/encoder.pt and `dir`/decoder.pt, infers the widths from the encoder and checks
// every tensor's shape. Errors name the file and the tensor: NOT_FOUND (missing file),
// INVALID_ARGUMENT (legacy format, damaged file, wrong or missing tensor).
absl::StatusOr<std::shared_ptr<const AdainNetworks>> LoadAdainNetworks(const std::string& dir);

struct AdainModelOptions {
  std::string device = "cpu";  // "cpu" or "cuda:N"
  at::ScalarType dtype = at::kFloat;
  // How 3x3 convolutions are reflection-padded (see PaddingImpl). On CUDA the zero-pad-and-fix
  // form is used, unless this says otherwise.
  std::optional<PaddingImpl> padding;
  // CUDA only: cuDNN's fused convolution+ReLU, and CUDA graphs replayed per batch shape.
  bool fuse_relu = true;
  bool cuda_graphs = true;
};

class AdainModel : public StyleModel {
 public:
  // INVALID_ARGUMENT for an unknown or unavailable device or an unsupported dtype.
  static absl::StatusOr<std::unique_ptr<AdainModel>> Create(std::shared_ptr<const AdainNetworks> networks,
                                                            const AdainModelOptions& options);

  absl::StatusOr<StyleStats> EncodeStyle(const at::Tensor& style) override;
  absl::StatusOr<at::Tensor> Stylize(const at::Tensor& contents, const at::Tensor& style_mean,
                                     const at::Tensor& style_std, const at::Tensor& alpha) override;
  const ModelInfo& info() const override { return info_; }

  // The network alone, for benchmarks: `contents` already on the device in the model's dtype
  // and layout, statistics [N,C] on the device. Returns the device tensor; call from within
  // device().WithStream. Throws like LibTorch.
  at::Tensor Forward(const at::Tensor& contents, const at::Tensor& style_mean, const at::Tensor& style_std,
                     const at::Tensor& alpha) const;
  DeviceContext& device() { return *device_; }
  const at::TensorOptions& tensor_options() const { return options_; }
  at::MemoryFormat memory_format() const { return memory_format_; }

 private:
  AdainModel(std::shared_ptr<const AdainNetworks> networks, std::unique_ptr<DeviceContext> device, ConvNet encoder,
             ConvNet decoder, at::TensorOptions options, at::MemoryFormat memory_format, ModelInfo info);

  // Runs `fn` on the device's stream, turning exceptions into a status (RESOURCE_EXHAUSTED for
  // out-of-memory, after releasing cached memory; INTERNAL otherwise).
  absl::Status RunOnDevice(const char* what, const std::function<void()>& fn);

  std::shared_ptr<const AdainNetworks> networks_;  // keeps the CPU weights alive
  std::unique_ptr<DeviceContext> device_;
  ConvNet encoder_;  // on options_' device and dtype
  ConvNet decoder_;
  at::TensorOptions options_;
  at::MemoryFormat memory_format_;  // channels_last on GPUs
  ModelInfo info_;
};

// Images with a side under this are edge-padded to it before encoding (and the output cropped
// back): every reflection pad needs a side of at least 2 at relu4_1, where sides are 1/8.
constexpr int64_t kMinImageSide = 16;

}  // namespace style

#endif  // STYLE_SERVER_ADAIN_MODEL_H_
