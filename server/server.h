// The whole server: gRPC front (service, health, reflection), metrics endpoint, codec pool,
// style registry and scheduler, started and stopped in order.
//
// Start order: metrics, gRPC listening with health NOT_SERVING (so probes get an answer while
// the model loads), model load and warm-up, then health SERVING. Drain order: health
// NOT_SERVING and new model work refused, wait for accepted calls up to the drain timeout,
// gRPC shutdown, workers joined.
#ifndef STYLE_SERVER_SERVER_H_
#define STYLE_SERVER_SERVER_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/metrics.h"
#include "server/scheduler.h"
#include "server/security.h"
#include "server/service.h"
#include "server/style_registry.h"
#include "server/thread_pool.h"

namespace style {

struct ServerOptions {
  std::string listen_address = "0.0.0.0:50051";  // port 0 picks a free port (tests)
  std::string metrics_address = "0.0.0.0:9090";  // empty: no /metrics endpoint
  std::string model_dir;                          // encoder.pt + decoder.pt
  std::string device = "cpu";                     // cpu, cuda:N, a list, or cuda (every GPU)
  std::string dtype = "float32";                  // float32, float16 (GPU), bfloat16
  int workers_per_device = 1;                     // with the AdainModel; sets scheduler.num_workers
  bool fuse_relu = true;                          // CUDA: cuDNN fused convolution+ReLU
  bool cuda_graphs = true;                        // CUDA: replay captured graphs per batch shape
  SchedulerOptions scheduler;
  ServiceOptions service;
  int codec_threads = 2;                          // decode/encode threads
  size_t max_registered_styles = 10000;
  int max_message_bytes = 64 << 20;               // gRPC receive/send limit
  absl::Duration drain_timeout = absl::Seconds(30);

  // Security: TLS / mutual TLS of listen_address; the bearer token is service.auth.bearer_token
  // (with TLS on, service.auth.require_tls is set by Start).
  TlsOptions tls;
  // An extra plaintext port on which only the health service answers (StyleTransfer calls get
  // UNAUTHENTICATED when TLS is on), for probes that cannot speak TLS such as Kubernetes' gRPC
  // probes. Empty: none.
  std::string health_listen_address;

  // Connection management. After max_connection_age (plus up to 10% jitter) a connection gets
  // GOAWAY and calls still open on it have max_connection_age_grace to finish, so that clients
  // behind an L4 load balancer reconnect and spread over new pods. InfiniteDuration: never.
  absl::Duration max_connection_age = absl::Minutes(5);
  absl::Duration max_connection_age_grace = absl::Seconds(30);
  // The shortest interval between client keepalive pings that the server accepts without
  // closing the connection (the client library pings every 60 s while calls are active, and
  // never without calls).
  absl::Duration keepalive_min_ping_interval = absl::Seconds(30);
};

// The channel arguments StyleServer::Start gives the gRPC server for `options` (connection age,
// keepalive policy), as (name, value) pairs.
std::vector<std::pair<std::string, int>> ServerChannelArgs(const ServerOptions& options);

class StyleServer {
 public:
  // Starts everything and returns once health is SERVING. `factory` makes each worker's model;
  // when null, an AdainModel is loaded from options.model_dir. Errors: the model's (naming the
  // file and tensor), or UNAVAILABLE when an address cannot be bound.
  static absl::StatusOr<std::unique_ptr<StyleServer>> Start(const ServerOptions& options,
                                                            ModelFactory factory = nullptr);
  // Drains if that has not happened yet.
  ~StyleServer();

  // The bound gRPC, health-only and metrics ports (useful with port 0); health_port() is 0
  // without health_listen_address.
  int port() const { return port_; }
  int health_port() const { return health_port_; }
  int metrics_port() const { return metrics_->port(); }
  Metrics& metrics() { return *metrics_; }
  const ModelInfo& model_info() const { return scheduler_->model_info(); }

  // Stops in the order described above; returns true if every accepted call was answered
  // within the drain timeout. Idempotent.
  bool Drain();

 private:
  StyleServer() = default;

  ServerOptions options_;
  int port_ = 0;
  int health_port_ = 0;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<StyleRegistry> registry_;
  std::unique_ptr<ThreadPool> codec_pool_;
  std::unique_ptr<StyleTransferService> service_;
  std::unique_ptr<grpc::Server> grpc_server_;
  std::unique_ptr<Scheduler> scheduler_;
  bool drained_ = false;
  bool drained_cleanly_ = false;
};

// Parses "float32", "float16"/"half", "bfloat16".
absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name);

}  // namespace style

#endif  // STYLE_SERVER_SERVER_H_
