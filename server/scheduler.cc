#include "server/scheduler.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/status_util.h"

namespace style {
namespace {

// Counts a worker as busy for its lifetime.
class BusyScope {
 public:
  explicit BusyScope(Metrics* metrics) : metrics_(metrics) {
    if (metrics_) metrics_->busy_workers().Increment();
  }
  ~BusyScope() {
    if (metrics_) metrics_->busy_workers().Decrement();
  }

 private:
  Metrics* metrics_;
};

void Finish(std::unique_ptr<Job> job, JobResult result) { job->done(std::move(result)); }

void Fail(std::unique_ptr<Job> job, absl::Status status, absl::Duration queued) {
  JobResult result;
  result.status = std::move(status);
  result.queued = queued;
  Finish(std::move(job), std::move(result));
}

// A model is not supposed to throw (StyleModel returns Status), but a bug there must cost one
// batch, not the worker thread.
template <typename T, typename Call>
absl::StatusOr<T> Guarded(Call call) {
  try {
    return call();
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("the model failed: ", e.what()));
  } catch (...) {
    return absl::InternalError("the model failed with an unknown exception");
  }
}

// Mixes the styles' statistics by weight (see AdaIn in adain.h for why this is exact).
StyleStats MixStyles(const std::vector<StyleInput>& styles, const std::vector<StyleStats>& stats) {
  at::Tensor mean = stats[0].mean * styles[0].weight;
  at::Tensor std = stats[0].std * styles[0].weight;
  for (size_t i = 1; i < styles.size(); ++i) {
    mean = mean + stats[i].mean * styles[i].weight;
    std = std + stats[i].std * styles[i].weight;
  }
  return {mean, std};
}

}  // namespace

Scheduler::Scheduler(const SchedulerOptions& options, Metrics* metrics)
    : options_(options), metrics_(metrics), queue_(options.max_queue_size) {}

absl::StatusOr<std::unique_ptr<Scheduler>> Scheduler::Create(const SchedulerOptions& options,
                                                             const ModelFactory& factory, Metrics* metrics) {
  if (options.num_workers < 1 || options.max_batch_size < 1 || options.max_queue_size < 1) {
    return absl::InvalidArgumentError("workers, batch size and queue size must each be at least 1");
  }
  std::unique_ptr<Scheduler> scheduler(new Scheduler(options, metrics));
  for (int i = 0; i < options.num_workers; ++i) {
    ASSIGN_OR_RETURN(std::unique_ptr<StyleModel> model, factory(i));
    for (const auto& [height, width] : options.warmup_shapes) {
      const at::Tensor image = at::full({1, 3, height, width}, 0.5f);
      ASSIGN_OR_RETURN(StyleStats stats, model->EncodeStyle(image));
      for (int64_t n = 1; n <= options.max_batch_size; n *= 2) {
        for (int round = 0; round < 2; ++round) {  // the first autotunes, the second captures
          auto out = model->Stylize(image.expand({n, 3, height, width}).contiguous(),
                                    stats.mean.unsqueeze(0).expand({n, -1}).contiguous(),
                                    stats.std.unsqueeze(0).expand({n, -1}).contiguous(), at::ones({n}));
          if (!out.ok()) {
            return absl::Status(out.status().code(), absl::StrCat("warm-up at ", width, "x", height, ", batch ", n,
                                                                  ": ", out.status().message()));
          }
        }
      }
    }
    scheduler->models_.push_back(std::move(model));
  }
  if (metrics != nullptr) metrics->SetModelInfo(scheduler->model_info());
  for (auto& model : scheduler->models_) {
    scheduler->workers_.emplace_back([s = scheduler.get(), m = model.get()] { s->WorkerLoop(m); });
  }
  return scheduler;
}

Scheduler::~Scheduler() { Shutdown(); }

absl::Status Scheduler::Submit(std::unique_ptr<Job>& job) {
  absl::Status status = queue_.Push(job);
  if (status.ok() && metrics_) metrics_->queue_depth().Set(static_cast<double>(queue_.size()));
  return status;
}

void Scheduler::Shutdown() {
  queue_.Close();
  for (std::thread& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
}

void Scheduler::WorkerLoop(StyleModel* model) {
  for (;;) {
    std::vector<std::unique_ptr<Job>> batch = queue_.PopBatch(options_.max_batch_size, options_.batch_timeout);
    if (batch.empty()) return;  // closed and drained
    if (metrics_) metrics_->queue_depth().Set(static_cast<double>(queue_.size()));
    BusyScope busy(metrics_);
    RunBatch(model, std::move(batch));
  }
}

void Scheduler::RunBatch(StyleModel* model, std::vector<std::unique_ptr<Job>> batch) {
  const absl::Time now = absl::Now();
  std::vector<std::unique_ptr<Job>> live;
  for (auto& job : batch) {
    job->dequeued = now;
    const absl::Duration queued = now - job->enqueued;
    if (metrics_) metrics_->ObserveQueueWait(absl::ToDoubleSeconds(queued));
    if (job->is_cancelled && job->is_cancelled()) {
      Fail(std::move(job), absl::CancelledError("the call was cancelled before it was computed"), queued);
    } else if (now >= job->deadline) {
      Fail(std::move(job), absl::DeadlineExceededError("the deadline passed while the request was queued"), queued);
    } else if (job->kind == Job::Kind::kEncodeStyle) {
      RunEncodeStyle(model, std::move(job));
    } else {
      live.push_back(std::move(job));
    }
  }
  if (live.empty()) return;

  // Resolve each job's target statistics: registered styles as they are, images encoded now.
  std::vector<std::unique_ptr<Job>> ready;
  std::vector<StyleStats> targets;
  for (auto& job : live) {
    const absl::Time start = absl::Now();
    std::vector<StyleStats> stats;
    absl::Status status;
    for (const StyleInput& style : job->styles) {
      if (style.stats) {
        stats.push_back(*style.stats);
        continue;
      }
      auto encoded = Guarded<StyleStats>([&] { return model->EncodeStyle(style.image); });
      if (!encoded.ok()) {
        status = encoded.status();
        break;
      }
      stats.push_back(*std::move(encoded));
    }
    job->style_encoding = absl::Now() - start;
    if (!status.ok()) {
      // Read before `job` is moved into Fail's parameter: argument order is unspecified.
      const absl::Duration queued = now - job->enqueued;
      Fail(std::move(job), status, queued);
      continue;
    }
    targets.push_back(MixStyles(job->styles, stats));
    ready.push_back(std::move(job));
  }
  if (!ready.empty()) RunStylize(model, std::move(ready), std::move(targets));
}

void Scheduler::RunEncodeStyle(StyleModel* model, std::unique_ptr<Job> job) {
  const absl::Time start = absl::Now();
  auto stats = Guarded<StyleStats>([&] { return model->EncodeStyle(job->input); });
  JobResult result;
  result.queued = job->dequeued - job->enqueued;
  result.compute = absl::Now() - start;
  result.batch_size = 1;
  if (metrics_) metrics_->ObserveInference(absl::ToDoubleSeconds(result.compute));
  if (stats.ok()) {
    result.stats = *std::move(stats);
  } else {
    result.status = stats.status();
  }
  Finish(std::move(job), std::move(result));
}

void Scheduler::RunStylize(StyleModel* model, std::vector<std::unique_ptr<Job>> jobs,
                           std::vector<StyleStats> targets) {
  const int64_t n = static_cast<int64_t>(jobs.size());
  std::vector<at::Tensor> inputs, means, stds;
  std::vector<float> alphas;
  for (int64_t i = 0; i < n; ++i) {
    inputs.push_back(jobs[i]->input);
    means.push_back(targets[i].mean);
    stds.push_back(targets[i].std);
    alphas.push_back(jobs[i]->alpha);
  }
  const absl::Time start = absl::Now();
  auto out = Guarded<at::Tensor>([&] {
    return model->Stylize(n == 1 ? inputs[0] : at::cat(inputs), at::stack(means), at::stack(stds), at::tensor(alphas));
  });
  const absl::Duration compute = absl::Now() - start;
  if (metrics_) metrics_->ObserveInference(absl::ToDoubleSeconds(compute));

  if (!out.ok() && out.status().code() == absl::StatusCode::kResourceExhausted && n > 1) {
    // Out of device memory: retry each half on its own.
    const int64_t half = n / 2;
    std::vector<std::unique_ptr<Job>> second(std::make_move_iterator(jobs.begin() + half),
                                             std::make_move_iterator(jobs.end()));
    std::vector<StyleStats> second_targets(targets.begin() + half, targets.end());
    jobs.resize(half);
    targets.resize(half);
    RunStylize(model, std::move(jobs), std::move(targets));
    RunStylize(model, std::move(second), std::move(second_targets));
    return;
  }
  if (metrics_ && out.ok()) metrics_->ObserveBatch(static_cast<int>(n));
  for (int64_t i = 0; i < n; ++i) {
    JobResult result;
    result.queued = jobs[i]->dequeued - jobs[i]->enqueued;
    result.compute = compute + jobs[i]->style_encoding;
    result.batch_size = static_cast<int>(n);
    if (out.ok()) {
      result.image = (*out)[i];
    } else {
      result.status = out.status();
    }
    Finish(std::move(jobs[i]), std::move(result));
  }
}

}  // namespace style
