// Drain of the real styletransfer-server binary: SIGTERM under load from several clients, with
// the VGG19 model on small images. Health must turn NOT_SERVING at once, every request the
// server had accepted must be answered OK, new ones refused with UNAVAILABLE, and the process
// must exit 0 well within its drain limit.
#include <signal.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "tests/server_process.h"
#include "tests/test_support.h"

#ifndef STYLE_SERVER_BIN
#error "STYLE_SERVER_BIN must name the server binary"
#endif

namespace style {
namespace {

namespace v1 = styletransfer::v1;

constexpr int kDrainSeconds = 20;

struct Outcome {
  absl::Time sent;
  absl::Time answered;
  absl::StatusCode code;
  std::string message;
};

bool RefusedForDraining(const Outcome& o) {
  return o.code == absl::StatusCode::kUnavailable && absl::StrContains(o.message, "shutting down");
}

TEST(DrainTest, SigtermUnderLoadAnswersEveryAcceptedRequestAndExitsInTime) {
  const std::string model_dir = testing::DefaultModelDir();
  const std::string log = ::testing::TempDir() + "drain_test_server.log";
  auto server = testing::ServerProcess::Start(
      STYLE_SERVER_BIN,
      {"--model_dir=" + model_dir, "--torch_threads=1", "--workers=1", "--codec_threads=2", "--warmup_shapes=64x64",
       absl::StrCat("--drain_seconds=", kDrainSeconds)},
      log);
  ASSERT_TRUE(server.ok()) << server.status();
  testing::ServerProcess& process = **server;

  v1::StylizeRequest request;
  auto content = EncodeImage(testing::MakeTestPattern(64, 64, 1), OutputFormat::kJpeg, 90);
  auto style = EncodeImage(testing::MakeTestPattern(64, 64, 5), OutputFormat::kJpeg, 90);
  ASSERT_TRUE(content.ok() && style.ok());
  request.set_content(*content);
  request.add_styles()->set_image(*style);

  // Several clients, each with one request outstanding at a time, until the server is gone.
  constexpr int kClients = 4;
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::atomic<bool> stop{false};
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      ClientOptions options;
      options.addresses = {process.address()};
      options.max_attempts = 1;
      options.deadline = absl::Seconds(kDrainSeconds + 10);
      auto client = StyleClient::Create(options);
      ASSERT_TRUE(client.ok());
      while (!stop.load()) {
        Outcome outcome;
        outcome.sent = absl::Now();
        auto response = (*client)->Stylize(request);
        outcome.answered = absl::Now();
        outcome.code = response.status().code();
        outcome.message = std::string(response.status().message());
        if (response.ok()) ++ok;
        {
          std::lock_guard<std::mutex> lock(mu);
          outcomes.push_back(outcome);
        }
        if (!response.ok()) absl::SleepFor(absl::Milliseconds(10));  // no hot loop once it is gone
      }
    });
  }
  // Steady load first: the queue holds work when the signal comes.
  const absl::Time load_start = absl::Now();
  while (ok.load() < 2 * kClients && absl::Now() - load_start < absl::Seconds(60)) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_GE(ok.load(), 2 * kClients) << process.LogTail();
  absl::SleepFor(absl::Milliseconds(100));

  const absl::Time signalled = absl::Now();
  ASSERT_TRUE(process.Signal(SIGTERM).ok());

  // Health turns NOT_SERVING at once (the server answers health until it exits).
  ClientOptions health_options;
  health_options.addresses = {process.address()};
  health_options.max_attempts = 1;
  health_options.deadline = absl::Milliseconds(500);
  auto health_client = StyleClient::Create(health_options);
  ASSERT_TRUE(health_client.ok());
  absl::Duration not_serving_after = absl::InfiniteDuration();
  while (absl::Now() - signalled < absl::Seconds(2)) {
    auto health = (*health_client)->Health();
    if (health.ok() && *health == grpc::health::v1::HealthCheckResponse::NOT_SERVING) {
      not_serving_after = absl::Now() - signalled;
      break;
    }
    ASSERT_TRUE(health.ok()) << "health failed before reporting NOT_SERVING: " << health.status();
    absl::SleepFor(absl::Milliseconds(2));
  }
  EXPECT_LT(not_serving_after, absl::Milliseconds(500));

  // The process exits 0 within the drain limit.
  const absl::StatusOr<int> exit_code = process.Wait(absl::Seconds(kDrainSeconds + 10));
  const absl::Duration exit_after = absl::Now() - signalled;
  stop = true;
  for (std::thread& t : clients) t.join();
  ASSERT_TRUE(exit_code.ok()) << "still running " << absl::FormatDuration(exit_after) << " after SIGTERM";
  EXPECT_EQ(*exit_code, 0) << process.LogTail();
  EXPECT_LT(exit_after, absl::Seconds(kDrainSeconds));
  EXPECT_THAT(process.LogTail(), ::testing::HasSubstr("drained; every accepted request was answered"));

  // Every request ended OK or refused. Those in flight at the signal were accepted (answered
  // OK) or had not yet reached the service (refused for draining); none may end any other way
  // (cancelled by the shutdown, cut off by the exit). Requests sent once health said
  // NOT_SERVING are refused: UNAVAILABLE from the service while it drains, or from the closed
  // port once it has exited; the few that arrive in the last milliseconds, while gRPC itself
  // shuts down, are cancelled by gRPC before any handler runs (CANCELLED; see
  // docs/reliability.md). None of them is ever accepted.
  int in_flight_at_signal = 0, accepted = 0, answered = 0, refused_draining = 0, refused_after_exit = 0,
      cancelled_by_grpc = 0;
  std::vector<std::string> lost;
  for (const Outcome& o : outcomes) {
    const std::string what = absl::StrCat(absl::StatusCodeToString(o.code), ": ", o.message, " (sent ",
                                          absl::FormatDuration(o.sent - signalled), " after SIGTERM, answered ",
                                          absl::FormatDuration(o.answered - signalled), " after it)");
    const bool after_not_serving = o.sent > signalled + not_serving_after;
    if (RefusedForDraining(o)) {
      ++refused_draining;
    } else if (o.code == absl::StatusCode::kUnavailable && o.sent > signalled) {
      ++refused_after_exit;
    } else if (o.code == absl::StatusCode::kCancelled && after_not_serving) {
      ++cancelled_by_grpc;
    } else if (o.code != absl::StatusCode::kOk) {
      lost.push_back(what);
    }
    if (after_not_serving) {
      EXPECT_NE(o.code, absl::StatusCode::kOk) << what;
    }
    if (o.sent < signalled && o.answered > signalled) {
      ++in_flight_at_signal;
      if (!RefusedForDraining(o)) {
        ++accepted;
        if (o.code == absl::StatusCode::kOk) ++answered;
      }
    }
  }
  EXPECT_TRUE(lost.empty()) << lost.size() << " requests lost, e.g. " << lost.front();
  EXPECT_GE(refused_draining, 1);  // the clients kept sending while it drained
  EXPECT_GE(in_flight_at_signal, 2);
  EXPECT_GE(accepted, 1);
  EXPECT_EQ(accepted, answered);
  std::cout << "drain: " << in_flight_at_signal << " requests in flight at SIGTERM, " << accepted
            << " accepted and all " << answered << " answered OK; health NOT_SERVING after "
            << absl::FormatDuration(not_serving_after) << "; " << refused_draining << " refused while draining, "
            << cancelled_by_grpc << " cancelled by gRPC's shutdown, " << refused_after_exit
            << " refused by the closing or closed port; exit 0 after " << absl::FormatDuration(exit_after) << "\n";
  RecordProperty("in_flight_at_signal", in_flight_at_signal);
  RecordProperty("exit_after_ms", static_cast<int>(absl::ToInt64Milliseconds(exit_after)));
}

}  // namespace
}  // namespace style
