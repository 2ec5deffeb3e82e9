#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <google/protobuf/stubs/logging.h>

#include <algorithm>
#include <climits>
#include <cstdio>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/adain_model.h"
#include "server/device.h"
#include "server/image_codec.h"

namespace style {
namespace {

// libprotobuf logs an ERROR line for every request whose string fields are not UTF-8 ("...
// when parsing a protocol buffer"): one line per hostile request, about the client's data.
// Those are dropped; everything else is printed as libprotobuf's default handler does.
void ProtobufLog(google::protobuf::LogLevel level, const char* filename, int line, const std::string& message) {
  if (absl::StrContains(message, "when parsing a protocol buffer")) return;
  static const char* const kLevelNames[] = {"INFO", "WARNING", "ERROR", "FATAL"};
  std::fprintf(stderr, "[libprotobuf %s %s:%d] %s\n", kLevelNames[level], filename, line, message.c_str());
  std::fflush(stderr);
}

}  // namespace

absl::StatusOr<at::ScalarType> ParseDtype(const std::string& name) {
  if (name == "float32" || name == "float") return at::kFloat;
  if (name == "float16" || name == "half") return at::kHalf;
  if (name == "bfloat16") return at::kBFloat16;
  return absl::InvalidArgumentError(absl::StrCat("unknown dtype \"", name, "\"; use float32, float16 or bfloat16"));
}

namespace {

int Millis(absl::Duration d) {
  if (d == absl::InfiniteDuration()) return INT_MAX;
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT_MAX));
}

}  // namespace

std::vector<std::pair<std::string, int>> ServerChannelArgs(const ServerOptions& options) {
  return {
      {GRPC_ARG_MAX_CONNECTION_AGE_MS, Millis(options.max_connection_age)},
      {GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS, Millis(options.max_connection_age_grace)},
      // Clients ping only while calls are active, at most every keepalive_min_ping_interval.
      {GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS, Millis(options.keepalive_min_ping_interval)},
      {GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0},
      // Pings that come too often are tolerated twice before the connection is closed (gRPC's
      // default, stated here so that it is visible next to the interval).
      {GRPC_ARG_HTTP2_MAX_PING_STRIKES, 2},
  };
}

absl::StatusOr<std::unique_ptr<StyleServer>> StyleServer::Start(const ServerOptions& given_options,
                                                                ModelFactory factory) {
  std::unique_ptr<StyleServer> server(new StyleServer());
  server->options_ = given_options;
  ServerOptions& options = server->options_;
  if (absl::Status s = InitImageCodec(); !s.ok()) return s;
  static std::once_flag quiet_protobuf;
  std::call_once(quiet_protobuf, [] { google::protobuf::SetLogHandler(ProtobufLog); });
  auto credentials = MakeServerCredentials(options.tls);
  if (!credentials.ok()) return credentials.status();
  ServiceOptions service_options = options.service;
  service_options.auth.require_tls = options.tls.enabled();

  if (!factory) {
    auto dtype = ParseDtype(options.dtype);
    if (!dtype.ok()) return dtype.status();
    auto devices = ParseDevices(options.device);
    if (!devices.ok()) return devices.status();
    if (options.workers_per_device < 1) return absl::InvalidArgumentError("workers per device must be at least 1");
    options.scheduler.num_workers = options.workers_per_device * static_cast<int>(devices->size());
    if (std::any_of(devices->begin(), devices->end(), [](const at::Device& d) { return d.is_cuda(); })) {
      ConfigureCudaForInference();
    }
    // Fail fast on bad weights, before listening; the workers copy these CPU tensors.
    auto networks = LoadAdainNetworks(options.model_dir);
    if (!networks.ok()) return networks.status();
    // Worker i runs on device i % devices: workers of one device are spread evenly.
    factory = [networks = *networks, devices = *devices, dtype = *dtype, fuse = options.fuse_relu,
               graphs = options.cuda_graphs](int index)
        -> absl::StatusOr<std::unique_ptr<StyleModel>> {
      AdainModelOptions model_options;
      model_options.device = devices[static_cast<size_t>(index) % devices.size()].str();
      model_options.dtype = dtype;
      model_options.fuse_relu = fuse;
      model_options.cuda_graphs = graphs;
      auto model = AdainModel::Create(networks, model_options);
      if (!model.ok()) return model.status();
      return std::unique_ptr<StyleModel>(std::move(*model));
    };
  }

  auto metrics = Metrics::Create({options.metrics_address});
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = std::move(*metrics);
  server->metrics_->workers().Set(options.scheduler.num_workers);
  server->metrics_->queue_capacity().Set(static_cast<double>(options.scheduler.max_queue_size));
  server->registry_ = std::make_unique<StyleRegistry>(options.max_registered_styles);
  server->codec_pool_ = std::make_unique<ThreadPool>(options.codec_threads);
  server->service_ = std::make_unique<StyleTransferService>(service_options, server->registry_.get(),
                                                            server->codec_pool_.get(), server->metrics_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, *credentials, &server->port_);
  if (!options.health_listen_address.empty()) {
    builder.AddListeningPort(options.health_listen_address, grpc::InsecureServerCredentials(), &server->health_port_);
  }
  for (const auto& [name, value] : ServerChannelArgs(options)) builder.AddChannelArgument(name, value);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  server->grpc_server_ = builder.BuildAndStart();
  if (!server->grpc_server_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options.listen_address));
  }
  if (!options.health_listen_address.empty() && server->health_port_ == 0) {
    server->grpc_server_->Shutdown();
    return absl::UnavailableError(absl::StrCat("cannot listen for health checks on ", options.health_listen_address));
  }
  grpc::HealthCheckServiceInterface* health = server->grpc_server_->GetHealthCheckService();
  health->SetServingStatus(false);

  auto scheduler = Scheduler::Create(options.scheduler, factory, server->metrics_.get());
  if (!scheduler.ok()) {
    server->grpc_server_->Shutdown();
    return scheduler.status();
  }
  server->scheduler_ = std::move(*scheduler);
  server->service_->SetScheduler(server->scheduler_.get());
  health->SetServingStatus(true);
  server->metrics_->serving().Set(1);
  return server;
}

StyleServer::~StyleServer() {
  if (grpc_server_) Drain();
}

bool StyleServer::Drain() {
  if (drained_) return drained_cleanly_;
  drained_ = true;
  // Refuse new work first, then tell the health checkers: whoever sees NOT_SERVING can rely on
  // a new call being refused.
  service_->StartDraining();
  grpc_server_->GetHealthCheckService()->SetServingStatus(false);
  metrics_->serving().Set(0);
  drained_cleanly_ = service_->WaitIdle(options_.drain_timeout);
  // Cancels calls still open after the timeout and waits for their reactors to finish, which
  // the workers and codec threads still running make sure of.
  grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  if (scheduler_) scheduler_->Shutdown();
  codec_pool_.reset();
  return drained_cleanly_;
}

}  // namespace style
