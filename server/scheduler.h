// The worker pool: a bounded JobQueue feeding workers that each own a StyleModel.
//
// Each worker takes a batch of same-shaped jobs (JobQueue::PopBatch), skips jobs whose deadline
// has passed or whose caller cancelled, encodes any style images, mixes the styles'
// statistics by weight, runs the model once for the whole batch and reports each job's result
// through Job::done. A batch that runs out of device memory is split in halves and retried;
// a single job that still does not fit gets RESOURCE_EXHAUSTED. Workers per device and batching
// are settings; the service above sees only Submit.
#ifndef STYLE_SERVER_SCHEDULER_H_
#define STYLE_SERVER_SCHEDULER_H_

#include <functional>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/job_queue.h"
#include "server/metrics.h"
#include "server/style_model.h"

namespace style {

struct SchedulerOptions {
  int num_workers = 1;
  size_t max_queue_size = 64;  // jobs waiting; beyond that Submit answers RESOURCE_EXHAUSTED
  int max_batch_size = 1;      // jobs per model call
  absl::Duration batch_timeout = absl::ZeroDuration();  // how long a batch may wait to fill
  // Shapes (height, width) each worker runs, at every batch size it can meet (powers of two up
  // to max_batch_size), twice, before Create returns: so that real requests of these shapes
  // find the model loaded, allocated, autotuned and (on a GPU) captured as CUDA graphs.
  std::vector<std::pair<int, int>> warmup_shapes = {{64, 64}};
};

// Makes the model of worker `index` (0-based). Called once per worker from Create.
using ModelFactory = std::function<absl::StatusOr<std::unique_ptr<StyleModel>>(int index)>;

class Scheduler {
 public:
  // Creates the models, warms them up and starts the workers. Returns the first error of a
  // factory or a warm-up. `metrics` may be null; it must outlive the scheduler.
  static absl::StatusOr<std::unique_ptr<Scheduler>> Create(const SchedulerOptions& options,
                                                           const ModelFactory& factory, Metrics* metrics);
  // Shuts down (see Shutdown).
  ~Scheduler();

  // Queues `job` (see JobQueue::Push for the errors; `job` stays with the caller on error).
  absl::Status Submit(std::unique_ptr<Job>& job);

  // Stops accepting jobs, lets the workers finish every queued job, and joins them.
  void Shutdown();

  size_t queue_depth() const { return queue_.size(); }
  const ModelInfo& model_info() const { return models_.front()->info(); }

 private:
  Scheduler(const SchedulerOptions& options, Metrics* metrics);
  void WorkerLoop(StyleModel* model);
  void RunBatch(StyleModel* model, std::vector<std::unique_ptr<Job>> batch);
  void RunEncodeStyle(StyleModel* model, std::unique_ptr<Job> job);
  // Runs the model on jobs whose statistics are resolved; splits on out-of-memory.
  void RunStylize(StyleModel* model, std::vector<std::unique_ptr<Job>> jobs, std::vector<StyleStats> targets);

  const SchedulerOptions options_;
  Metrics* const metrics_;
  JobQueue queue_;
  std::vector<std::unique_ptr<StyleModel>> models_;  // one per worker, used only by its worker
  std::vector<std::thread> workers_;
};

}  // namespace style

#endif  // STYLE_SERVER_SCHEDULER_H_
