// The client library: a thread-safe wrapper around the StyleTransfer and Health stubs that adds
// load balancing over several servers, per-attempt deadlines and bounded retries with backoff.
#ifndef STYLE_CLIENT_CLIENT_H_
#define STYLE_CLIENT_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/security/credentials.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "styletransfer/v1/style_transfer.grpc.pb.h"

namespace style {

// How a StyleClient connects and retries.
struct ClientOptions {
  // One or more servers as host:port ([v6]:port for IPv6 literals), or full gRPC targets
  // ("dns:///svc:50051", "unix:/path"). A single host name is resolved through DNS to all its
  // addresses (a headless Kubernetes service gives every pod); several addresses are balanced
  // round robin.
  std::vector<std::string> addresses;
  // Deadline of each attempt.
  absl::Duration deadline = absl::Seconds(30);
  // Deadline of a whole call, retries and backoff included; no attempt runs past it.
  absl::Duration overall_deadline = absl::Minutes(2);
  // Attempts per call; 1 disables retries.
  int max_attempts = 4;
  // Backoff before retry n (n = 1, 2, ...): min(max_backoff, initial_backoff * multiplier^(n-1)),
  // then scaled by a random factor in [1 - jitter, 1 + jitter].
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(2);
  double backoff_multiplier = 2.0;
  double backoff_jitter = 0.2;
  // Largest message sent or received.
  int max_message_bytes = 64 << 20;
  // Channel credentials; null means insecure.
  std::shared_ptr<grpc::ChannelCredentials> credentials;
  // When non-empty, sent with every call as "authorization: Bearer <token>".
  std::string bearer_token;
  // TLS only: the name the server's certificate must hold, instead of the address's host (for
  // addresses that are IPs or internal names the certificate does not list).
  std::string tls_server_name;
};

// The gRPC targets for `addresses`: one target when a single channel can balance over all of
// them (one address, or only IPv4 or only IPv6 literals), otherwise one target per address.
// INVALID_ARGUMENT when the list is empty or an address is malformed.
absl::StatusOr<std::vector<std::string>> ChannelTargets(const std::vector<std::string>& addresses);

// The backoff before retry number `retry` (1-based) for a random `unit` in [0, 1).
absl::Duration RetryBackoff(const ClientOptions& options, int retry, double unit);

// True for the codes that a call is retried on: UNAVAILABLE and RESOURCE_EXHAUSTED.
bool IsRetryableCode(absl::StatusCode code);

// A client of the style-transfer service. Every method is safe to call from many threads at
// once; errors carry the server's code and message (or the local gRPC error: UNAVAILABLE when no
// server could be reached, DEADLINE_EXCEEDED when the deadline passed).
class StyleClient {
 public:
  using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

  // Opens the channels (lazily connecting). INVALID_ARGUMENT on an empty address list, a
  // malformed address or an out-of-range option.
  static absl::StatusOr<std::unique_ptr<StyleClient>> Create(const ClientOptions& options);

  StyleClient(const StyleClient&) = delete;
  StyleClient& operator=(const StyleClient&) = delete;

  // Stylizes one content image. INVALID_ARGUMENT also locally, when the request is larger than
  // max_message_bytes.
  absl::StatusOr<styletransfer::v1::StylizeResponse> Stylize(
      const styletransfer::v1::StylizeRequest& request) const;

  // Registers a style image under its content-derived id.
  absl::StatusOr<styletransfer::v1::RegisterStyleResponse> RegisterStyle(
      std::string image_bytes, std::string name = "") const;

  // All registered styles, ordered by id.
  absl::StatusOr<std::vector<styletransfer::v1::StyleInfo>> ListStyles() const;

  // Deletes a registered style; NOT_FOUND if there is none with that id.
  absl::Status DeleteStyle(const std::string& style_id) const;

  // The serving status of `service` ("" = the whole server) from the standard health service;
  // NOT_FOUND when the server does not know the service.
  absl::StatusOr<ServingStatus> Health(const std::string& service = "") const;

  // The gRPC targets the client's channels were opened on.
  const std::vector<std::string>& targets() const { return targets_; }
  const ClientOptions& options() const { return options_; }

 private:
  struct Backend {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<styletransfer::v1::StyleTransfer::Stub> style_stub;
    std::unique_ptr<grpc::health::v1::Health::Stub> health_stub;
  };

  StyleClient(ClientOptions options, std::vector<std::string> targets,
              std::vector<Backend> backends);

  // The backend for the next attempt (rotates when there are several channels).
  const Backend& NextBackend() const;

  // Runs `invoke(backend, context, response)` with retries; see ClientOptions.
  template <typename Response, typename Invoke>
  absl::StatusOr<Response> Call(Invoke invoke) const;

  ClientOptions options_;
  std::vector<std::string> targets_;
  std::vector<Backend> backends_;
  mutable std::atomic<uint64_t> next_backend_{0};
};

}  // namespace style

#endif  // STYLE_CLIENT_CLIENT_H_
