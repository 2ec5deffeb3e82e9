// Fault injection over real gRPC: the whole server on loopback with the fault-injecting fake
// model (tests/fake_model.h), which fails, throws, stalls or runs out of memory on command.
// Each fault must cost only the requests it hits, with the right status code, counted in
// /metrics; the workers, the other requests and the gauges must recover.
#include <atomic>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "server/server.h"
#include "tests/fake_model.h"
#include "tests/loopback.h"
#include "tests/test_support.h"

namespace style {
namespace {

namespace v1 = styletransfer::v1;
using ::testing::HasSubstr;
using testing::FakeModelControl;

v1::StylizeRequest Request(int side = 16) {
  return testing::StylizeRequestOf(testing::Png(side, side), testing::Png(16, 16, 2));
}

// Waits up to `timeout` for `done`; true if it came true.
template <typename Predicate>
bool Eventually(Predicate done, absl::Duration timeout = absl::Seconds(10)) {
  const absl::Time give_up = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return true;
}

class FaultInjectionTest : public ::testing::Test {
 protected:
  void Start(int workers = 1, size_t queue_size = 64, bool metrics = false) {
    ServerOptions options = testing::LoopbackServerOptions();
    if (metrics) options.metrics_address = "127.0.0.1:0";
    options.scheduler.num_workers = workers;
    options.scheduler.max_queue_size = queue_size;
    auto server = StyleServer::Start(options, testing::FakeModelFactory(control_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = Connect();
    stub_ = v1::StyleTransfer::NewStub(
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", server_->port()), grpc::InsecureChannelCredentials()));
  }

  // No retries: every fault must reach the test, not be retried away.
  std::unique_ptr<StyleClient> Connect(absl::Duration deadline = absl::Seconds(20)) const {
    return testing::Connect(server_->port(), /*attempts=*/1, deadline);
  }

  // The server's requests_total{rpc="Stylize"} by code, and its gauges, from /metrics.
  std::map<std::string, double> Metrics() const {
    return testing::ParsePrometheusText(testing::HttpGet(server_->metrics_port(), "/metrics"));
  }
  static double Count(const std::map<std::string, double>& metrics, const std::string& code) {
    const auto it = metrics.find(absl::StrCat(R"(styletransfer_requests_total{code=")", code, R"(",rpc="Stylize"})"));
    return it == metrics.end() ? -1 : it->second;
  }
  // Every non-zero requests_total{rpc="Stylize"} series, for failure messages.
  static std::string Counts(const std::map<std::string, double>& metrics) {
    std::string out;
    for (const auto& [series, value] : metrics) {
      if (series.rfind("styletransfer_requests_total{", 0) == 0 && value != 0) absl::StrAppend(&out, series, "=", value, " ");
    }
    return out;
  }
  bool Idle() const {
    const auto m = Metrics();
    return m.at("styletransfer_in_flight_requests") == 0 && m.at("styletransfer_queue_depth") == 0 &&
           m.at("styletransfer_busy_workers") == 0;
  }

  std::shared_ptr<FakeModelControl> control_ = std::make_shared<FakeModelControl>();
  std::unique_ptr<StyleServer> server_;
  std::unique_ptr<StyleClient> client_;
  std::unique_ptr<v1::StyleTransfer::Stub> stub_;
};

TEST_F(FaultInjectionTest, FailingModelAnswersInternalAndTheNextRequestSucceeds) {
  Start();
  control_->fail_next = 1;
  auto failed = client_->Stylize(Request());
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(std::string(failed.status().message()), HasSubstr("injected failure"));
  EXPECT_TRUE(client_->Stylize(Request()).ok());
}

TEST_F(FaultInjectionTest, ThrowingModelAnswersInternalAndTheWorkerThreadSurvives) {
  Start(/*workers=*/1);
  control_->throw_next = 3;
  for (int i = 0; i < 3; ++i) {
    auto thrown = client_->Stylize(Request());
    EXPECT_EQ(thrown.status().code(), absl::StatusCode::kInternal);
    EXPECT_THAT(std::string(thrown.status().message()), HasSubstr("injected exception"));
  }
  // The only worker is still there to serve.
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(client_->Stylize(Request()).ok());
  EXPECT_EQ(control_->images.load(), 3);
}

TEST_F(FaultInjectionTest, OutOfMemoryAnswersResourceExhausted) {
  Start();
  control_->oom_above_batch = 0;
  auto oom = client_->Stylize(Request());
  EXPECT_EQ(oom.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(oom.status().message()), HasSubstr("out of device memory"));
  control_->oom_above_batch = -1;
  EXPECT_TRUE(client_->Stylize(Request()).ok());
}

TEST_F(FaultInjectionTest, StalledModelGivesDeadlineExceededAndTheWorkerRecovers) {
  control_->gate = std::make_shared<absl::Notification>();  // set before the workers start
  Start(/*workers=*/1, /*queue_size=*/64, /*metrics=*/true);
  auto impatient = Connect(absl::Seconds(2));
  // One call stalls in the model, one waits behind it in the queue: both hit their deadline.
  std::vector<std::thread> calls;
  std::atomic<int> deadline_exceeded{0};
  const absl::Time start = absl::Now();
  for (int i = 0; i < 2; ++i) {
    calls.emplace_back([&] {
      if (impatient->Stylize(Request()).status().code() == absl::StatusCode::kDeadlineExceeded) ++deadline_exceeded;
    });
    absl::SleepFor(absl::Milliseconds(50));
  }
  // Both reached the server before their deadline: one in the model, one queued.
  EXPECT_TRUE(Eventually([&] {
    return control_->encode_calls.load() == 1 && Metrics().at("styletransfer_queue_depth") == 1;
  }, absl::Seconds(2)));
  for (std::thread& t : calls) t.join();
  EXPECT_EQ(deadline_exceeded.load(), 2);
  EXPECT_LT(absl::Now() - start, absl::Seconds(4));  // answered at the deadline, not at the stall's end
  // The server's own deadline for the queued call counts from its arrival there, a little after
  // the client's: let it pass too.
  absl::SleepFor(absl::Milliseconds(500));
  // The stall ends: the worker finishes the abandoned call, skips the expired one and serves again.
  control_->gate->Notify();
  auto after = client_->Stylize(Request());
  EXPECT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(control_->stylize_calls.load(), 2);  // the stalled call and `after`; the queued one never ran
  EXPECT_TRUE(Eventually([&] { return Idle(); }));
  const auto m = Metrics();
  EXPECT_EQ(Count(m, "DEADLINE_EXCEEDED"), 2) << Counts(m);
  EXPECT_EQ(Count(m, "OK"), 1) << Counts(m);
}

TEST_F(FaultInjectionTest, CancellingWhileQueuedFreesTheWork) {
  control_->gate = std::make_shared<absl::Notification>();
  Start(/*workers=*/1, /*queue_size=*/64, /*metrics=*/true);
  std::thread held([&] { EXPECT_TRUE(client_->Stylize(Request()).ok()); });
  // The worker is held, encoding the call's style image.
  ASSERT_TRUE(Eventually([&] { return control_->encode_calls.load() == 1; }));

  // Three calls queue behind it; their clients cancel.
  constexpr int kCancelled = 3;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::thread> calls;
  std::atomic<int> cancelled{0};
  for (int i = 0; i < kCancelled; ++i) contexts.push_back(std::make_unique<grpc::ClientContext>());
  for (int i = 0; i < kCancelled; ++i) {
    calls.emplace_back([&, i] {
      v1::StylizeResponse response;
      const grpc::Status status = stub_->Stylize(contexts[i].get(), Request(), &response);
      if (status.error_code() == grpc::StatusCode::CANCELLED) ++cancelled;
    });
  }
  ASSERT_TRUE(Eventually([&] { return Metrics().at("styletransfer_queue_depth") == kCancelled; }));
  const absl::Time cancel = absl::Now();
  for (auto& context : contexts) context->TryCancel();
  for (std::thread& t : calls) t.join();
  EXPECT_EQ(cancelled.load(), kCancelled);
  EXPECT_LT(absl::Now() - cancel, absl::Seconds(1));  // the clients are free at once

  // The server learns of a cancellation asynchronously (RST_STREAM); give it time to before the
  // worker looks at the queued jobs.
  absl::SleepFor(absl::Seconds(1));
  control_->gate->Notify();
  held.join();
  // The worker dropped the cancelled jobs without running the model, and nothing stays held.
  EXPECT_TRUE(Eventually([&] { return Idle(); }));
  EXPECT_EQ(control_->stylize_calls.load(), 1);
  EXPECT_EQ(control_->encode_calls.load(), 1);  // only the held call's style was encoded
  const auto m = Metrics();
  EXPECT_EQ(Count(m, "CANCELLED"), kCancelled);
  EXPECT_EQ(Count(m, "OK"), 1);
}

TEST_F(FaultInjectionTest, BurstOverflowIsRefusedFastAndNeverHangs) {
  control_->gate = std::make_shared<absl::Notification>();  // nothing finishes during the burst
  Start(/*workers=*/1, /*queue_size=*/2, /*metrics=*/true);
  constexpr int kBurst = 50;
  std::vector<std::thread> calls;
  std::atomic<int> ok{0}, exhausted{0}, other{0};
  std::atomic<int> answered_during_burst{0};
  const absl::Time start = absl::Now();
  const v1::StylizeRequest request = Request();
  for (int i = 0; i < kBurst; ++i) {
    calls.emplace_back([&] {
      auto response = client_->Stylize(request);
      if (response.ok()) {
        ++ok;
      } else if (response.status().code() == absl::StatusCode::kResourceExhausted) {
        ++exhausted;
        ++answered_during_burst;
      } else {
        ++other;
      }
    });
  }
  // One call holds the worker and two wait in the queue; the other 47 are refused at once.
  ASSERT_TRUE(Eventually([&] { return answered_during_burst.load() == kBurst - 3; }, absl::Seconds(2)))
      << answered_during_burst.load() << " of " << kBurst - 3 << " refusals within 2 s";
  const absl::Duration refusals = absl::Now() - start;
  control_->gate->Notify();
  for (std::thread& t : calls) t.join();
  EXPECT_EQ(ok.load(), 3);
  EXPECT_EQ(exhausted.load(), kBurst - 3);
  EXPECT_EQ(other.load(), 0);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  RecordProperty("refusals_ms", static_cast<int>(absl::ToInt64Milliseconds(refusals)));
  const auto m = Metrics();
  EXPECT_EQ(Count(m, "RESOURCE_EXHAUSTED"), kBurst - 3);
  EXPECT_TRUE(Eventually([&] { return Idle(); }));
}

// Every kind of fault at once on two workers, while healthy calls run beside them: each call
// gets OK or the fault's own code, the healthy ones all succeed, and /metrics counts each
// outcome by code.
TEST_F(FaultInjectionTest, ConcurrentFaultsCostOnlyTheirOwnCallsAndAreCountedByCode) {
  Start(/*workers=*/2, /*queue_size=*/64, /*metrics=*/true);
  constexpr int kCalls = 40;
  control_->fail_next = 4;
  control_->throw_next = 3;
  control_->delay_micros = 2000;
  std::vector<std::thread> calls;
  std::mutex mu;
  std::map<absl::StatusCode, int> codes;
  for (int i = 0; i < kCalls; ++i) {
    calls.emplace_back([&, i] {
      auto response = client_->Stylize(Request(16 + i % 3));
      if (response.ok()) {
        EXPECT_EQ(response->width(), static_cast<uint32_t>(16 + i % 3));
      }
      std::lock_guard<std::mutex> lock(mu);
      ++codes[response.status().code()];
    });
  }
  for (std::thread& t : calls) t.join();
  // Failures and exceptions come from EncodeStyle or Stylize, whichever runs next: 7 calls fail.
  EXPECT_EQ(codes[absl::StatusCode::kInternal], 7);
  EXPECT_EQ(codes[absl::StatusCode::kOk], kCalls - 7);
  EXPECT_EQ(codes.size(), 2u);

  control_->oom_above_batch = 0;
  EXPECT_EQ(client_->Stylize(Request()).status().code(), absl::StatusCode::kResourceExhausted);
  control_->oom_above_batch = -1;
  EXPECT_EQ(client_->Stylize(Request()).status().code(), absl::StatusCode::kOk);
  EXPECT_EQ(client_->Stylize(v1::StylizeRequest()).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_TRUE(Eventually([&] { return Idle(); }));
  const auto m = Metrics();
  EXPECT_EQ(Count(m, "OK"), kCalls - 7 + 1);
  EXPECT_EQ(Count(m, "INTERNAL"), 7);
  EXPECT_EQ(Count(m, "RESOURCE_EXHAUSTED"), 1);
  EXPECT_EQ(Count(m, "INVALID_ARGUMENT"), 1);
  EXPECT_EQ(m.at(R"(styletransfer_request_duration_seconds_count{rpc="Stylize"})"), kCalls + 3);
}

}  // namespace
}  // namespace style
