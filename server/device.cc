#include "server/device.h"

#include <cstdio>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

#ifdef STYLE_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <ATen/cuda/CUDAGraph.h>
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
  at::Tensor RunGraphed(const std::vector<at::Tensor>& inputs, const Forward& forward) override {
    return forward(inputs);
  }
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
  at::Tensor RunGraphed(const std::vector<at::Tensor>& inputs, const Forward& forward) override {
    if (!use_graphs_) {
      std::shared_lock<std::shared_mutex> shared(CaptureMutex());
      return forward(inputs);
    }
    std::vector<std::vector<int64_t>> key;
    for (const at::Tensor& t : inputs) key.emplace_back(t.sizes().vec());
    auto it = graphs_.find(key);
    if (it == graphs_.end()) {
      // The first call of a shape runs eagerly (cuDNN autotunes then); the second captures.
      if (seen_.insert(key).second || graphs_.size() >= kMaxGraphs) {
        std::shared_lock<std::shared_mutex> shared(CaptureMutex());
        return forward(inputs);
      }
      it = Capture(key, inputs, forward);
      if (it == graphs_.end()) {
        std::shared_lock<std::shared_mutex> shared(CaptureMutex());
        return forward(inputs);
      }
    }
    std::shared_lock<std::shared_mutex> shared(CaptureMutex());
    GraphEntry& entry = *it->second;
    for (size_t i = 0; i < inputs.size(); ++i) entry.inputs[i].copy_(inputs[i], /*non_blocking=*/true);
    entry.graph.replay();
    return entry.output;
  }
  void Synchronize() override { stream_.synchronize(); }
  void ReleaseCachedMemory() override {
    graphs_.clear();  // their memory pools are the largest cached blocks
    c10::cuda::CUDACachingAllocator::emptyCache();
  }

 private:
  struct GraphEntry;
  using GraphMap = std::map<std::vector<std::vector<int64_t>>, std::unique_ptr<GraphEntry>>;

  // Other workers' CUDA work during a capture (their cuDNN autotuning, allocations) breaks it,
  // so work on a device holds this shared, and a capture holds it alone. Captures are rare:
  // one per batch shape per worker.
  static std::shared_mutex& CaptureMutex() {
    static std::shared_mutex mutex;
    return mutex;
  }

  // Captures `forward` for `key`; on failure turns graphs off for this worker (everything keeps
  // working eagerly) and returns graphs_.end().
  GraphMap::iterator Capture(const std::vector<std::vector<int64_t>>& key, const std::vector<at::Tensor>& inputs,
                             const Forward& forward) {
    std::unique_lock<std::shared_mutex> exclusive(CaptureMutex());
    auto entry = std::make_unique<GraphEntry>();
    for (const at::Tensor& t : inputs) entry->inputs.push_back(t.clone());
    try {
      // One eager run on the static buffers first: cuDNN's plan cache must hold every plan the
      // capture needs, since searching for one inside a capture fails.
      (void)forward(entry->inputs);
      c10::cuda::device_synchronize();
      entry->graph.capture_begin(pool_, cudaStreamCaptureModeThreadLocal);
      try {
        entry->output = forward(entry->inputs);
      } catch (...) {
        try {
          entry->graph.capture_end();
        } catch (...) {
        }
        throw;
      }
      entry->graph.capture_end();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "CUDA graph capture failed on %s; running eagerly from now on: %s\n",
                   device_.str().c_str(), e.what());
      use_graphs_ = false;
      (void)cudaGetLastError();  // clear the sticky capture error
      return graphs_.end();
    }
    return graphs_.emplace(key, std::move(entry)).first;
  }

  struct GraphEntry {
    at::cuda::CUDAGraph graph;
    std::vector<at::Tensor> inputs;  // static: each replay reads these
    at::Tensor output;               // static: each replay writes this
  };
  // Each graph holds its activations; past this many shapes, new shapes run eagerly.
  static constexpr size_t kMaxGraphs = 48;

  c10::cuda::CUDAStream stream_;
  // One memory pool shared by this worker's graphs: they never run at the same time.
  decltype(at::cuda::graph_pool_handle()) pool_ = at::cuda::graph_pool_handle();
  GraphMap graphs_;
  std::set<std::vector<std::vector<int64_t>>> seen_;
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
