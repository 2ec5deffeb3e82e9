#include "server/metrics.h"

#include <sstream>

#include <prometheus/text_serializer.h>

#include "absl/strings/str_cat.h"
#include "server/status_util.h"

#ifndef STYLE_VERSION
#define STYLE_VERSION "dev"
#endif
#ifndef STYLE_TORCH_VERSION
#define STYLE_TORCH_VERSION "unknown"
#endif

namespace style {
namespace {

// Latency buckets from 1 ms to 60 s: a GPU request takes milliseconds, a large CPU one seconds.
const prometheus::Histogram::BucketBoundaries& SecondsBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return *buckets;
}

}  // namespace

const char* RpcName(Rpc rpc) {
  switch (rpc) {
    case Rpc::kStylize: return "Stylize";
    case Rpc::kRegisterStyle: return "RegisterStyle";
    case Rpc::kListStyles: return "ListStyles";
    case Rpc::kDeleteStyle: return "DeleteStyle";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Metrics>> Metrics::Create(const MetricsOptions& options) {
  std::unique_ptr<Metrics> m(new Metrics());
  m->registry_ = std::make_shared<prometheus::Registry>();
  auto& registry = *m->registry_;

  auto& requests = prometheus::BuildCounter()
                       .Name("styletransfer_requests_total")
                       .Help("RPCs answered, by method and gRPC status code")
                       .Register(registry);
  auto& latency = prometheus::BuildHistogram()
                      .Name("styletransfer_request_duration_seconds")
                      .Help("Time from an RPC's arrival to its answer, by method")
                      .Register(registry);
  for (int r = 0; r < kRpcCount; ++r) {
    const char* rpc = RpcName(static_cast<Rpc>(r));
    for (int c = 0; c < 17; ++c) {
      m->requests_[r][c] = &requests.Add({{"rpc", rpc}, {"code", GrpcCodeName(static_cast<grpc::StatusCode>(c))}});
    }
    m->latency_[r] = &latency.Add({{"rpc", rpc}}, SecondsBuckets());
  }
  auto histogram = [&](const char* name, const char* help) {
    return &prometheus::BuildHistogram().Name(name).Help(help).Register(registry).Add({}, SecondsBuckets());
  };
  m->queue_wait_ = histogram("styletransfer_queue_wait_seconds", "Time jobs waited in the queue for a worker");
  m->inference_ = histogram("styletransfer_inference_duration_seconds", "Model time per batch");
  m->decode_ = histogram("styletransfer_decode_duration_seconds", "Time to decode one request's images");
  m->encode_ = histogram("styletransfer_encode_duration_seconds", "Time to encode one result image");
  m->batch_size_ = &prometheus::BuildHistogram()
                        .Name("styletransfer_batch_size")
                        .Help("Jobs per model call")
                        .Register(registry)
                        .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64});
  m->images_ = &prometheus::BuildCounter()
                    .Name("styletransfer_images_processed_total")
                    .Help("Images stylized")
                    .Register(registry)
                    .Add({});
  auto gauge = [&](const char* name, const char* help) {
    return &prometheus::BuildGauge().Name(name).Help(help).Register(registry).Add({});
  };
  m->queue_depth_ = gauge("styletransfer_queue_depth", "Jobs waiting for a worker");
  m->in_flight_ = gauge("styletransfer_in_flight_requests", "Stylize requests accepted and not yet answered");
  m->busy_workers_ = gauge("styletransfer_busy_workers", "Workers running the model now");
  m->workers_ = gauge("styletransfer_workers", "Model workers configured (--workers)");
  m->queue_capacity_ = gauge("styletransfer_queue_capacity", "Jobs the queue holds before RESOURCE_EXHAUSTED (--queue_size)");
  m->serving_ = gauge("styletransfer_serving",
                      "1 while the health service reports SERVING (model loaded and warmed up); 0 while "
                      "loading or draining");
  prometheus::BuildGauge()
      .Name("styletransfer_build_info")
      .Help("The server's version and the LibTorch it was built with (always 1)")
      .Register(registry)
      .Add({{"version", STYLE_VERSION}, {"torch", STYLE_TORCH_VERSION}})
      .Set(1);
  m->model_info_ = &prometheus::BuildGauge()
                        .Name("styletransfer_model_info")
                        .Help("The loaded model (always 1)")
                        .Register(registry);

  if (!options.listen_address.empty()) {
    try {
      m->exposer_ = std::make_unique<prometheus::Exposer>(options.listen_address, /*num_threads=*/2);
    } catch (const std::exception& e) {
      return absl::UnavailableError(
          absl::StrCat("cannot serve metrics on ", options.listen_address, ": ", e.what()));
    }
    m->exposer_->RegisterCollectable(m->registry_);
  }
  return m;
}

void Metrics::SetModelInfo(const ModelInfo& info) {
  model_info_->Add({{"model", info.name}, {"device", info.device}, {"dtype", info.dtype},
                    {"parameters", absl::StrCat(info.parameters)}})
      .Set(1);
}

void Metrics::CountRequest(Rpc rpc, grpc::StatusCode code, double seconds) {
  const int c = static_cast<int>(code);
  requests_[static_cast<int>(rpc)][c >= 0 && c < 17 ? c : 2]->Increment();
  latency_[static_cast<int>(rpc)]->Observe(seconds);
}

void Metrics::ObserveBatch(int size) {
  batch_size_->Observe(size);
  images_->Increment(size);
}

int Metrics::port() const {
  if (!exposer_) return 0;
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

std::string Metrics::Scrape() const {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, registry_->Collect());
  return out.str();
}

}  // namespace style
