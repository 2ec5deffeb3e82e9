#include "client/client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/fake_style_service.h"

namespace style {
namespace {

namespace v1 = ::styletransfer::v1;
using fake::FakeServer;
using fake::FakeStyleService;

ClientOptions FastOptions(const std::string& address) {
  ClientOptions options;
  options.addresses = {address};
  options.deadline = absl::Seconds(10);
  options.overall_deadline = absl::Seconds(20);
  options.initial_backoff = absl::Milliseconds(1);
  options.max_backoff = absl::Milliseconds(5);
  return options;
}

std::unique_ptr<StyleClient> MakeClient(const ClientOptions& options) {
  absl::StatusOr<std::unique_ptr<StyleClient>> client = StyleClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

v1::StylizeRequest SmallRequest() {
  v1::StylizeRequest request;
  request.set_content("content");
  request.add_styles()->set_style_id("s");
  return request;
}

grpc::Status Code(grpc::StatusCode code, const std::string& message) {
  return grpc::Status(code, message);
}

TEST(StyleClientTest, RetriesResourceExhaustedUntilSuccess) {
  FakeStyleService service([](int call, const v1::StylizeRequest&, v1::StylizeResponse* r) {
    if (call <= 2) return Code(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
    r->set_width(7);
    return grpc::Status::OK;
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient(FastOptions(server.address()));
  absl::StatusOr<v1::StylizeResponse> response = client->Stylize(SmallRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->width(), 7u);
  EXPECT_EQ(service.stylize_calls(), 3);
}

TEST(StyleClientTest, UnavailableRetriedAtMostMaxAttempts) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    return Code(grpc::StatusCode::UNAVAILABLE, "draining");
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.max_attempts = 3;
  auto client = MakeClient(options);
  absl::StatusOr<v1::StylizeResponse> response = client->Stylize(SmallRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(response.status().message(), "draining");
  EXPECT_EQ(service.stylize_calls(), 3);
}

TEST(StyleClientTest, SingleAttemptMeansNoRetry) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    return Code(grpc::StatusCode::RESOURCE_EXHAUSTED, "queue full");
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.max_attempts = 1;
  auto client = MakeClient(options);
  EXPECT_EQ(client->Stylize(SmallRequest()).status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(service.stylize_calls(), 1);
}

TEST(StyleClientTest, InvalidArgumentIsNotRetriedAndKeepsMessage) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    return Code(grpc::StatusCode::INVALID_ARGUMENT, "weights add up to 1.5");
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient(FastOptions(server.address()));
  absl::StatusOr<v1::StylizeResponse> response = client->Stylize(SmallRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(response.status().message(), "weights add up to 1.5");
  EXPECT_EQ(service.stylize_calls(), 1);
}

TEST(StyleClientTest, AttemptDeadlineIsRespectedAndNotRetried) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    return grpc::Status::OK;
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.deadline = absl::Milliseconds(100);
  auto client = MakeClient(options);
  const absl::Time start = absl::Now();
  absl::StatusOr<v1::StylizeResponse> response = client->Stylize(SmallRequest());
  const absl::Duration elapsed = absl::Now() - start;
  EXPECT_EQ(response.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_GE(elapsed, absl::Milliseconds(90));
  EXPECT_LT(elapsed, absl::Milliseconds(350));
  EXPECT_EQ(service.stylize_calls(), 1);
}

TEST(StyleClientTest, OverallDeadlineCutsAttemptDeadline) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(600));
    return grpc::Status::OK;
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.deadline = absl::Seconds(10);
  options.overall_deadline = absl::Milliseconds(150);
  auto client = MakeClient(options);
  const absl::Time start = absl::Now();
  EXPECT_EQ(client->Stylize(SmallRequest()).status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(500));
}

TEST(StyleClientTest, RetriesStopBeforeOverallDeadline) {
  FakeStyleService service([](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    return Code(grpc::StatusCode::UNAVAILABLE, "starting");
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.max_attempts = 50;
  options.initial_backoff = absl::Milliseconds(100);
  options.max_backoff = absl::Milliseconds(100);
  options.backoff_jitter = 0;
  options.overall_deadline = absl::Milliseconds(350);
  auto client = MakeClient(options);
  const absl::Time start = absl::Now();
  EXPECT_EQ(client->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(450));
  EXPECT_GE(service.stylize_calls(), 2);
  EXPECT_LE(service.stylize_calls(), 4);
}

TEST(StyleClientTest, UnreachableServerGivesUnavailable) {
  std::string address;
  {
    FakeStyleService service;
    FakeServer server(&service);
    ASSERT_TRUE(server.ok());
    address = server.address();
  }
  ClientOptions options = FastOptions(address);
  options.max_attempts = 2;
  auto client = MakeClient(options);
  EXPECT_EQ(client->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnavailable);
}

TEST(StyleClientTest, LargeMessagesTravelBothWays) {
  FakeStyleService service([](int, const v1::StylizeRequest& request, v1::StylizeResponse* r) {
    r->set_image(request.content());
    return grpc::Status::OK;
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient(FastOptions(server.address()));
  v1::StylizeRequest request = SmallRequest();
  std::string content(6 << 20, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 131 + i / 7);
  request.set_content(content);
  absl::StatusOr<v1::StylizeResponse> response = client->Stylize(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->image().size(), content.size());
  EXPECT_TRUE(response->image() == content);
}

TEST(StyleClientTest, RequestOverTheLimitFailsLocally) {
  FakeStyleService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.max_message_bytes = 1 << 20;
  auto client = MakeClient(options);
  v1::StylizeRequest request = SmallRequest();
  request.set_content(std::string(2 << 20, 'x'));
  EXPECT_EQ(client->Stylize(request).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(service.stylize_calls(), 0);
}

TEST(StyleClientTest, BearerTokenArrivesAsMetadata) {
  FakeStyleService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  auto plain = MakeClient(options);
  options.bearer_token = "s3cr3t.token";
  auto authed = MakeClient(options);
  ASSERT_TRUE(plain->Stylize(SmallRequest()).ok());
  ASSERT_TRUE(authed->Stylize(SmallRequest()).ok());
  EXPECT_EQ(service.authorizations(), (std::vector<std::string>{"", "Bearer s3cr3t.token"}));
}

TEST(StyleClientTest, RoundRobinSpreadsCallsOverServers) {
  auto slow_ok = [](int, const v1::StylizeRequest&, v1::StylizeResponse*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
    return grpc::Status::OK;
  };
  FakeStyleService first(slow_ok), second(slow_ok);
  FakeServer server1(&first), server2(&second);
  ASSERT_TRUE(server1.ok() && server2.ok());
  ClientOptions options = FastOptions(server1.address());
  options.addresses.push_back(server2.address());
  auto client = MakeClient(options);
  EXPECT_EQ(
      client->targets(),
      (std::vector<std::string>{absl::StrCat("ipv4:", server1.address(), ",", server2.address())}));
  constexpr int kCalls = 40;
  for (int i = 0; i < kCalls; ++i) ASSERT_TRUE(client->Stylize(SmallRequest()).ok());
  EXPECT_EQ(first.stylize_calls() + second.stylize_calls(), kCalls);
  EXPECT_GE(first.stylize_calls(), 5);
  EXPECT_GE(second.stylize_calls(), 5);
}

TEST(StyleClientTest, ConcurrentCallsFromManyThreads) {
  FakeStyleService service([](int call, const v1::StylizeRequest&, v1::StylizeResponse*) {
    if (call % 5 == 0) return Code(grpc::StatusCode::RESOURCE_EXHAUSTED, "busy");
    return grpc::Status::OK;
  });
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  ClientOptions options = FastOptions(server.address());
  options.max_attempts = 10;
  auto client = MakeClient(options);
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20; ++i) ok += client->Stylize(SmallRequest()).ok() ? 1 : 0;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_GE(service.stylize_calls(), 160);
}

TEST(StyleClientTest, StyleManagementCalls) {
  FakeStyleService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient(FastOptions(server.address()));
  absl::StatusOr<v1::RegisterStyleResponse> registered = client->RegisterStyle("12345", "five");
  ASSERT_TRUE(registered.ok()) << registered.status();
  EXPECT_EQ(registered->style().style_id(), "id-5");
  EXPECT_EQ(registered->style().name(), "five");
  absl::StatusOr<std::vector<v1::StyleInfo>> styles = client->ListStyles();
  ASSERT_TRUE(styles.ok()) << styles.status();
  ASSERT_EQ(styles->size(), 2u);
  EXPECT_EQ((*styles)[1].style_id(), "b");
  EXPECT_TRUE(client->DeleteStyle("a").ok());
  absl::Status missing = client->DeleteStyle("zzz");
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.message(), "no style zzz");
}

TEST(StyleClientTest, HealthUsesTheDefaultHealthService) {
  FakeStyleService service;
  FakeServer server(&service);
  ASSERT_TRUE(server.ok());
  auto client = MakeClient(FastOptions(server.address()));
  absl::StatusOr<StyleClient::ServingStatus> status = client->Health();
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(*status, grpc::health::v1::HealthCheckResponse::SERVING);
  EXPECT_EQ(client->Health("no.such.Service").status().code(), absl::StatusCode::kNotFound);
}

TEST(StyleClientTest, CreateRejectsBadOptions) {
  ClientOptions options;
  EXPECT_EQ(StyleClient::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.addresses = {"localhost:50051"};
  EXPECT_TRUE(StyleClient::Create(options).ok());
  ClientOptions bad = options;
  bad.max_attempts = 0;
  EXPECT_EQ(StyleClient::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = options;
  bad.deadline = absl::ZeroDuration();
  EXPECT_EQ(StyleClient::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = options;
  bad.initial_backoff = absl::Seconds(5);
  EXPECT_EQ(StyleClient::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = options;
  bad.bearer_token = "has space";
  EXPECT_EQ(StyleClient::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad = options;
  bad.addresses = {"no-port"};
  EXPECT_EQ(StyleClient::Create(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ChannelTargetsTest, BuildsTargets) {
  using Targets = std::vector<std::string>;
  EXPECT_EQ(*ChannelTargets({"localhost:50051"}), Targets{"dns:///localhost:50051"});
  EXPECT_EQ(*ChannelTargets({" svc.ns.svc.cluster.local:80 "}),
            Targets{"dns:///svc.ns.svc.cluster.local:80"});
  EXPECT_EQ(*ChannelTargets({"10.0.0.1:1", "10.0.0.2:2"}), Targets{"ipv4:10.0.0.1:1,10.0.0.2:2"});
  EXPECT_EQ(*ChannelTargets({"[::1]:1", "[fe80::2]:2"}), Targets{"ipv6:[::1]:1,[fe80::2]:2"});
  EXPECT_EQ(*ChannelTargets({"a:1", "10.0.0.1:2"}), (Targets{"dns:///a:1", "dns:///10.0.0.1:2"}));
  EXPECT_EQ(*ChannelTargets({"[::1]:1", "10.0.0.1:2"}),
            (Targets{"dns:///[::1]:1", "dns:///10.0.0.1:2"}));
  EXPECT_EQ(*ChannelTargets({"dns:///svc:1"}), Targets{"dns:///svc:1"});
  EXPECT_EQ(*ChannelTargets({"unix:/tmp/s.sock"}), Targets{"unix:/tmp/s.sock"});
  for (const char* bad : {"", "host", "host:", ":80", "host:0", "host:65536", "host:8x", "::1:80",
                          "[::1", "[::1]80"}) {
    EXPECT_EQ(ChannelTargets({bad}).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ChannelTargets({}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RetryBackoffTest, GrowsExponentiallyWithJitterAndCap) {
  ClientOptions options;  // 100 ms, x2, cap 2 s, jitter 0.2
  EXPECT_EQ(RetryBackoff(options, 1, 0.5), absl::Milliseconds(100));
  EXPECT_EQ(RetryBackoff(options, 2, 0.5), absl::Milliseconds(200));
  EXPECT_EQ(RetryBackoff(options, 4, 0.5), absl::Milliseconds(800));
  EXPECT_EQ(RetryBackoff(options, 10, 0.5), absl::Seconds(2));
  EXPECT_EQ(RetryBackoff(options, 1, 0.0), absl::Milliseconds(80));
  EXPECT_NEAR(absl::ToDoubleMilliseconds(RetryBackoff(options, 1, 0.999)), 120, 0.1);
  EXPECT_LE(RetryBackoff(options, 30, 0.999), absl::Seconds(2));
}

TEST(RetryBackoffTest, RetryableCodes) {
  EXPECT_TRUE(IsRetryableCode(absl::StatusCode::kUnavailable));
  EXPECT_TRUE(IsRetryableCode(absl::StatusCode::kResourceExhausted));
  EXPECT_FALSE(IsRetryableCode(absl::StatusCode::kDeadlineExceeded));
  EXPECT_FALSE(IsRetryableCode(absl::StatusCode::kInvalidArgument));
  EXPECT_FALSE(IsRetryableCode(absl::StatusCode::kNotFound));
}

}  // namespace
}  // namespace style
