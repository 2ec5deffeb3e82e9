// A unit of model work travelling from the service, through the queue, to a worker.
#ifndef STYLE_SERVER_JOB_H_
#define STYLE_SERVER_JOB_H_

#include <functional>
#include <memory>
#include <vector>

#include <ATen/ATen.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/style_model.h"

namespace style {

// One style of a request: registered statistics, or an image the worker encodes first.
struct StyleInput {
  std::shared_ptr<const StyleStats> stats;  // set for a registered style
  at::Tensor image;                         // [1,3,H,W] float in [0,1] otherwise
  double weight = 1.0;                      // normalised by the service to sum to 1
};

// What a worker reports back. `image` ([3,H,W] float, CPU) for kStylize, `stats` for
// kEncodeStyle; both empty unless `status` is OK.
struct JobResult {
  absl::Status status;
  at::Tensor image;
  StyleStats stats;
  absl::Duration queued;   // from Push to the worker picking the job up
  absl::Duration compute;  // model time, style encoding included
  int batch_size = 0;      // how many jobs shared the model call
};

struct Job {
  enum class Kind { kStylize, kEncodeStyle };
  Kind kind = Kind::kStylize;
  at::Tensor input;  // [1,3,H,W] float in [0,1], CPU: the content (kStylize) or the style image
  std::vector<StyleInput> styles;  // kStylize only, at least one
  float alpha = 1.0f;              // kStylize only
  // Work for a job past its deadline, or whose caller has gone, is skipped.
  absl::Time deadline = absl::InfiniteFuture();
  std::function<bool()> is_cancelled;  // may be empty; must be thread-safe
  // Called exactly once, on a worker thread (or by JobQueue's owner when the job is dropped
  // at shutdown). Must not block for long: hand heavy work (encoding) to another thread.
  std::function<void(JobResult)> done;

  absl::Time enqueued;                 // set by JobQueue::Push
  absl::Time dequeued;                 // set by the worker that picks the job up
  absl::Duration style_encoding;       // set by the worker: time spent encoding style images
};

}  // namespace style

#endif  // STYLE_SERVER_JOB_H_
