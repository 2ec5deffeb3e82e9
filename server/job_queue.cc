#include "server/job_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace style {

JobQueue::JobQueue(size_t capacity) : capacity_(capacity) {}

absl::Status JobQueue::Push(std::unique_ptr<Job>& job) {
  absl::MutexLock lock(&mu_);
  if (closed_) return absl::UnavailableError("the server is shutting down and accepts no new work");
  if (queue_.size() >= capacity_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the job queue is full (", capacity_, " jobs waiting); retry later"));
  }
  job->enqueued = absl::Now();
  queue_.push_back(std::move(job));
  return absl::OkStatus();
}

bool JobQueue::SameBatch(const Job& a, const Job& b) {
  return a.kind == b.kind && a.kind == Job::Kind::kStylize && a.input.sizes() == b.input.sizes();
}

std::vector<size_t> JobQueue::Compatible(int max_batch) const {
  std::vector<size_t> picked = {0};
  for (size_t i = 1; i < queue_.size() && static_cast<int>(picked.size()) < max_batch; ++i) {
    if (SameBatch(*queue_.front(), *queue_[i])) picked.push_back(i);
  }
  return picked;
}

std::vector<std::unique_ptr<Job>> JobQueue::PopBatch(int max_batch, absl::Duration batch_timeout) {
  absl::MutexLock lock(&mu_);
  struct Seen {
    JobQueue* queue;
    size_t size;
  };
  for (;;) {
    mu_.Await(absl::Condition(
        +[](JobQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) { return q->closed_ || !q->queue_.empty(); }, this));
    if (queue_.empty()) return {};  // closed and drained
    if (closed_ || max_batch <= 1 || queue_.front()->kind != Job::Kind::kStylize) break;
    if (static_cast<int>(Compatible(max_batch).size()) >= max_batch) break;
    // Wait for the batch to fill, but no longer than batch_timeout after the oldest arrival.
    const absl::Time give_up = queue_.front()->enqueued + batch_timeout;
    if (absl::Now() >= give_up) break;
    Seen seen{this, queue_.size()};
    mu_.AwaitWithDeadline(absl::Condition(
                              +[](Seen* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->queue->mu_) {
                                return s->queue->closed_ || s->queue->queue_.size() != s->size;
                              },
                              &seen),
                          give_up);
  }
  std::vector<size_t> picked = Compatible(max_batch);
  // Batches come in powers of two only, so that a GPU worker meets few shapes: each is
  // autotuned and captured as a CUDA graph at warm-up instead of stalling a live request.
  size_t size = 1;
  while (size * 2 <= picked.size()) size *= 2;
  picked.resize(size);
  std::vector<std::unique_ptr<Job>> batch;
  batch.reserve(picked.size());
  for (size_t i : picked) batch.push_back(std::move(queue_[i]));
  // Erase from the back so that earlier indices stay valid.
  for (auto it = picked.rbegin(); it != picked.rend(); ++it) queue_.erase(queue_.begin() + static_cast<long>(*it));
  return batch;
}

void JobQueue::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

size_t JobQueue::size() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

}  // namespace style
