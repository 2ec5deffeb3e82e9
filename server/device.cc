#include "server/device.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#ifdef STYLE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace style {
namespace {

class CpuContext : public DeviceContext {
 public:
  CpuContext() : DeviceContext(at::Device(at::kCPU)) {}
  void WithStream(const std::function<void()>& fn) override { fn(); }
  at::Tensor ToDevice(const at::Tensor& host, const at::TensorOptions& options,
                      at::MemoryFormat memory_format) override {
    return host.to(options).contiguous(memory_format);
  }
  at::Tensor ToHost(const at::Tensor& tensor) override { return tensor.to(at::kFloat).contiguous(); }
  void Synchronize() override {}
  void ReleaseCachedMemory() override {}
};

#ifdef STYLE_CUDA
class CudaContext : public DeviceContext {
 public:
  explicit CudaContext(const at::Device& device)
      : DeviceContext(device), stream_(c10::cuda::getStreamFromPool(/*isHighPriority=*/false, device.index())) {}

  void WithStream(const std::function<void()>& fn) override {
    c10::cuda::CUDAStreamGuard guard(stream_);
    fn();
  }
  at::Tensor ToDevice(const at::Tensor& host, const at::TensorOptions& options,
                      at::MemoryFormat memory_format) override {
    // The caching host allocator recycles pinned blocks, so staging costs one host memcpy.
    at::Tensor pinned = at::empty(host.sizes(), host.options().pinned_memory(true));
    pinned.copy_(host);
    return pinned.to(device_, /*non_blocking=*/true).to(options).contiguous(memory_format);
  }
  at::Tensor ToHost(const at::Tensor& tensor) override {
    at::Tensor f32 = tensor.to(at::kFloat).contiguous();
    at::Tensor pinned = at::empty(f32.sizes(), f32.options().device(at::kCPU).pinned_memory(true));
    pinned.copy_(f32, /*non_blocking=*/true);
    stream_.synchronize();
    return pinned;
  }
  void Synchronize() override { stream_.synchronize(); }
  void ReleaseCachedMemory() override { c10::cuda::CUDACachingAllocator::emptyCache(); }

 private:
  c10::cuda::CUDAStream stream_;
};
#endif

int CudaDeviceCount() {
#ifdef STYLE_CUDA
  return static_cast<int>(c10::cuda::device_count());
#else
  return 0;
#endif
}

}  // namespace

absl::StatusOr<std::unique_ptr<DeviceContext>> DeviceContext::Create(const at::Device& device) {
  if (device.is_cpu()) return std::unique_ptr<DeviceContext>(new CpuContext());
  if (!device.is_cuda()) return absl::InvalidArgumentError(absl::StrCat("unsupported device ", device.str()));
  const int count = CudaDeviceCount();
  if (count == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("device ", device.str(), " asked for, but this build has no CUDA or no GPU is visible"));
  }
  if (device.index() >= count) {
    return absl::InvalidArgumentError(absl::StrCat("device ", device.str(), " asked for, but only ", count,
                                                   " GPU(s) are visible"));
  }
#ifdef STYLE_CUDA
  return std::unique_ptr<DeviceContext>(new CudaContext(device.has_index() ? device : at::Device(at::kCUDA, 0)));
#else
  return absl::InternalError("unreachable");
#endif
}

absl::StatusOr<std::vector<at::Device>> ParseDevices(const std::string& spec) {
  std::vector<at::Device> devices;
  for (absl::string_view item : absl::StrSplit(spec, ',', absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    if (item == "cuda") {
      const int count = CudaDeviceCount();
      if (count == 0) return absl::InvalidArgumentError("--device=cuda, but this build has no CUDA or no GPU is visible");
      for (int i = 0; i < count; ++i) devices.emplace_back(at::kCUDA, static_cast<c10::DeviceIndex>(i));
      continue;
    }
    try {
      devices.emplace_back(std::string(item));
    } catch (const std::exception&) {
      return absl::InvalidArgumentError(absl::StrCat("unknown device \"", item, "\"; use cpu, cuda or cuda:N"));
    }
  }
  if (devices.empty()) return absl::InvalidArgumentError("no device given");
  return devices;
}

void ConfigureCudaForInference() {
#ifdef STYLE_CUDA
  at::globalContext().setBenchmarkCuDNN(true);
  at::globalContext().setAllowTF32CuDNN(true);
  at::globalContext().setAllowTF32CuBLAS(true);
#endif
}

}  // namespace style
