// A fixed pool of threads running queued closures in order of arrival: the image codec's
// threads, so that decoding and encoding spread over the cores and never run on gRPC's
// threads or the model workers. Thread-safe.
#ifndef STYLE_SERVER_THREAD_POOL_H_
#define STYLE_SERVER_THREAD_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace style {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  // Runs every closure already scheduled, then joins the threads.
  ~ThreadPool();

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  void Schedule(std::function<void()> task);
  size_t pending() const;

 private:
  void Run();

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace style

#endif  // STYLE_SERVER_THREAD_POOL_H_
