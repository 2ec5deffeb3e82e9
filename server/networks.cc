#include "server/networks.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace style {
namespace {

// Builds a module list, numbering modules as nn.Sequential would (a reflection pad is a module
// of its own before each 3x3 convolution).
class LayerBuilder {
 public:
  LayerBuilder& Conv(int64_t in, int64_t out, int64_t kernel) {
    if (kernel == 3) ++next_index_;  // the ReflectionPad2d module
    layers_.push_back({Layer::Kind::kConv, next_index_++, in, out, kernel, false});
    return *this;
  }
  LayerBuilder& Relu(bool tap = false) {
    layers_.push_back({Layer::Kind::kRelu, next_index_++, 0, 0, 0, tap});
    return *this;
  }
  LayerBuilder& ConvRelu(int64_t in, int64_t out, bool tap = false) { return Conv(in, out, 3).Relu(tap); }
  LayerBuilder& MaxPool() {
    layers_.push_back({Layer::Kind::kMaxPool, next_index_++, 0, 0, 0, false});
    return *this;
  }
  LayerBuilder& Upsample() {
    layers_.push_back({Layer::Kind::kUpsample, next_index_++, 0, 0, 0, false});
    return *this;
  }
  std::vector<Layer> Build() { return std::move(layers_); }

 private:
  std::vector<Layer> layers_;
  int64_t next_index_ = 0;
};

// A 3x3 convolution of `x` [N,C,H,W] (H, W >= 2) with one pixel of reflection padding,
// computed as a zero-padded convolution whose border is then overwritten with exact values.
// Each border row (column) of the output only sees input rows (columns) 1,0,1 at the top and
// H-2,H-1,H-2 at the bottom; those 3-row strips, reflection-padded along the other axis, give
// the exact border through an unpadded convolution.
// With `fused_relu` the main convolution runs as cuDNN's fused convolution+ReLU and the
// border is recomputed with the ReLU applied.
at::Tensor ReflectConvFixBorder(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                                bool fused_relu) {
  const int64_t h = x.size(2);
  const int64_t w = x.size(3);
  at::Tensor out = fused_relu ? at::cudnn_convolution_relu(x, weight, bias, {1, 1}, {1, 1}, {1, 1}, 1)
                              : at::conv2d(x, weight, bias, /*stride=*/1, /*padding=*/1);
  // The exact output line at `index` along `dim` from the three input lines it sees.
  auto fix = [&](int64_t dim, int64_t index, std::array<int64_t, 3> lines) {
    at::Tensor strip = at::cat({x.narrow(dim, lines[0], 1), x.narrow(dim, lines[1], 1), x.narrow(dim, lines[2], 1)}, dim);
    strip = dim == 2 ? at::reflection_pad2d(strip, {1, 1, 0, 0}) : at::reflection_pad2d(strip, {0, 0, 1, 1});
    at::Tensor line = at::conv2d(strip, weight, bias);
    out.narrow(dim, index, 1).copy_(fused_relu ? at::relu(line) : line);
  };
  fix(2, 0, {1, 0, 1});
  fix(2, h - 1, {h - 2, h - 1, h - 2});
  fix(3, 0, {1, 0, 1});
  fix(3, w - 1, {w - 2, w - 1, w - 2});
  return out;
}

std::string ShapeString(at::IntArrayRef shape) { return absl::StrCat("[", absl::StrJoin(shape, ","), "]"); }

}  // namespace

std::vector<Layer> EncoderLayers(const NetworkWidths& w) {
  LayerBuilder b;
  b.Conv(3, 3, 1);
  b.ConvRelu(3, w.c1, /*tap=*/true).ConvRelu(w.c1, w.c1).MaxPool();
  b.ConvRelu(w.c1, w.c2, true).ConvRelu(w.c2, w.c2).MaxPool();
  b.ConvRelu(w.c2, w.c3, true).ConvRelu(w.c3, w.c3).ConvRelu(w.c3, w.c3).ConvRelu(w.c3, w.c3).MaxPool();
  b.ConvRelu(w.c3, w.c4, true);
  return b.Build();
}

std::vector<Layer> DecoderLayers(const NetworkWidths& w) {
  LayerBuilder b;
  b.ConvRelu(w.c4, w.c3).Upsample();
  b.ConvRelu(w.c3, w.c3).ConvRelu(w.c3, w.c3).ConvRelu(w.c3, w.c3).ConvRelu(w.c3, w.c2).Upsample();
  b.ConvRelu(w.c2, w.c2).ConvRelu(w.c2, w.c1).Upsample();
  b.ConvRelu(w.c1, w.c1).Conv(w.c1, 3, 3);
  return b.Build();
}

absl::StatusOr<NetworkWidths> InferWidths(const TensorMap& encoder, const std::string& file) {
  // The first convolution of each stage in EncoderLayers: modules 2, 9, 16 and 29.
  auto out_channels = [&](const std::string& name) -> absl::StatusOr<int64_t> {
    auto it = encoder.find(name);
    if (it == encoder.end()) {
      return absl::InvalidArgumentError(absl::StrCat("weights file ", file, ": tensor ", name, " is missing"));
    }
    if (it->second.dim() != 4) {
      return absl::InvalidArgumentError(absl::StrCat("weights file ", file, ": tensor ", name, " has shape ",
                                                     ShapeString(it->second.sizes()), ", expected 4 dimensions"));
    }
    return it->second.size(0);
  };
  NetworkWidths w;
  auto c1 = out_channels("2.weight");
  if (!c1.ok()) return c1.status();
  auto c2 = out_channels("9.weight");
  if (!c2.ok()) return c2.status();
  auto c3 = out_channels("16.weight");
  if (!c3.ok()) return c3.status();
  auto c4 = out_channels("29.weight");
  if (!c4.ok()) return c4.status();
  w.c1 = *c1;
  w.c2 = *c2;
  w.c3 = *c3;
  w.c4 = *c4;
  return w;
}

ConvNet::ConvNet(std::vector<Layer> layers, TensorMap weights, PaddingImpl padding, bool fuse_relu)
    : layers_(std::move(layers)), padding_(padding), fuse_relu_(fuse_relu), weights_(std::move(weights)) {
  for (const Layer& layer : layers_) {
    if (layer.kind != Layer::Kind::kConv) continue;
    conv_params_.emplace_back(weights_.at(absl::StrCat(layer.index, ".weight")),
                              weights_.at(absl::StrCat(layer.index, ".bias")));
  }
}

absl::StatusOr<ConvNet> ConvNet::Create(std::vector<Layer> layers, TensorMap weights, const std::string& file) {
  TensorMap used;
  for (const Layer& layer : layers) {
    if (layer.kind != Layer::Kind::kConv) continue;
    const std::vector<int64_t> weight_shape = {layer.out_channels, layer.in_channels, layer.kernel, layer.kernel};
    const std::vector<int64_t> bias_shape = {layer.out_channels};
    for (const auto& [suffix, shape] : {std::pair{".weight", weight_shape}, std::pair{".bias", bias_shape}}) {
      const std::string name = absl::StrCat(layer.index, suffix);
      auto it = weights.find(name);
      if (it == weights.end()) {
        return absl::InvalidArgumentError(absl::StrCat("weights file ", file, ": tensor ", name, " is missing"));
      }
      if (it->second.sizes() != at::IntArrayRef(shape)) {
        return absl::InvalidArgumentError(absl::StrCat("weights file ", file, ": tensor ", name, " has shape ",
                                                       ShapeString(it->second.sizes()), ", expected ",
                                                       ShapeString(shape)));
      }
      used.emplace(name, it->second);
    }
  }
  // Extra tensors (the rest of VGG19 in the full vgg_normalised.pth) are ignored.
  return ConvNet(std::move(layers), std::move(used));
}

at::Tensor ConvNet::Conv3x3(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                            bool relu) const {
  switch (padding_) {
    case PaddingImpl::kZeroPadFixBorder:
      return ReflectConvFixBorder(x, weight, bias, relu);
    case PaddingImpl::kZeroPadInexact:
      return relu ? at::cudnn_convolution_relu(x, weight, bias, {1, 1}, {1, 1}, {1, 1}, 1)
                  : at::conv2d(x, weight, bias, /*stride=*/1, /*padding=*/1);
    case PaddingImpl::kReflectPad:
      break;
  }
  const at::Tensor padded = at::reflection_pad2d(x, {1, 1, 1, 1});
  return relu ? at::cudnn_convolution_relu(padded, weight, bias, {1, 1}, {0, 0}, {1, 1}, 1)
              : at::conv2d(padded, weight, bias);
}

at::Tensor ConvNet::Forward(const at::Tensor& input, std::vector<at::Tensor>* taps) const {
  at::Tensor x = input;
  size_t conv = 0;
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& layer = layers_[i];
    switch (layer.kind) {
      case Layer::Kind::kConv: {
        const auto& [weight, bias] = conv_params_[conv++];
        if (layer.kernel != 3) {
          x = at::conv2d(x, weight, bias);
          break;
        }
        const bool fuse = fuse_relu_ && i + 1 < layers_.size() && layers_[i + 1].kind == Layer::Kind::kRelu;
        x = Conv3x3(x, weight, bias, fuse);
        if (fuse) {
          ++i;  // the ReLU is done
          if (layers_[i].tap && taps != nullptr) taps->push_back(x);
        }
        break;
      }
      case Layer::Kind::kRelu:
        x = at::relu(x);
        if (layer.tap && taps != nullptr) taps->push_back(x);
        break;
      case Layer::Kind::kMaxPool:
        x = at::max_pool2d(x, {2, 2}, {2, 2}, {0, 0}, {1, 1}, /*ceil_mode=*/true);
        break;
      case Layer::Kind::kUpsample:
        x = at::upsample_nearest2d(x, {x.size(2) * 2, x.size(3) * 2});
        break;
    }
  }
  return x;
}

ConvNet ConvNet::To(const at::TensorOptions& options, at::MemoryFormat memory_format, PaddingImpl padding,
                    bool fuse_relu) const {
  TensorMap moved;
  for (const auto& [name, tensor] : weights_) {
    at::Tensor t = tensor.to(options);
    moved.emplace(name, t.dim() == 4 ? t.contiguous(memory_format) : t.contiguous());
  }
  ConvNet net(layers_, std::move(moved), padding, fuse_relu && options.device().is_cuda());
  if (net.fuse_relu_) {
    // Not every cuDNN build or dtype has the fused kernel: try it once on a small input.
    try {
      const auto& [weight, bias] = net.conv_params_.at(1);
      (void)at::cudnn_convolution_relu(at::zeros({1, weight.size(1), 8, 8}, weight.options()).contiguous(memory_format),
                                       weight, bias, {1, 1}, {1, 1}, {1, 1}, 1);
    } catch (const std::exception&) {
      net.fuse_relu_ = false;
    }
  }
  return net;
}

int64_t ConvNet::ParameterCount() const {
  int64_t n = 0;
  for (const auto& [name, tensor] : weights_) n += tensor.numel();
  return n;
}

}  // namespace style
