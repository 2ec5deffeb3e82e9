// What a worker needs from its device beyond ATen's own operations: a CUDA stream of its own,
// pinned staging memory for asynchronous copies, and releasing cached memory after running out.
// The CUDA parts are compiled only in the GPU build (STYLE_CUDA); on the CPU every call is a
// plain copy or a no-op. Owned by one worker; not thread-safe.
#ifndef STYLE_SERVER_DEVICE_H_
#define STYLE_SERVER_DEVICE_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/statusor.h"

namespace style {

class DeviceContext {
 public:
  // INVALID_ARGUMENT when `device` is not usable (no CUDA in this build, index out of range).
  static absl::StatusOr<std::unique_ptr<DeviceContext>> Create(const at::Device& device);
  virtual ~DeviceContext() = default;

  const at::Device& device() const { return device_; }

  // Runs `fn` with this context's stream current (on the CPU: just runs it).
  virtual void WithStream(const std::function<void()>& fn) = 0;
  // Host -> device through pinned memory, asynchronous on this context's stream.
  virtual at::Tensor ToDevice(const at::Tensor& host, const at::TensorOptions& options,
                              at::MemoryFormat memory_format) = 0;
  // Device -> host float32; returns once the copy is done.
  virtual at::Tensor ToHost(const at::Tensor& tensor) = 0;
  // Runs `forward(inputs)`; on CUDA with graphs enabled, from the second call with the same
  // input shapes on, by replaying a CUDA graph captured from it (one launch instead of
  // hundreds: what makes small batches fast). The result of a replay lives in the graph's
  // static memory: consume it (ToHost) before the next call. `forward` must not synchronize.
  using Forward = std::function<at::Tensor(const std::vector<at::Tensor>&)>;
  virtual at::Tensor RunGraphed(const std::vector<at::Tensor>& inputs, const Forward& forward) = 0;
  // Graphs on or off (default off; used only on CUDA).
  void set_use_graphs(bool on) { use_graphs_ = on; }

  // Waits for the work queued on this context's stream (benchmarks).
  virtual void Synchronize() = 0;
  // After an out-of-memory error: frees the allocator's cached blocks so that a smaller retry
  // can succeed.
  virtual void ReleaseCachedMemory() = 0;

 protected:
  explicit DeviceContext(const at::Device& device) : device_(device) {}
  at::Device device_;
  bool use_graphs_ = false;
};

// Parses a --device value into devices: "cpu", "cuda:N", a comma-separated list, or "cuda"
// for every visible GPU. INVALID_ARGUMENT for unknown names, or CUDA without GPUs.
absl::StatusOr<std::vector<at::Device>> ParseDevices(const std::string& spec);

// Process-wide CUDA settings for serving: cuDNN autotuning on, TF32 allowed. No-op without CUDA.
void ConfigureCudaForInference();

}  // namespace style

#endif  // STYLE_SERVER_DEVICE_H_
