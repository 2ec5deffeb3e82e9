// The bounded job queue between the service and the workers, with shape-keyed batching.
//
// Push never blocks: a full queue answers RESOURCE_EXHAUSTED and the job stays with the caller.
// Workers call PopBatch, which hands out the oldest job together with up to max_batch - 1
// younger jobs of the same kind and input shape (other jobs keep their places), waiting at most
// `batch_timeout` after the oldest job's arrival for a batch to fill. Batch sizes are powers of
// two (13 ready jobs leave as 8, then 4, then 1), so a worker sees at most log2(max) + 1 batch
// shapes per image size, all of which warm-up can prepare. Thread-safe.
#ifndef STYLE_SERVER_JOB_QUEUE_H_
#define STYLE_SERVER_JOB_QUEUE_H_

#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/job.h"

namespace style {

class JobQueue {
 public:
  explicit JobQueue(size_t capacity);

  // Takes `job` (setting job->enqueued) unless the queue is full (RESOURCE_EXHAUSTED) or closed
  // (UNAVAILABLE); on error `job` is left untouched.
  absl::Status Push(std::unique_ptr<Job>& job);

  // Blocks until at least one job is queued, then returns a batch as described above. Returns
  // an empty vector once the queue is closed and empty.
  std::vector<std::unique_ptr<Job>> PopBatch(int max_batch, absl::Duration batch_timeout);

  // Refuses further pushes and wakes waiting workers; queued jobs are still handed out.
  void Close();

  size_t size() const;
  size_t capacity() const { return capacity_; }

 private:
  static bool SameBatch(const Job& a, const Job& b);
  // Indices of queue_ entries that can join a batch led by queue_.front(), the front included.
  std::vector<size_t> Compatible(int max_batch) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t capacity_;
  mutable absl::Mutex mu_;
  std::deque<std::unique_ptr<Job>> queue_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace style

#endif  // STYLE_SERVER_JOB_QUEUE_H_
