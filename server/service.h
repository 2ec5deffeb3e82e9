// The StyleTransfer gRPC service (callback API): validates each request, hands decoding to the
// codec pool, the model work to the scheduler, encoding back to the codec pool, and answers.
//
//   gRPC thread: validate -> codec pool: decode -> scheduler: model -> codec pool: encode -> Finish
//
// Every call is first checked against options.auth (bearer token, TLS-only): UNAUTHENTICATED.
// Requests are refused with UNAVAILABLE before SetScheduler (model loading) and after
// StartDraining; with RESOURCE_EXHAUSTED past max_in_flight or when the job queue is full.
// Thread-safe. The scheduler, registry, pool and metrics must outlive every call.
#ifndef STYLE_SERVER_SERVICE_H_
#define STYLE_SERVER_SERVICE_H_

#include <atomic>
#include <memory>

#include "absl/synchronization/mutex.h"
#include "server/metrics.h"
#include "server/request_validation.h"
#include "server/scheduler.h"
#include "server/security.h"
#include "server/style_registry.h"
#include "server/thread_pool.h"
#include "styletransfer/v1/style_transfer.grpc.pb.h"

namespace style {

struct ServiceOptions {
  RequestLimits limits;
  // Stylize and RegisterStyle calls accepted at once (decoding, queued, computing, encoding).
  int64_t max_in_flight = 256;
  // Bearer token and TLS requirement of every call (health and reflection are other services).
  CallAuthPolicy auth;
};

class StyleTransferService final : public styletransfer::v1::StyleTransfer::CallbackService {
 public:
  StyleTransferService(const ServiceOptions& options, StyleRegistry* registry, ThreadPool* codec_pool,
                       Metrics* metrics);

  // Starts serving model work through `scheduler` (which must outlive the service's calls).
  void SetScheduler(Scheduler* scheduler);
  // From now on new Stylize and RegisterStyle calls get UNAVAILABLE; accepted ones finish.
  void StartDraining();
  // Stylize and RegisterStyle calls accepted and not yet answered.
  int64_t in_flight() const { return in_flight_.load(); }
  // Blocks until in_flight() is 0 or `timeout` passes; true if it reached 0.
  bool WaitIdle(absl::Duration timeout);

  grpc::ServerUnaryReactor* Stylize(grpc::CallbackServerContext* context,
                                    const styletransfer::v1::StylizeRequest* request,
                                    styletransfer::v1::StylizeResponse* response) override;
  grpc::ServerUnaryReactor* RegisterStyle(grpc::CallbackServerContext* context,
                                          const styletransfer::v1::RegisterStyleRequest* request,
                                          styletransfer::v1::RegisterStyleResponse* response) override;
  grpc::ServerUnaryReactor* ListStyles(grpc::CallbackServerContext* context,
                                       const styletransfer::v1::ListStylesRequest* request,
                                       styletransfer::v1::ListStylesResponse* response) override;
  grpc::ServerUnaryReactor* DeleteStyle(grpc::CallbackServerContext* context,
                                        const styletransfer::v1::DeleteStyleRequest* request,
                                        styletransfer::v1::DeleteStyleResponse* response) override;

 private:
  struct Call;
  class StylizeCall;
  class RegisterCall;

  // Admits a model-bound call or explains why not (UNAVAILABLE / RESOURCE_EXHAUSTED).
  absl::Status Admit();
  // Answers `call`, records its metrics and releases its admission.
  void Finish(Call* call, const absl::Status& status);
  grpc::ServerUnaryReactor* FinishNow(grpc::CallbackServerContext* context, Rpc rpc, absl::Time start,
                                      const absl::Status& status);

  const ServiceOptions options_;
  StyleRegistry* const registry_;
  ThreadPool* const codec_pool_;
  Metrics* const metrics_;
  std::atomic<Scheduler*> scheduler_{nullptr};
  std::atomic<bool> draining_{false};
  std::atomic<int64_t> in_flight_{0};
  absl::Mutex idle_mu_;  // with in_flight_, for WaitIdle
};

}  // namespace style

#endif  // STYLE_SERVER_SERVICE_H_
