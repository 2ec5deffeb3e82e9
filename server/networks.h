// The AdaIN networks: a VGG-shaped encoder up to relu4_1 and its mirrored decoder, written as
// ATen operations over named weight tensors.
//
// One definition serves every model: the standard VGG19 weights (widths 64-128-256-512) and the
// project's compact models (narrower widths, same topology). Layer indices follow the module
// indices of pytorch-AdaIN's nn.Sequential, so the weight names are those of its state dicts
// ("2.weight", "2.bias", ...). The forward pass works on any device and dtype and supports
// autograd, so the trainer uses these same networks.
#ifndef STYLE_SERVER_NETWORKS_H_
#define STYLE_SERVER_NETWORKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"
#include "server/model_weights.h"

namespace style {

// Channel widths at relu1_1, relu2_1, relu3_1 and relu4_1.
struct NetworkWidths {
  int64_t c1 = 64;
  int64_t c2 = 128;
  int64_t c3 = 256;
  int64_t c4 = 512;
};

struct Layer {
  enum class Kind { kConv, kRelu, kMaxPool, kUpsample };
  Kind kind;
  int64_t index = 0;          // module index, the prefix of the weight names
  int64_t in_channels = 0;    // kConv only
  int64_t out_channels = 0;   // kConv only
  int64_t kernel = 0;         // kConv only: 1 or 3; 3x3 convolutions are reflection-padded
  bool tap = false;           // kRelu: the output is one of the encoder's relu{1,2,3,4}_1
};

std::vector<Layer> EncoderLayers(const NetworkWidths& widths);
std::vector<Layer> DecoderLayers(const NetworkWidths& widths);

// Reads the widths from an encoder's weight shapes. INVALID_ARGUMENT (naming `file` and the
// tensor) when a convolution weight is missing or not 4-D.
absl::StatusOr<NetworkWidths> InferWidths(const TensorMap& encoder, const std::string& file);

// How a 3x3 convolution gets its reflection padding. Both give the same result (up to float
// rounding); they differ in speed.
enum class PaddingImpl {
  // reflection_pad2d, then an unpadded convolution: the reference's way.
  kReflectPad,
  // A zero-padded convolution (no separate pad pass over the whole tensor), then the one-pixel
  // border recomputed from reflected strips. On a GPU the reference's pad kernels cost about
  // two thirds of the network's time; this costs four thin convolutions per layer.
  kZeroPadFixBorder,
  // Zero padding only: wrong border pixels. A speed bound for benchmarks, never for serving.
  kZeroPadInexact,
};

// A sequential convolutional network: layers plus their weights.
// Immutable after construction; Forward is thread-safe.
class ConvNet {
 public:
  // Checks that `weights` has exactly the tensors `layers` need, with the right shapes.
  // INVALID_ARGUMENT names `file` and the first missing or misshapen tensor.
  static absl::StatusOr<ConvNet> Create(std::vector<Layer> layers, TensorMap weights,
                                        const std::string& file);

  // Runs the network on `input` (NCHW). When `taps` is given, the outputs of the tapped ReLUs
  // are appended to it (the encoder's relu1_1..relu4_1).
  at::Tensor Forward(const at::Tensor& input, std::vector<at::Tensor>* taps = nullptr) const;

  // A copy with every weight moved to `options` (device and dtype), in `memory_format`
  // (channels_last is the fast layout for half precision on GPUs), padding by `padding`.
  // With `fuse_relu` on a CUDA device, each convolution followed by a ReLU runs as one cuDNN
  // call (cudnn_convolution_relu), saving a pass over the activations; if cuDNN refuses the
  // fused call for these weights, the copy quietly runs them unfused.
  ConvNet To(const at::TensorOptions& options, at::MemoryFormat memory_format = at::MemoryFormat::Contiguous,
             PaddingImpl padding = PaddingImpl::kReflectPad, bool fuse_relu = false) const;
  bool fuses_relu() const { return fuse_relu_; }

  // The weights by name, e.g. for an optimizer or for saving.
  const TensorMap& weights() const { return weights_; }
  TensorMap& mutable_weights() { return weights_; }
  int64_t ParameterCount() const;

 private:
  ConvNet(std::vector<Layer> layers, TensorMap weights, PaddingImpl padding = PaddingImpl::kReflectPad,
          bool fuse_relu = false);
  // One 3x3 convolution with reflection semantics, by padding_, optionally with the ReLU fused.
  at::Tensor Conv3x3(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias, bool relu) const;

  std::vector<Layer> layers_;
  PaddingImpl padding_;
  bool fuse_relu_;
  TensorMap weights_;
  // Pointers into weights_ per layer, so that Forward does no map lookups.
  std::vector<std::pair<at::Tensor, at::Tensor>> conv_params_;
};

}  // namespace style

#endif  // STYLE_SERVER_NETWORKS_H_
