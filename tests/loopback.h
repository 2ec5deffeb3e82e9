// Helpers shared by the tests that run a StyleServer in-process on loopback and call it through
// the client library (server, fault injection and security tests).
#ifndef STYLE_TESTS_LOOPBACK_H_
#define STYLE_TESTS_LOOPBACK_H_

#include <memory>
#include <string>

#include "absl/time/time.h"
#include "client/client.h"
#include "server/server.h"
#include "styletransfer/v1/style_transfer.pb.h"

namespace style::testing {

// A server on 127.0.0.1, port 0, with no warm-up, two codec threads, a 5 s drain and no
// /metrics endpoint (civetweb takes 2 s to stop: tests that read it set metrics_address).
ServerOptions LoopbackServerOptions();

// A client of 127.0.0.1:`port` that does not retry: every failure reaches the test.
ClientOptions LoopbackClientOptions(int port, absl::Duration deadline = absl::Seconds(20));

// StyleClient::Create(options); fails the current test (and returns null) if it cannot.
std::unique_ptr<StyleClient> Connect(const ClientOptions& options);
std::unique_ptr<StyleClient> Connect(int port, int attempts = 1, absl::Duration deadline = absl::Seconds(20));

// A Stylize request of one content image and one style image, both encoded.
styletransfer::v1::StylizeRequest StylizeRequestOf(std::string content, std::string style);

}  // namespace style::testing

#endif  // STYLE_TESTS_LOOPBACK_H_
