// The job queue and the worker pool, with a fake model.
#include "server/scheduler.h"

#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/synchronization/notification.h"
#include "tests/fake_model.h"

namespace style {
namespace {

using ::testing::HasSubstr;
using testing::FakeModelControl;

std::unique_ptr<Job> MakeJob(int height, int width, float alpha = 1.0f, Job::Kind kind = Job::Kind::kStylize) {
  auto job = std::make_unique<Job>();
  job->kind = kind;
  job->input = at::full({1, 3, height, width}, 0.25f);
  job->alpha = alpha;
  job->styles.push_back({std::make_shared<const StyleStats>(StyleStats{at::full({8}, 0.75f), at::ones({8})}),
                         at::Tensor(), 1.0});
  return job;
}

// Collects a job's result; Wait() blocks until it arrives.
struct ResultSlot {
  absl::Notification ready;
  JobResult result;
  void Attach(Job& job) {
    job.done = [this](JobResult r) {
      result = std::move(r);
      ready.Notify();
    };
  }
  const JobResult& Wait() {
    EXPECT_TRUE(ready.WaitForNotificationWithTimeout(absl::Seconds(10)));
    return result;
  }
};

TEST(JobQueueTest, FullQueueRefusesAndLeavesTheJobWithTheCaller) {
  JobQueue queue(2);
  auto a = MakeJob(8, 8), b = MakeJob(8, 8), c = MakeJob(8, 8);
  EXPECT_TRUE(queue.Push(a).ok());
  EXPECT_TRUE(queue.Push(b).ok());
  absl::Status full = queue.Push(c);
  EXPECT_EQ(full.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(full.message(), HasSubstr("queue is full"));
  EXPECT_NE(c, nullptr);
  queue.Close();
  auto d = MakeJob(8, 8);
  EXPECT_EQ(queue.Push(d).code(), absl::StatusCode::kUnavailable);
  // Closing keeps what was accepted.
  EXPECT_EQ(queue.PopBatch(8, absl::ZeroDuration()).size(), 2u);
  EXPECT_TRUE(queue.PopBatch(8, absl::ZeroDuration()).empty());
}

TEST(JobQueueTest, BatchesOnlySameShapedStylizeJobsAndKeepsOrder) {
  JobQueue queue(16);
  std::vector<std::unique_ptr<Job>> jobs;
  jobs.push_back(MakeJob(8, 8, 0.1f));
  jobs.push_back(MakeJob(16, 8, 0.2f));
  jobs.push_back(MakeJob(8, 8, 0.3f));
  jobs.push_back(MakeJob(8, 8, 0.4f, Job::Kind::kEncodeStyle));
  jobs.push_back(MakeJob(8, 8, 0.5f));
  jobs.push_back(MakeJob(8, 8, 0.6f));
  for (auto& job : jobs) ASSERT_TRUE(queue.Push(job).ok());

  // Three 8x8 jobs are ready, but batches are powers of two: two leave now.
  auto first = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(first.size(), 2u);
  EXPECT_FLOAT_EQ(first[0]->alpha, 0.1f);
  EXPECT_FLOAT_EQ(first[1]->alpha, 0.3f);
  auto second = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(second.size(), 1u);
  EXPECT_FLOAT_EQ(second[0]->alpha, 0.2f);
  auto third = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(third.size(), 1u);  // style encodings are never batched
  EXPECT_EQ(third[0]->kind, Job::Kind::kEncodeStyle);
  auto fourth = queue.PopBatch(3, absl::ZeroDuration());
  ASSERT_EQ(fourth.size(), 2u);
  EXPECT_FLOAT_EQ(fourth[0]->alpha, 0.5f);
  EXPECT_FLOAT_EQ(fourth[1]->alpha, 0.6f);
  EXPECT_EQ(queue.size(), 0u);
}

TEST(JobQueueTest, WaitsUpToTheBatchTimeoutForABatchToFill) {
  JobQueue queue(16);
  auto a = MakeJob(8, 8);
  ASSERT_TRUE(queue.Push(a).ok());
  std::thread late([&] {
    absl::SleepFor(absl::Milliseconds(30));
    auto b = MakeJob(8, 8);
    ASSERT_TRUE(queue.Push(b).ok());
  });
  const absl::Time start = absl::Now();
  auto batch = queue.PopBatch(2, absl::Seconds(5));
  late.join();
  EXPECT_EQ(batch.size(), 2u);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // returned when full, not at the timeout

  auto c = MakeJob(8, 8);
  ASSERT_TRUE(queue.Push(c).ok());
  const absl::Time partial_start = absl::Now();
  EXPECT_EQ(queue.PopBatch(4, absl::Milliseconds(50)).size(), 1u);
  EXPECT_GE(absl::Now() - partial_start, absl::Milliseconds(40));
}

TEST(JobQueueTest, CloseWakesAWaitingWorker) {
  JobQueue queue(4);
  std::thread closer([&] {
    absl::SleepFor(absl::Milliseconds(20));
    queue.Close();
  });
  EXPECT_TRUE(queue.PopBatch(4, absl::Seconds(10)).empty());
  closer.join();
}

class SchedulerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Scheduler> Make(int workers, int max_batch, size_t queue = 64,
                                  absl::Duration timeout = absl::ZeroDuration()) {
    SchedulerOptions options;
    options.num_workers = workers;
    options.max_batch_size = max_batch;
    options.max_queue_size = queue;
    options.batch_timeout = timeout;
    options.warmup_shapes = {};
    auto scheduler = Scheduler::Create(options, testing::FakeModelFactory(control_), nullptr);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return scheduler.ok() ? std::move(*scheduler) : nullptr;
  }

  std::shared_ptr<FakeModelControl> control_ = std::make_shared<FakeModelControl>();
};

TEST_F(SchedulerTest, EachJobGetsItsOwnStyleAndAlphaInABatch) {
  control_->gate = std::make_shared<absl::Notification>();
  auto scheduler = Make(1, 4);
  // The first job occupies the worker behind the gate; the next four queue up and batch.
  std::vector<ResultSlot> slots(5);
  for (int i = 0; i < 5; ++i) {
    auto job = MakeJob(8, 8, i == 4 ? 0.0f : 1.0f);
    slots[i].Attach(*job);
    ASSERT_TRUE(scheduler->Submit(job).ok());
    if (i == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  control_->gate->Notify();
  for (int i = 0; i < 5; ++i) {
    const JobResult& r = slots[i].Wait();
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.image.sizes(), at::IntArrayRef({3, 8, 8}));
    // alpha 1: the style's mean (0.75); alpha 0: the content (0.25).
    EXPECT_NEAR(r.image.mean().item<float>(), i == 4 ? 0.25f : 0.75f, 1e-5);
    EXPECT_EQ(r.batch_size, i == 0 ? 1 : 4);
  }
  EXPECT_EQ(control_->largest_batch.load(), 4);
  EXPECT_EQ(control_->stylize_calls.load(), 2);
}

TEST_F(SchedulerTest, StylesAreMixedByWeight) {
  auto scheduler = Make(1, 1);
  auto job = MakeJob(8, 8);
  job->styles.clear();
  job->styles.push_back({std::make_shared<const StyleStats>(StyleStats{at::full({8}, 0.2f), at::ones({8})}),
                         at::Tensor(), 0.25});
  job->styles.push_back({std::make_shared<const StyleStats>(StyleStats{at::full({8}, 0.6f), at::ones({8})}),
                         at::Tensor(), 0.75});
  ResultSlot slot;
  slot.Attach(*job);
  ASSERT_TRUE(scheduler->Submit(job).ok());
  EXPECT_NEAR(slot.Wait().image.mean().item<float>(), 0.25 * 0.2 + 0.75 * 0.6, 1e-5);
}

TEST_F(SchedulerTest, ExpiredAndCancelledJobsAreDroppedBeforeTheModelRuns) {
  auto scheduler = Make(1, 1);
  auto expired = MakeJob(8, 8);
  expired->deadline = absl::Now() - absl::Seconds(1);
  auto cancelled = MakeJob(8, 8);
  cancelled->is_cancelled = [] { return true; };
  ResultSlot expired_slot, cancelled_slot;
  expired_slot.Attach(*expired);
  cancelled_slot.Attach(*cancelled);
  ASSERT_TRUE(scheduler->Submit(expired).ok());
  ASSERT_TRUE(scheduler->Submit(cancelled).ok());
  EXPECT_EQ(expired_slot.Wait().status.code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(cancelled_slot.Wait().status.code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(control_->stylize_calls.load(), 0);
}

TEST_F(SchedulerTest, OutOfMemoryBatchesAreSplitAndSingleJobsRefused) {
  control_->gate = std::make_shared<absl::Notification>();
  control_->oom_above_batch = 1;
  auto scheduler = Make(1, 4);
  std::vector<ResultSlot> slots(5);
  for (int i = 0; i < 5; ++i) {
    auto job = MakeJob(8, 8);
    slots[i].Attach(*job);
    ASSERT_TRUE(scheduler->Submit(job).ok());
    if (i == 0) absl::SleepFor(absl::Milliseconds(50));
  }
  control_->gate->Notify();
  for (auto& slot : slots) EXPECT_TRUE(slot.Wait().status.ok()) << slot.result.status;
  EXPECT_EQ(control_->largest_batch.load(), 4);
  EXPECT_EQ(control_->images.load(), 5);
}

TEST_F(SchedulerTest, FailuresAndExceptionsCostOneJobAndTheWorkerRecovers) {
  auto scheduler = Make(1, 1);
  control_->fail_next = 1;
  control_->throw_next = 1;
  std::vector<ResultSlot> slots(3);
  for (int i = 0; i < 3; ++i) {
    auto job = MakeJob(8, 8);
    slots[i].Attach(*job);
    ASSERT_TRUE(scheduler->Submit(job).ok());
  }
  EXPECT_EQ(slots[0].Wait().status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(slots[0].result.status.message(), HasSubstr("injected failure"));
  EXPECT_EQ(slots[1].Wait().status.code(), absl::StatusCode::kInternal);
  EXPECT_THAT(slots[1].result.status.message(), HasSubstr("injected exception"));
  EXPECT_TRUE(slots[2].Wait().status.ok());
}

// A style image whose encoding fails costs its own job (INTERNAL) and nothing else. (Under
// clang, a job read after being moved from once crashed the worker here.)
TEST_F(SchedulerTest, StyleEncodingFailureFailsOnlyItsJob) {
  auto scheduler = Make(1, 1);
  control_->fail_next = 1;
  std::vector<ResultSlot> slots(2);
  for (int i = 0; i < 2; ++i) {
    auto job = MakeJob(8, 8);
    job->styles[0] = {nullptr, at::full({1, 3, 8, 8}, 0.5f), 1.0};  // an image to encode
    slots[i].Attach(*job);
    ASSERT_TRUE(scheduler->Submit(job).ok());
  }
  EXPECT_EQ(slots[0].Wait().status.code(), absl::StatusCode::kInternal);
  EXPECT_GT(slots[0].result.queued, absl::ZeroDuration() - absl::Seconds(1));
  EXPECT_TRUE(slots[1].Wait().status.ok()) << slots[1].result.status;
  EXPECT_EQ(control_->encode_calls.load(), 2);
  EXPECT_EQ(control_->stylize_calls.load(), 1);
}

TEST_F(SchedulerTest, QueueOverflowIsRefusedAtOnceAndShutdownFinishesAcceptedJobs) {
  control_->gate = std::make_shared<absl::Notification>();
  auto scheduler = Make(1, 1, /*queue=*/2);
  std::vector<ResultSlot> slots(3);
  for (int i = 0; i < 3; ++i) {
    auto job = MakeJob(8, 8);
    slots[i].Attach(*job);
    ASSERT_TRUE(scheduler->Submit(job).ok());
    if (i == 0) absl::SleepFor(absl::Milliseconds(50));  // the worker holds job 0
  }
  auto overflow = MakeJob(8, 8);
  const absl::Time start = absl::Now();
  EXPECT_EQ(scheduler->Submit(overflow).code(), absl::StatusCode::kResourceExhausted);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  std::thread release([&] {
    absl::SleepFor(absl::Milliseconds(30));
    control_->gate->Notify();
  });
  scheduler->Shutdown();
  release.join();
  for (auto& slot : slots) EXPECT_TRUE(slot.Wait().status.ok());
  auto late = MakeJob(8, 8);
  EXPECT_EQ(scheduler->Submit(late).code(), absl::StatusCode::kUnavailable);
}

TEST_F(SchedulerTest, SingleImageTooBigForMemoryGetsResourceExhaustedAndTheWorkerGoesOn) {
  auto scheduler = Make(1, 1);
  control_->oom_above_batch = 0;  // not even one image fits
  auto job = MakeJob(8, 8);
  ResultSlot slot;
  slot.Attach(*job);
  ASSERT_TRUE(scheduler->Submit(job).ok());
  EXPECT_EQ(slot.Wait().status.code(), absl::StatusCode::kResourceExhausted);
  control_->oom_above_batch = -1;
  auto next = MakeJob(8, 8);
  ResultSlot next_slot;
  next_slot.Attach(*next);
  ASSERT_TRUE(scheduler->Submit(next).ok());
  EXPECT_TRUE(next_slot.Wait().status.ok());
}

TEST_F(SchedulerTest, WarmupRunsEveryWorkerAndItsFailureStopsCreate) {
  SchedulerOptions options;
  options.num_workers = 2;
  options.max_batch_size = 2;
  options.warmup_shapes = {{16, 16}};
  {
    auto scheduler = Scheduler::Create(options, testing::FakeModelFactory(control_), nullptr);
    ASSERT_TRUE(scheduler.ok());
    // Each worker runs batches of 1 and 2, twice each.
    EXPECT_EQ(control_->stylize_calls.load(), 8);
    EXPECT_EQ(control_->largest_batch.load(), 2);
  }
  control_->fail_next = 1;
  auto failed = Scheduler::Create(options, testing::FakeModelFactory(control_), nullptr);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace style
