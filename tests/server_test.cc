// Integration tests: the real server (gRPC on loopback, port 0, real codec and metrics endpoint)
// called through the client library. The model is the fake where a test is about the service,
// and the real VGG19 AdaIN model where it is about the result.
#include "server/server.h"

#include <algorithm>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "client/client.h"
#include "tests/fake_model.h"
#include "tests/loopback.h"
#include "tests/test_support.h"

namespace style {
namespace {

namespace v1 = styletransfer::v1;
using ::testing::HasSubstr;
using testing::FakeModelControl;

using testing::Connect;

v1::StylizeRequest Request(std::string content, std::string style) {
  return testing::StylizeRequestOf(std::move(content), std::move(style));
}

ServerOptions TestOptions() {
  ServerOptions options = testing::LoopbackServerOptions();
  options.service.limits.decode.max_bytes = 1 << 20;
  options.service.limits.decode.max_pixels = 4'000'000;
  return options;
}

class FakeModelServerTest : public ::testing::Test {
 protected:
  void Start(ServerOptions options = TestOptions()) {
    auto server = StyleServer::Start(options, testing::FakeModelFactory(control_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    client_ = Connect(server_->port());
  }

  std::shared_ptr<FakeModelControl> control_ = std::make_shared<FakeModelControl>();
  std::unique_ptr<StyleServer> server_;
  std::unique_ptr<StyleClient> client_;
};

TEST_F(FakeModelServerTest, StylizesInEveryOutputFormatWithTimings) {
  Start();
  EXPECT_EQ(*client_->Health(), grpc::health::v1::HealthCheckResponse::SERVING);
  const std::pair<v1::ImageFormat, std::string> formats[] = {
      {v1::IMAGE_FORMAT_JPEG, "\xFF\xD8\xFF"}, {v1::IMAGE_FORMAT_PNG, "\x89PNG"}, {v1::IMAGE_FORMAT_WEBP, "RIFF"}};
  for (const auto& [format, magic] : formats) {
    v1::StylizeRequest request = Request(testing::Png(40, 30), testing::Png(20, 20, 2));
    request.mutable_output()->set_format(format);
    auto response = client_->Stylize(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->image().substr(0, magic.size()), magic);
    EXPECT_EQ(response->format(), format);
    EXPECT_EQ(response->width(), 40u);
    EXPECT_EQ(response->height(), 30u);
    const v1::Timing& t = response->timing();
    EXPECT_GT(t.total_seconds(), 0);
    EXPECT_GE(t.total_seconds(), t.queued_seconds() + t.compute_seconds());
    EXPECT_GT(t.decode_seconds(), 0);
    EXPECT_GT(t.encode_seconds(), 0);
    auto decoded = DecodeImage(response->image(), {});
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(decoded->width, 40);
  }
}

TEST_F(FakeModelServerTest, FitPolicyShrinksAndKeepPolicyKeeps) {
  Start();
  v1::StylizeRequest request = Request(testing::Png(200, 100), testing::Png(20, 20));
  request.mutable_size()->set_mode(v1::SizePolicy::FIT);
  request.mutable_size()->set_max_side(50);
  auto fit = client_->Stylize(request);
  ASSERT_TRUE(fit.ok()) << fit.status();
  EXPECT_EQ(fit->width(), 50u);
  EXPECT_EQ(fit->height(), 25u);
  request.mutable_size()->set_mode(v1::SizePolicy::KEEP);
  auto keep = client_->Stylize(request);
  ASSERT_TRUE(keep.ok());
  EXPECT_EQ(keep->width(), 200u);
}

TEST_F(FakeModelServerTest, BadInputGetsAClearErrorAndTheServerKeepsServing) {
  Start();
  const std::string good = testing::Png(32, 32);
  const std::string huge_header = testing::PngWithHeader(60000, 60000);
  std::string random(4096, '\0');
  for (size_t i = 0; i < random.size(); ++i) random[i] = static_cast<char>((i * 2654435761u) >> 13);

  struct Case {
    std::string what;
    v1::StylizeRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  cases.push_back({"empty content", Request("", good), grpc::StatusCode::INVALID_ARGUMENT, "empty"});
  cases.push_back({"truncated", Request(good.substr(0, good.size() / 2), good), grpc::StatusCode::INVALID_ARGUMENT, "content image"});
  cases.push_back({"random bytes", Request(random, good), grpc::StatusCode::INVALID_ARGUMENT, "content image"});
  cases.push_back({"svg", Request("<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'/>", good),
                   grpc::StatusCode::INVALID_ARGUMENT, "content image"});
  cases.push_back({"bmp", Request("BM" + std::string(100, '\0'), good), grpc::StatusCode::INVALID_ARGUMENT, "content image"});
  cases.push_back({"huge header", Request(huge_header, good), grpc::StatusCode::INVALID_ARGUMENT, "pixels"});
  cases.push_back({"too many bytes", Request(std::string(2 << 20, 'x'), good), grpc::StatusCode::INVALID_ARGUMENT, "limit"});
  cases.push_back({"bad style", Request(good, "nonsense"), grpc::StatusCode::INVALID_ARGUMENT, "style 0"});
  {
    v1::StylizeRequest r = Request(good, good);
    r.set_alpha(1.5f);
    cases.push_back({"alpha", r, grpc::StatusCode::INVALID_ARGUMENT, "alpha"});
    r.set_alpha(-0.1f);
    cases.push_back({"negative alpha", r, grpc::StatusCode::INVALID_ARGUMENT, "alpha"});
  }
  {
    v1::StylizeRequest r = Request(good, good);
    r.add_styles()->set_image(good);
    r.mutable_styles(0)->set_weight(0.5f);
    r.mutable_styles(1)->set_weight(0.7f);
    cases.push_back({"weights", r, grpc::StatusCode::INVALID_ARGUMENT, "add up to 1"});
    r.mutable_styles(1)->set_weight(0.0f);
    cases.push_back({"some weights", r, grpc::StatusCode::INVALID_ARGUMENT, "every style's weight"});
  }
  {
    v1::StylizeRequest r;
    r.set_content(good);
    r.add_styles()->set_style_id("st-unknown");
    cases.push_back({"unknown id", r, grpc::StatusCode::NOT_FOUND, "st-unknown"});
    v1::StylizeRequest none;
    none.set_content(good);
    cases.push_back({"no style", none, grpc::StatusCode::INVALID_ARGUMENT, "at least one style"});
  }
  {
    v1::StylizeRequest r = Request(good, good);
    r.mutable_output()->set_quality(101);
    cases.push_back({"quality", r, grpc::StatusCode::INVALID_ARGUMENT, "quality"});
    r.mutable_output()->set_quality(0);
    r.mutable_size()->set_mode(v1::SizePolicy::FIT);
    cases.push_back({"fit without side", r, grpc::StatusCode::INVALID_ARGUMENT, "max_side"});
  }
  for (const Case& c : cases) {
    auto response = client_->Stylize(c.request);
    ASSERT_FALSE(response.ok()) << c.what;
    EXPECT_EQ(static_cast<int>(response.status().code()), static_cast<int>(c.code)) << c.what << ": " << response.status();
    EXPECT_THAT(std::string(response.status().message()), HasSubstr(c.message)) << c.what;
  }
  // Still serving.
  EXPECT_TRUE(client_->Stylize(Request(good, good)).ok());
  EXPECT_EQ(control_->stylize_calls.load(), 1);
}

// A request that is not a valid StylizeRequest at all (here a style id that is not UTF-8, which
// proto3 refuses to parse) is refused by gRPC before the service sees it, without a log line per
// request on the server's stderr. gRPC's callback API answers such a call UNIMPLEMENTED, with no
// message (docs/reliability.md, known limits).
TEST_F(FakeModelServerTest, UnparseableRequestsAreRefusedQuietly) {
  Start();
  v1::StylizeRequest request;
  request.set_content(testing::Png(16, 16));
  request.add_styles()->set_style_id("st-\xFF\xFE");
  ::testing::internal::CaptureStderr();
  auto response = client_->Stylize(request);
  const std::string logged = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnimplemented) << response.status();
  // The client's own serializer still warns ("when serializing"); the server's parser does not.
  EXPECT_THAT(logged, ::testing::Not(HasSubstr("when parsing")));
  EXPECT_TRUE(client_->Stylize(Request(testing::Png(16, 16), testing::Png(16, 16))).ok());
}

TEST_F(FakeModelServerTest, RegisteredStylesCanBeUsedListedAndDeleted) {
  Start();
  const std::string style_png = testing::Png(24, 24, 5);
  auto registered = client_->RegisterStyle(style_png, "five");
  ASSERT_TRUE(registered.ok()) << registered.status();
  const std::string id = registered->style().style_id();
  EXPECT_THAT(id, HasSubstr("st-"));
  EXPECT_FALSE(registered->already_registered());
  EXPECT_EQ(registered->style().width(), 24u);
  auto again = client_->RegisterStyle(style_png, "five");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_registered());
  EXPECT_EQ(again->style().style_id(), id);
  EXPECT_EQ(control_->encode_calls.load(), 1);  // the second registration encoded nothing

  auto listed = client_->ListStyles();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].name(), "five");

  v1::StylizeRequest request;
  request.set_content(testing::Png(16, 16));
  request.add_styles()->set_style_id(id);
  EXPECT_TRUE(client_->Stylize(request).ok());
  EXPECT_EQ(control_->encode_calls.load(), 1);  // no style encoding per request

  request.set_preserve_color(true);
  EXPECT_EQ(client_->Stylize(request).status().code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_TRUE(client_->DeleteStyle(id).ok());
  EXPECT_EQ(client_->DeleteStyle(id).code(), absl::StatusCode::kNotFound);
  request.set_preserve_color(false);
  EXPECT_EQ(client_->Stylize(request).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->RegisterStyle("not an image").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FakeModelServerTest, FullQueueAnswersResourceExhaustedAndExpiredDeadlinesSkipTheModel) {
  ServerOptions options = TestOptions();
  options.metrics_address = "127.0.0.1:0";
  options.scheduler.max_queue_size = 1;
  control_->gate = std::make_shared<absl::Notification>();
  Start(options);
  const v1::StylizeRequest request = Request(testing::Png(16, 16), testing::Png(16, 16));
  // One call holds the worker, one waits in the queue (with a short deadline), the third finds
  // the queue full.
  std::thread held([&] { EXPECT_TRUE(client_->Stylize(request).ok()); });
  absl::SleepFor(absl::Milliseconds(300));
  auto short_client = Connect(server_->port(), 1, absl::Milliseconds(500));
  std::thread queued([&] {
    EXPECT_EQ(short_client->Stylize(request).status().code(), absl::StatusCode::kDeadlineExceeded);
  });
  absl::SleepFor(absl::Milliseconds(200));
  auto full = client_->Stylize(request);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(full.status().message()), HasSubstr("queue is full"));
  queued.join();  // its deadline passes while it waits
  control_->gate->Notify();
  held.join();
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_EQ(control_->stylize_calls.load(), 1);  // the expired job never reached the model

  const auto metrics = testing::ParsePrometheusText(testing::HttpGet(server_->metrics_port(), "/metrics"));
  EXPECT_EQ(metrics.at(R"(styletransfer_requests_total{code="RESOURCE_EXHAUSTED",rpc="Stylize"})"), 1);
}

TEST_F(FakeModelServerTest, MetricsEndpointServesTheExpositionFormat) {
  ServerOptions options = TestOptions();
  options.metrics_address = "127.0.0.1:0";
  Start(options);
  ASSERT_TRUE(client_->Stylize(Request(testing::Png(16, 16), testing::Png(16, 16))).ok());
  ASSERT_FALSE(client_->Stylize(Request("junk", testing::Png(16, 16))).ok());
  // The gauges are lowered just after the answer is sent: let them settle.
  for (int i = 0; i < 500 && server_->metrics().Scrape().find("\nstyletransfer_in_flight_requests 0\n") == std::string::npos;
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  const auto m = testing::ParsePrometheusText(testing::HttpGet(server_->metrics_port(), "/metrics"));
  EXPECT_EQ(m.at(R"(styletransfer_requests_total{code="OK",rpc="Stylize"})"), 1);
  EXPECT_EQ(m.at(R"(styletransfer_requests_total{code="INVALID_ARGUMENT",rpc="Stylize"})"), 1);
  EXPECT_EQ(m.at(R"(styletransfer_request_duration_seconds_count{rpc="Stylize"})"), 2);
  EXPECT_EQ(m.at(R"(styletransfer_request_duration_seconds_bucket{rpc="Stylize",le="+Inf"})"), 2);
  EXPECT_EQ(m.at("styletransfer_images_processed_total"), 1);
  EXPECT_EQ(m.at("styletransfer_batch_size_count"), 1);
  EXPECT_EQ(m.at("styletransfer_queue_wait_seconds_count"), 1);
  EXPECT_EQ(m.at("styletransfer_encode_duration_seconds_count"), 1);
  EXPECT_GE(m.at("styletransfer_decode_duration_seconds_count"), 1);
  EXPECT_GE(m.at("styletransfer_inference_duration_seconds_count"), 1);
  EXPECT_EQ(m.at("styletransfer_queue_depth"), 0);
  EXPECT_EQ(m.at("styletransfer_in_flight_requests"), 0);
  EXPECT_EQ(m.at("styletransfer_busy_workers"), 0);
  EXPECT_EQ(m.at(R"(styletransfer_model_info{device="cpu",dtype="float32",model="fake",parameters="0"})"), 1);
  bool build_info = false;
  for (const auto& [series, value] : m) build_info |= series.rfind("styletransfer_build_info{", 0) == 0 && value == 1;
  EXPECT_TRUE(build_info);
}

TEST_F(FakeModelServerTest, DrainAnswersAcceptedCallsAndRefusesNewOnes) {
  control_->gate = std::make_shared<absl::Notification>();
  Start();
  const v1::StylizeRequest request = Request(testing::Png(16, 16), testing::Png(16, 16));
  std::thread accepted([&] { EXPECT_TRUE(client_->Stylize(request).ok()); });
  absl::SleepFor(absl::Milliseconds(300));
  bool clean = false;
  std::thread drain([&] { clean = server_->Drain(); });
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(*client_->Health(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(client_->Stylize(request).status().code(), absl::StatusCode::kUnavailable);
  control_->gate->Notify();
  accepted.join();
  drain.join();
  EXPECT_TRUE(clean);
}

TEST(RealModelServerTest, StylizesThroughTheVggModel) {
  if (!testing::RequireShared("models/adain-vgg19/vgg_normalised.pth")) GTEST_SKIP();
  const std::string dir = testing::ConvertedVggWeights();
  ASSERT_FALSE(dir.empty());
  ServerOptions options = TestOptions();
  options.model_dir = dir;
  options.scheduler.warmup_shapes = {{32, 32}};
  auto server = StyleServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->model_info().name, "adain-vgg19");
  auto client = Connect((*server)->port());
  const std::string content = testing::Png(48, 40, 1);
  v1::StylizeRequest request = Request(content, testing::Png(32, 32, 7));
  request.mutable_output()->set_format(v1::IMAGE_FORMAT_PNG);
  auto response = client->Stylize(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->width(), 48u);
  EXPECT_EQ(response->height(), 40u);
  auto out = DecodeImage(response->image(), {});
  auto in = DecodeImage(content, {});
  ASSERT_TRUE(out.ok() && in.ok());
  EXPECT_NE(out->pixels, in->pixels);
  // alpha 0 gives back (roughly) the content: the decoder inverts the encoder.
  request.set_alpha(0.0f);
  auto identity = client->Stylize(request);
  ASSERT_TRUE(identity.ok());
  EXPECT_TRUE((*server)->Drain());
}

// A style image of one colour (with a faint checker, so that its statistics are not degenerate).
std::string TintedPng(uint8_t r, uint8_t g, uint8_t b) {
  RgbImage image;
  image.width = image.height = 32;
  for (int y = 0; y < 32; ++y) {
    for (int x = 0; x < 32; ++x) {
      const int d = (x / 4 + y / 4) % 2 == 0 ? 12 : -12;
      for (const uint8_t c : {r, g, b}) image.pixels.push_back(static_cast<uint8_t>(std::clamp(c + d, 0, 255)));
    }
  }
  auto png = EncodeImage(image, OutputFormat::kPng, 90);
  EXPECT_TRUE(png.ok());
  return png.ok() ? *png : "";
}

// Mean of channel `c` (0 red, 1 green, 2 blue) of an encoded image.
double MeanChannel(const std::string& encoded, int c) {
  auto image = DecodeImage(encoded, {});
  EXPECT_TRUE(image.ok()) << image.status();
  if (!image.ok()) return 0;
  double sum = 0;
  for (size_t i = c; i < image->pixels.size(); i += 3) sum += image->pixels[i];
  return sum / (image->pixels.size() / 3);
}

// The built-in model (models/default, no ../shared needed) is what a server with no --model_dir
// serves: it loads, and its output takes the style's colours: a red style makes the picture
// red, a blue one blue.
TEST(RealModelServerTest, BuiltInModelMovesTheContentTowardsTheStyle) {
  ServerOptions options = TestOptions();
  options.model_dir = testing::DefaultModelDir();
  auto server = StyleServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->model_info().name, "default");
  auto client = Connect((*server)->port());
  const std::string content = testing::Png(64, 48, 1);
  const double content_red_minus_blue = MeanChannel(content, 0) - MeanChannel(content, 2);
  double red_minus_blue[2] = {0, 0};
  int i = 0;
  for (const std::string& style : {TintedPng(210, 50, 40), TintedPng(40, 60, 210)}) {
    v1::StylizeRequest request = Request(content, style);
    request.mutable_output()->set_format(v1::IMAGE_FORMAT_PNG);
    auto response = client->Stylize(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->width(), 64u);
    EXPECT_EQ(response->height(), 48u);
    red_minus_blue[i++] = MeanChannel(response->image(), 0) - MeanChannel(response->image(), 2);
  }
  EXPECT_GT(red_minus_blue[0], content_red_minus_blue + 40) << "red style";
  EXPECT_LT(red_minus_blue[1], content_red_minus_blue - 40) << "blue style";
  EXPECT_TRUE((*server)->Drain());
}

// Tiny inputs (a pixel, a few pixels, one-pixel strips) through the built-in model, which
// edge-pads sides under 16: each is stylized at its own size (or, if ever refused, refused with
// INVALID_ARGUMENT), never crashes, and the server keeps serving.
TEST(RealModelServerTest, TinyImagesAreStylizedOrRefusedCleanly) {
  ServerOptions options = TestOptions();
  options.model_dir = testing::DefaultModelDir();
  auto server = StyleServer::Start(options);
  ASSERT_TRUE(server.ok()) << server.status();
  auto client = Connect((*server)->port());
  const std::pair<int, int> sizes[] = {{1, 1}, {2, 2}, {3, 2}, {1000, 1}, {1, 1000}, {15, 1}, {17, 2}};
  int stylized = 0;
  for (const auto& [width, height] : sizes) {
    for (const auto& [style_width, style_height] : {std::pair{1, 1}, std::pair{2, 3}, std::pair{40, 30}}) {
      const std::string what = absl::StrCat(width, "x", height, " content, ", style_width, "x", style_height, " style");
      v1::StylizeRequest request = Request(testing::Png(width, height, 3), testing::Png(style_width, style_height, 4));
      request.mutable_output()->set_format(v1::IMAGE_FORMAT_PNG);
      auto response = client->Stylize(request);
      if (!response.ok()) {
        EXPECT_EQ(response.status().code(), absl::StatusCode::kInvalidArgument) << what << ": " << response.status();
        continue;
      }
      ++stylized;
      EXPECT_EQ(response->width(), static_cast<uint32_t>(width)) << what;
      EXPECT_EQ(response->height(), static_cast<uint32_t>(height)) << what;
      auto decoded = DecodeImage(response->image(), {});
      ASSERT_TRUE(decoded.ok()) << what << ": " << decoded.status();
      EXPECT_EQ(decoded->width, width) << what;
      EXPECT_EQ(decoded->height, height) << what;
    }
  }
  EXPECT_EQ(stylized, 21);  // today every one of them is stylized
  // Tiny inputs through the other paths: registering a 1x1 style and a FIT to the minimum side.
  auto registered = client->RegisterStyle(testing::Png(1, 1, 9));
  ASSERT_TRUE(registered.ok()) << registered.status();
  v1::StylizeRequest by_id;
  by_id.set_content(testing::Png(1000, 1));
  by_id.add_styles()->set_style_id(registered->style().style_id());
  by_id.mutable_size()->set_mode(v1::SizePolicy::FIT);
  by_id.mutable_size()->set_max_side(16);
  auto fitted = client->Stylize(by_id);
  ASSERT_TRUE(fitted.ok()) << fitted.status();
  EXPECT_EQ(fitted->width(), 16u);
  EXPECT_EQ(fitted->height(), 1u);
  EXPECT_TRUE(client->Stylize(Request(testing::Png(48, 40), testing::Png(32, 32))).ok());
  EXPECT_TRUE((*server)->Drain());
}

}  // namespace
}  // namespace style
