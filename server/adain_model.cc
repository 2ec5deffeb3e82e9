#include "server/adain_model.h"

#include <algorithm>
#include <filesystem>
#include <functional>
#include <utility>

#include <c10/core/InferenceMode.h>
#include <c10/util/Exception.h>

#include "absl/strings/str_cat.h"
#include "server/adain.h"
#include "server/status_util.h"

namespace style {
namespace {

absl::Status TorchError(const char* what, const std::exception& e) {
  if (dynamic_cast<const c10::OutOfMemoryError*>(&e) != nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": out of device memory"));
  }
  std::string message = e.what();
  // c10 errors carry a C++ backtrace after the first line; keep only the first line.
  if (auto nl = message.find('\n'); nl != std::string::npos) message.resize(nl);
  return absl::InternalError(absl::StrCat(what, " failed: ", message));
}

const char* DtypeName(at::ScalarType dtype) {
  switch (dtype) {
    case at::kFloat: return "float32";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    default: return "unsupported";
  }
}

// Edge-pads an image whose side is under kMinImageSide, so that every reflection pad in the
// networks has room; Stylize crops the result back.
at::Tensor PadToMinimumSide(const at::Tensor& image) {
  const int64_t pad_h = std::max<int64_t>(0, kMinImageSide - image.size(2));
  const int64_t pad_w = std::max<int64_t>(0, kMinImageSide - image.size(3));
  if (pad_h == 0 && pad_w == 0) return image;
  return at::replication_pad2d(image, {0, pad_w, 0, pad_h});
}

}  // namespace

absl::StatusOr<std::shared_ptr<const AdainNetworks>> LoadAdainNetworks(const std::string& dir) {
  const std::string encoder_path = dir + "/encoder.pt";
  const std::string decoder_path = dir + "/decoder.pt";
  ASSIGN_OR_RETURN(TensorMap encoder_weights, LoadTensorFile(encoder_path));
  ASSIGN_OR_RETURN(TensorMap decoder_weights, LoadTensorFile(decoder_path));
  ASSIGN_OR_RETURN(NetworkWidths widths, InferWidths(encoder_weights, encoder_path));
  ASSIGN_OR_RETURN(ConvNet encoder, ConvNet::Create(EncoderLayers(widths), std::move(encoder_weights), encoder_path));
  ASSIGN_OR_RETURN(ConvNet decoder, ConvNet::Create(DecoderLayers(widths), std::move(decoder_weights), decoder_path));
  std::string name = std::filesystem::path(dir).lexically_normal().filename().string();
  if (name.empty()) name = std::filesystem::path(dir).lexically_normal().parent_path().filename().string();
  return std::make_shared<const AdainNetworks>(
      AdainNetworks{std::move(name), widths, std::move(encoder), std::move(decoder)});
}

AdainModel::AdainModel(std::shared_ptr<const AdainNetworks> networks, std::unique_ptr<DeviceContext> device,
                       ConvNet encoder, ConvNet decoder, at::TensorOptions options, at::MemoryFormat memory_format,
                       ModelInfo info)
    : networks_(std::move(networks)),
      device_(std::move(device)),
      encoder_(std::move(encoder)),
      decoder_(std::move(decoder)),
      options_(options),
      memory_format_(memory_format),
      info_(std::move(info)) {}

absl::StatusOr<std::unique_ptr<AdainModel>> AdainModel::Create(std::shared_ptr<const AdainNetworks> networks,
                                                               const AdainModelOptions& options) {
  if (options.dtype != at::kFloat && options.dtype != at::kHalf && options.dtype != at::kBFloat16) {
    return absl::InvalidArgumentError("the model's dtype must be float32, float16 or bfloat16");
  }
  ASSIGN_OR_RETURN(std::vector<at::Device> devices, ParseDevices(options.device));
  if (devices.size() != 1) return absl::InvalidArgumentError("a model runs on exactly one device");
  ASSIGN_OR_RETURN(std::unique_ptr<DeviceContext> context, DeviceContext::Create(devices[0]));
  const at::Device device = context->device();
  if (device.is_cpu() && options.dtype == at::kHalf) {
    return absl::InvalidArgumentError("float16 is for GPUs; use float32 or bfloat16 on the CPU");
  }
  const at::TensorOptions tensor_options = at::TensorOptions().device(device).dtype(options.dtype);
  const at::MemoryFormat memory_format = device.is_cuda() ? at::MemoryFormat::ChannelsLast : at::MemoryFormat::Contiguous;
  const PaddingImpl padding =
      options.padding.value_or(device.is_cuda() ? PaddingImpl::kZeroPadFixBorder : PaddingImpl::kReflectPad);
  ModelInfo info{networks->name, device.str(), DtypeName(options.dtype), networks->widths.c4,
                 networks->encoder.ParameterCount() + networks->decoder.ParameterCount()};
  try {
    ConvNet encoder = networks->encoder.To(tensor_options, memory_format, padding, options.fuse_relu);
    ConvNet decoder = networks->decoder.To(tensor_options, memory_format, padding, options.fuse_relu);
    context->set_use_graphs(options.cuda_graphs);
    return std::unique_ptr<AdainModel>(new AdainModel(std::move(networks), std::move(context), std::move(encoder),
                                                      std::move(decoder), tensor_options, memory_format,
                                                      std::move(info)));
  } catch (const std::exception& e) {
    return TorchError("moving the weights to the device", e);
  }
}

absl::Status AdainModel::RunOnDevice(const char* what, const std::function<void()>& fn) {
  try {
    c10::InferenceMode guard;
    device_->WithStream(fn);
    return absl::OkStatus();
  } catch (const std::exception& e) {
    absl::Status status = TorchError(what, e);
    if (absl::IsResourceExhausted(status)) device_->ReleaseCachedMemory();
    return status;
  }
}

absl::StatusOr<StyleStats> AdainModel::EncodeStyle(const at::Tensor& style) {
  if (style.dim() != 4 || style.size(0) != 1 || style.size(1) != 3) {
    return absl::InvalidArgumentError("a style image must be one 3-channel image");
  }
  StyleStats stats;
  RETURN_IF_ERROR(RunOnDevice("encoding the style", [&] {
    const at::Tensor input = PadToMinimumSide(device_->ToDevice(style, options_, memory_format_));
    auto [mean, std] = MeanStd(encoder_.Forward(input));
    stats = StyleStats{device_->ToHost(mean[0]), device_->ToHost(std[0])};
  }));
  return stats;
}

absl::StatusOr<at::Tensor> AdainModel::Stylize(const at::Tensor& contents, const at::Tensor& style_mean,
                                               const at::Tensor& style_std, const at::Tensor& alpha) {
  if (contents.dim() != 4 || contents.size(1) != 3) {
    return absl::InvalidArgumentError("content images must be a [N,3,H,W] batch");
  }
  const int64_t n = contents.size(0);
  const int64_t c = info_.feature_channels;
  if (style_mean.sizes() != at::IntArrayRef({n, c}) || style_std.sizes() != at::IntArrayRef({n, c}) ||
      alpha.sizes() != at::IntArrayRef({n})) {
    return absl::InvalidArgumentError("style statistics or alpha do not match the batch");
  }
  at::Tensor result;
  RETURN_IF_ERROR(RunOnDevice("stylizing", [&] {
    const at::Device device = options_.device();
    const at::Tensor out = device_->RunGraphed(
        {device_->ToDevice(contents, options_, memory_format_), style_mean.to(device), style_std.to(device),
         alpha.to(device)},
        [this](const std::vector<at::Tensor>& in) { return Forward(in[0], in[1], in[2], in[3]); });
    result = device_->ToHost(out);
  }));
  return result;
}

at::Tensor AdainModel::Forward(const at::Tensor& contents, const at::Tensor& style_mean, const at::Tensor& style_std,
                               const at::Tensor& alpha) const {
  const int64_t height = contents.size(2);
  const int64_t width = contents.size(3);
  const at::Tensor features = encoder_.Forward(PadToMinimumSide(contents));
  const at::Tensor target = AdaIn(features, style_mean, style_std, alpha);
  // The decoder returns sides rounded up to a multiple of 8; crop back to the input size.
  return decoder_.Forward(target).narrow(2, 0, height).narrow(3, 0, width).clamp(0, 1);
}

}  // namespace style
