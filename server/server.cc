#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/health_check_service_interface.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>

#include <google/protobuf/stubs/logging.h>

#include <cstdio>
#include <mutex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/adain_model.h"
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

absl::StatusOr<std::unique_ptr<StyleServer>> StyleServer::Start(const ServerOptions& options, ModelFactory factory) {
  std::unique_ptr<StyleServer> server(new StyleServer());
  server->options_ = options;
  if (absl::Status s = InitImageCodec(); !s.ok()) return s;
  static std::once_flag quiet_protobuf;
  std::call_once(quiet_protobuf, [] { google::protobuf::SetLogHandler(ProtobufLog); });

  if (!factory) {
    auto dtype = ParseDtype(options.dtype);
    if (!dtype.ok()) return dtype.status();
    // Fail fast on bad weights, before listening; the workers share these CPU tensors.
    auto networks = LoadAdainNetworks(options.model_dir);
    if (!networks.ok()) return networks.status();
    factory = [networks = *networks, model_options = AdainModelOptions{options.device, *dtype}](int)
        -> absl::StatusOr<std::unique_ptr<StyleModel>> {
      auto model = AdainModel::Create(networks, model_options);
      if (!model.ok()) return model.status();
      return std::unique_ptr<StyleModel>(std::move(*model));
    };
  }

  auto metrics = Metrics::Create({options.metrics_address});
  if (!metrics.ok()) return metrics.status();
  server->metrics_ = std::move(*metrics);
  server->registry_ = std::make_unique<StyleRegistry>(options.max_registered_styles);
  server->codec_pool_ = std::make_unique<ThreadPool>(options.codec_threads);
  server->service_ = std::make_unique<StyleTransferService>(options.service, server->registry_.get(),
                                                            server->codec_pool_.get(), server->metrics_.get());

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen_address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  builder.SetMaxSendMessageSize(options.max_message_bytes);
  server->grpc_server_ = builder.BuildAndStart();
  if (!server->grpc_server_ || server->port_ == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen for gRPC on ", options.listen_address));
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
  drained_cleanly_ = service_->WaitIdle(options_.drain_timeout);
  // Cancels calls still open after the timeout and waits for their reactors to finish, which
  // the workers and codec threads still running make sure of.
  grpc_server_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
  if (scheduler_) scheduler_->Shutdown();
  codec_pool_.reset();
  return drained_cleanly_;
}

}  // namespace style
