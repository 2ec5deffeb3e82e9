#include "tests/loopback.h"

#include <utility>

#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"

namespace style::testing {

ServerOptions LoopbackServerOptions() {
  ServerOptions options;
  options.listen_address = "127.0.0.1:0";
  options.metrics_address = "";
  options.scheduler.warmup_shapes = {};
  options.codec_threads = 2;
  options.drain_timeout = absl::Seconds(5);
  return options;
}

ClientOptions LoopbackClientOptions(int port, absl::Duration deadline) {
  ClientOptions options;
  options.addresses = {absl::StrCat("127.0.0.1:", port)};
  options.max_attempts = 1;
  options.deadline = deadline;
  return options;
}

std::unique_ptr<StyleClient> Connect(const ClientOptions& options) {
  auto client = StyleClient::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? std::move(*client) : nullptr;
}

std::unique_ptr<StyleClient> Connect(int port, int attempts, absl::Duration deadline) {
  ClientOptions options = LoopbackClientOptions(port, deadline);
  options.max_attempts = attempts;
  return Connect(options);
}

styletransfer::v1::StylizeRequest StylizeRequestOf(std::string content, std::string style) {
  styletransfer::v1::StylizeRequest request;
  request.set_content(std::move(content));
  request.add_styles()->set_image(std::move(style));
  return request;
}

}  // namespace style::testing
