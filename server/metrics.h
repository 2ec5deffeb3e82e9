// The service's Prometheus metrics, and the HTTP endpoint that serves them on their own port.
//
// Every family and label set is created once in Create (prometheus-cpp's Add() is slow), so
// recording is cheap and lock-free apart from prometheus-cpp's own atomics. Thread-safe.
//
// Names (all prefixed styletransfer_), documented in docs/operations.md:
//   requests_total{rpc,code}                  counter
//   request_duration_seconds{rpc}             histogram, end to end in the server
//   queue_wait_seconds, inference_duration_seconds, decode_duration_seconds,
//   encode_duration_seconds                   histograms
//   batch_size                                histogram of jobs per model call
//   images_processed_total                    counter of stylized images
//   queue_depth, in_flight_requests, busy_workers   gauges
//   workers, queue_capacity                   gauges of the configuration (for saturation ratios)
//   serving                                   gauge: 1 while health says SERVING
//   build_info{version,torch}, model_info{model,device,dtype}   gauges fixed at 1
#ifndef STYLE_SERVER_METRICS_H_
#define STYLE_SERVER_METRICS_H_

#include <array>
#include <memory>
#include <string>

#include <grpcpp/support/status_code_enum.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "absl/status/statusor.h"
#include "server/model_info.h"

namespace style {

enum class Rpc { kStylize, kRegisterStyle, kListStyles, kDeleteStyle };
constexpr int kRpcCount = 4;
const char* RpcName(Rpc rpc);

struct MetricsOptions {
  // host:port for the /metrics endpoint ("0.0.0.0:9090"; port 0 picks a free one). Empty: no
  // endpoint (tests read Scrape()).
  std::string listen_address;
};

class Metrics {
 public:
  // INVALID_ARGUMENT / UNAVAILABLE when the endpoint cannot listen on the address.
  static absl::StatusOr<std::unique_ptr<Metrics>> Create(const MetricsOptions& options);

  void SetModelInfo(const ModelInfo& info);

  void CountRequest(Rpc rpc, grpc::StatusCode code, double seconds);
  void ObserveQueueWait(double seconds) { queue_wait_->Observe(seconds); }
  void ObserveInference(double seconds) { inference_->Observe(seconds); }
  void ObserveDecode(double seconds) { decode_->Observe(seconds); }
  void ObserveEncode(double seconds) { encode_->Observe(seconds); }
  void ObserveBatch(int size);

  prometheus::Gauge& queue_depth() { return *queue_depth_; }
  prometheus::Gauge& in_flight() { return *in_flight_; }
  prometheus::Gauge& busy_workers() { return *busy_workers_; }
  prometheus::Gauge& workers() { return *workers_; }
  prometheus::Gauge& queue_capacity() { return *queue_capacity_; }
  prometheus::Gauge& serving() { return *serving_; }

  // The port /metrics listens on, or 0 without an endpoint.
  int port() const;
  // The current text exposition, exactly as /metrics serves it.
  std::string Scrape() const;

 private:
  Metrics() = default;

  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<prometheus::Exposer> exposer_;
  // [rpc][code]
  std::array<std::array<prometheus::Counter*, 17>, kRpcCount> requests_{};
  std::array<prometheus::Histogram*, kRpcCount> latency_{};
  prometheus::Histogram* queue_wait_ = nullptr;
  prometheus::Histogram* inference_ = nullptr;
  prometheus::Histogram* decode_ = nullptr;
  prometheus::Histogram* encode_ = nullptr;
  prometheus::Histogram* batch_size_ = nullptr;
  prometheus::Counter* images_ = nullptr;
  prometheus::Gauge* queue_depth_ = nullptr;
  prometheus::Gauge* in_flight_ = nullptr;
  prometheus::Gauge* busy_workers_ = nullptr;
  prometheus::Gauge* workers_ = nullptr;
  prometheus::Gauge* queue_capacity_ = nullptr;
  prometheus::Gauge* serving_ = nullptr;
  prometheus::Family<prometheus::Gauge>* model_info_ = nullptr;
};

}  // namespace style

#endif  // STYLE_SERVER_METRICS_H_
