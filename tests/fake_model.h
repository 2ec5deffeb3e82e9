// A StyleModel test double: instant, deterministic, and able to fail, stall or run out of
// memory on command, for tests that are about the queue, the service or the server rather
// than the network.
//
// Its "stylization" fills each output pixel with the sample's target mean of the first three
// channels blended with the input by alpha, so tests can tell which style and alpha a result
// was computed with.
#ifndef STYLE_TESTS_FAKE_MODEL_H_
#define STYLE_TESTS_FAKE_MODEL_H_

#include <atomic>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/scheduler.h"
#include "server/style_model.h"

namespace style::testing {

// Shared by every FakeModel a factory makes, so a test can steer and observe all workers.
struct FakeModelControl {
  static constexpr int64_t kChannels = 8;
  std::atomic<int> stylize_calls{0};
  std::atomic<int> encode_calls{0};
  std::atomic<int> images{0};
  std::atomic<int> largest_batch{0};
  // Behaviour of the next calls.
  std::atomic<int> fail_next{0};          // this many calls return INTERNAL
  std::atomic<int> throw_next{0};         // this many calls throw (a model bug)
  std::atomic<int> oom_above_batch{-1};   // batches larger than this get RESOURCE_EXHAUSTED (-1: never)
  std::atomic<int64_t> delay_micros{0};   // each call sleeps this long
  // When set, every call blocks until it is notified (a stalled device).
  std::shared_ptr<absl::Notification> gate;
};

class FakeModel : public StyleModel {
 public:
  explicit FakeModel(std::shared_ptr<FakeModelControl> control) : control_(std::move(control)) {
    info_ = {"fake", "cpu", "float32", FakeModelControl::kChannels, 0};
  }

  absl::StatusOr<StyleStats> EncodeStyle(const at::Tensor& style) override {
    ++control_->encode_calls;
    if (absl::Status s = Behave(1); !s.ok()) return s;
    // Statistics from the image's colour means, so different styles differ.
    at::Tensor m = style.mean({0, 2, 3});
    at::Tensor mean = at::cat({m, m, m}).narrow(0, 0, FakeModelControl::kChannels).contiguous();
    return StyleStats{mean, at::ones({FakeModelControl::kChannels})};
  }

  absl::StatusOr<at::Tensor> Stylize(const at::Tensor& contents, const at::Tensor& style_mean,
                                     const at::Tensor& style_std, const at::Tensor& alpha) override {
    ++control_->stylize_calls;
    const int n = static_cast<int>(contents.size(0));
    int seen = control_->largest_batch.load();
    while (n > seen && !control_->largest_batch.compare_exchange_weak(seen, n)) {
    }
    if (absl::Status s = Behave(n); !s.ok()) return s;
    control_->images += n;
    at::Tensor target = style_mean.narrow(1, 0, 3).view({n, 3, 1, 1}).clamp(0, 1);
    at::Tensor a = alpha.view({n, 1, 1, 1});
    return (a * target.expand_as(contents) + (1 - a) * contents).contiguous();
  }

  const ModelInfo& info() const override { return info_; }

 private:
  absl::Status Behave(int batch) {
    if (control_->gate) control_->gate->WaitForNotification();
    if (int64_t d = control_->delay_micros.load(); d > 0) absl::SleepFor(absl::Microseconds(d));
    if (control_->fail_next.fetch_sub(1) > 0) return absl::InternalError("injected failure");
    if (control_->throw_next.fetch_sub(1) > 0) throw std::runtime_error("injected exception");
    const int oom = control_->oom_above_batch.load();
    if (oom >= 0 && batch > oom) return absl::ResourceExhaustedError("stylizing: out of device memory");
    return absl::OkStatus();
  }

  std::shared_ptr<FakeModelControl> control_;
  ModelInfo info_;
};

inline ModelFactory FakeModelFactory(std::shared_ptr<FakeModelControl> control) {
  return [control](int) -> absl::StatusOr<std::unique_ptr<StyleModel>> {
    return std::unique_ptr<StyleModel>(new FakeModel(control));
  };
}

}  // namespace style::testing

#endif  // STYLE_TESTS_FAKE_MODEL_H_
