#include "server/service.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "server/adain.h"
#include "server/security.h"
#include "server/status_util.h"
#include "server/tensor_image.h"

namespace style {

namespace v1 = styletransfer::v1;

namespace {

// The same error, with where it happened in front ("style 1: ...").
absl::Status Prefixed(const std::string& where, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(where, ": ", status.message()));
}

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

void FillStyleInfo(const RegisteredStyle& style, v1::StyleInfo* info) {
  info->set_style_id(style.id);
  info->set_name(style.name);
  info->set_width(static_cast<uint32_t>(style.width));
  info->set_height(static_cast<uint32_t>(style.height));
  info->set_created_unix_seconds(style.created_unix_seconds);
}

}  // namespace

// What every model-bound call carries through the pipeline. Owned by the pipeline from the
// handler's return until Finish deletes it.
struct StyleTransferService::Call {
  Call(Rpc rpc, grpc::CallbackServerContext* context) : rpc(rpc), context(context), reactor(context->DefaultReactor()) {}
  virtual ~Call() = default;

  const Rpc rpc;
  grpc::CallbackServerContext* const context;
  grpc::ServerUnaryReactor* const reactor;
  const absl::Time start = absl::Now();

  // The job for the scheduler: deadline and cancellation come from the call.
  std::unique_ptr<Job> NewJob(Job::Kind kind) const {
    auto job = std::make_unique<Job>();
    job->kind = kind;
    job->deadline = absl::FromChrono(context->deadline());
    grpc::CallbackServerContext* ctx = context;
    job->is_cancelled = [ctx] { return ctx->IsCancelled(); };
    return job;
  }
};

class StyleTransferService::StylizeCall : public Call {
 public:
  StylizeCall(grpc::CallbackServerContext* context, const v1::StylizeRequest* request, v1::StylizeResponse* response,
              ValidatedRequest validated)
      : Call(Rpc::kStylize, context), request(request), response(response), validated(std::move(validated)) {}

  const v1::StylizeRequest* const request;
  v1::StylizeResponse* const response;
  const ValidatedRequest validated;
  absl::Duration decode_time;
};

class StyleTransferService::RegisterCall : public Call {
 public:
  RegisterCall(grpc::CallbackServerContext* context, const v1::RegisterStyleRequest* request,
               v1::RegisterStyleResponse* response)
      : Call(Rpc::kRegisterStyle, context), request(request), response(response) {}

  const v1::RegisterStyleRequest* const request;
  v1::RegisterStyleResponse* const response;
  int width = 0;
  int height = 0;
};

StyleTransferService::StyleTransferService(const ServiceOptions& options, StyleRegistry* registry,
                                           ThreadPool* codec_pool, Metrics* metrics)
    : options_(options), registry_(registry), codec_pool_(codec_pool), metrics_(metrics) {}

void StyleTransferService::SetScheduler(Scheduler* scheduler) { scheduler_.store(scheduler); }

void StyleTransferService::StartDraining() {
  // Under idle_mu_, like Admit's check, so that no call is admitted after WaitIdle saw zero.
  absl::MutexLock lock(&idle_mu_);
  draining_.store(true);
}

bool StyleTransferService::WaitIdle(absl::Duration timeout) {
  absl::MutexLock lock(&idle_mu_);
  return idle_mu_.AwaitWithTimeout(
      absl::Condition(+[](std::atomic<int64_t>* n) { return n->load() == 0; }, &in_flight_), timeout);
}

absl::Status StyleTransferService::Admit() {
  if (scheduler_.load() == nullptr) return absl::UnavailableError("the model is still loading; retry shortly");
  absl::MutexLock lock(&idle_mu_);
  if (draining_.load()) return absl::UnavailableError("the server is shutting down; retry on another instance");
  if (in_flight_.load() >= options_.max_in_flight) {
    return absl::ResourceExhaustedError(
        absl::StrCat("the server is at its limit of ", options_.max_in_flight, " requests in flight; retry later"));
  }
  ++in_flight_;
  if (metrics_) metrics_->in_flight().Set(static_cast<double>(in_flight_.load()));
  return absl::OkStatus();
}

void StyleTransferService::Finish(Call* call, const absl::Status& status) {
  const grpc::Status grpc_status = ToGrpcStatus(status);
  // A client that has gone (its deadline passed, or it cancelled) saw DEADLINE_EXCEEDED or
  // CANCELLED whatever we answer now: count that, so that /metrics shows what clients got. The
  // context does not say which; a client's own deadline timer cancels the call a little before
  // ours expires (ours counts from the request's arrival), hence the slack.
  grpc::StatusCode counted = grpc_status.error_code();
  if (call->context->IsCancelled()) {
    constexpr absl::Duration kDeadlineSlack = absl::Milliseconds(500);
    counted = absl::Now() + kDeadlineSlack >= absl::FromChrono(call->context->deadline())
                  ? grpc::StatusCode::DEADLINE_EXCEEDED
                  : grpc::StatusCode::CANCELLED;
  }
  if (metrics_) metrics_->CountRequest(call->rpc, counted, Seconds(absl::Now() - call->start));
  call->reactor->Finish(grpc_status);
  delete call;
  absl::MutexLock lock(&idle_mu_);
  --in_flight_;
  if (metrics_) metrics_->in_flight().Set(static_cast<double>(in_flight_.load()));
}

grpc::ServerUnaryReactor* StyleTransferService::FinishNow(grpc::CallbackServerContext* context, Rpc rpc,
                                                          absl::Time start, const absl::Status& status) {
  const grpc::Status grpc_status = ToGrpcStatus(status);
  if (metrics_) metrics_->CountRequest(rpc, grpc_status.error_code(), Seconds(absl::Now() - start));
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(grpc_status);
  return reactor;
}

grpc::ServerUnaryReactor* StyleTransferService::Stylize(grpc::CallbackServerContext* context,
                                                        const v1::StylizeRequest* request,
                                                        v1::StylizeResponse* response) {
  const absl::Time start = absl::Now();
  if (absl::Status auth = CheckCallAuth(*context, options_.auth); !auth.ok()) return FinishNow(context, Rpc::kStylize, start, auth);
  if (absl::Status admitted = Admit(); !admitted.ok()) return FinishNow(context, Rpc::kStylize, start, admitted);
  auto validated = ValidateStylizeRequest(*request, options_.limits, *registry_);
  auto* call = new StylizeCall(context, request, response, validated.ok() ? *std::move(validated) : ValidatedRequest{});
  // Finish deletes `call`: keep what the handler returns.
  grpc::ServerUnaryReactor* reactor = call->reactor;
  if (!validated.ok()) {
    Finish(call, validated.status());
    return reactor;
  }
  codec_pool_->Schedule([this, call] {
    const RequestLimits& limits = options_.limits;
    const ValidatedRequest& v = call->validated;
    const absl::Time decode_start = absl::Now();
    auto content = DecodeImage(call->request->content(), limits.decode, v.fit_max_side);
    if (!content.ok()) return Finish(call, Prefixed("content image", content.status()));
    const int64_t pixels = static_cast<int64_t>(content->width) * content->height;
    if (pixels > limits.max_compute_pixels) {
      return Finish(call, absl::InvalidArgumentError(absl::StrCat(
                              "content image is ", content->width, "x", content->height, " = ", pixels,
                              " pixels, over the limit of ", limits.max_compute_pixels,
                              " for stylization; ask for size policy FIT with a smaller max_side")));
    }
    std::unique_ptr<Job> job = call->NewJob(Job::Kind::kStylize);
    job->input = ImageToTensor(*content);
    job->alpha = v.alpha;
    for (size_t i = 0; i < v.styles.size(); ++i) {
      const ValidatedStyle& style = v.styles[i];
      if (style.registered) {
        job->styles.push_back({style.registered->stats, at::Tensor(), style.weight});
        continue;
      }
      auto image = DecodeImage(*style.image, limits.decode, limits.max_style_side);
      if (!image.ok()) return Finish(call, Prefixed(absl::StrCat("style ", i), image.status()));
      at::Tensor tensor = ImageToTensor(*image);
      if (v.preserve_color) tensor = CoralTransfer(tensor[0], job->input[0]).unsqueeze(0);
      job->styles.push_back({nullptr, tensor, style.weight});
    }
    call->decode_time = absl::Now() - decode_start;
    if (metrics_) metrics_->ObserveDecode(Seconds(call->decode_time));

    job->done = [this, call](JobResult result) {
      codec_pool_->Schedule([this, call, result = std::move(result)] {
        if (!result.status.ok()) return Finish(call, result.status);
        // Nobody is waiting for the result: skip encoding it.
        if (call->context->IsCancelled()) return Finish(call, absl::CancelledError("the client has gone"));
        const absl::Time encode_start = absl::Now();
        const RgbImage image = TensorToImage(result.image);
        auto encoded = EncodeImage(image, call->validated.format, call->validated.quality);
        if (!encoded.ok()) return Finish(call, Prefixed("encoding the result", encoded.status()));
        const absl::Duration encode_time = absl::Now() - encode_start;
        if (metrics_) metrics_->ObserveEncode(Seconds(encode_time));
        v1::StylizeResponse* response = call->response;
        response->set_image(*std::move(encoded));
        switch (call->validated.format) {
          case OutputFormat::kJpeg: response->set_format(v1::IMAGE_FORMAT_JPEG); break;
          case OutputFormat::kPng: response->set_format(v1::IMAGE_FORMAT_PNG); break;
          case OutputFormat::kWebp: response->set_format(v1::IMAGE_FORMAT_WEBP); break;
        }
        response->set_width(static_cast<uint32_t>(image.width));
        response->set_height(static_cast<uint32_t>(image.height));
        v1::Timing* timing = response->mutable_timing();
        timing->set_decode_seconds(Seconds(call->decode_time));
        timing->set_queued_seconds(Seconds(result.queued));
        timing->set_compute_seconds(Seconds(result.compute));
        timing->set_encode_seconds(Seconds(encode_time));
        timing->set_total_seconds(Seconds(absl::Now() - call->start));
        Finish(call, absl::OkStatus());
      });
    };
    if (absl::Status submitted = scheduler_.load()->Submit(job); !submitted.ok()) Finish(call, submitted);
  });
  return reactor;
}

grpc::ServerUnaryReactor* StyleTransferService::RegisterStyle(grpc::CallbackServerContext* context,
                                                              const v1::RegisterStyleRequest* request,
                                                              v1::RegisterStyleResponse* response) {
  const absl::Time start = absl::Now();
  if (absl::Status auth = CheckCallAuth(*context, options_.auth); !auth.ok()) return FinishNow(context, Rpc::kRegisterStyle, start, auth);
  if (absl::Status admitted = Admit(); !admitted.ok()) return FinishNow(context, Rpc::kRegisterStyle, start, admitted);
  auto* call = new RegisterCall(context, request, response);
  grpc::ServerUnaryReactor* reactor = call->reactor;
  const RequestLimits& limits = options_.limits;
  if (request->image().empty()) {
    Finish(call, absl::InvalidArgumentError("style image is empty"));
    return reactor;
  }
  if (request->image().size() > limits.decode.max_bytes) {
    Finish(call, absl::InvalidArgumentError(absl::StrCat("style image is ", request->image().size(),
                                                         " bytes, over the limit of ", limits.decode.max_bytes)));
    return reactor;
  }
  if (request->name().size() > 256) {
    Finish(call, absl::InvalidArgumentError("style name is longer than 256 bytes"));
    return reactor;
  }
  const std::string id = StyleRegistry::IdFor(request->image());
  if (auto existing = registry_->Find(id)) {
    FillStyleInfo(*existing, response->mutable_style());
    response->set_already_registered(true);
    Finish(call, absl::OkStatus());
    return reactor;
  }
  codec_pool_->Schedule([this, call, id] {
    const absl::Time decode_start = absl::Now();
    auto image = DecodeImage(call->request->image(), options_.limits.decode, options_.limits.max_style_side);
    if (!image.ok()) return Finish(call, Prefixed("style image", image.status()));
    if (metrics_) metrics_->ObserveDecode(Seconds(absl::Now() - decode_start));
    call->width = image->width;
    call->height = image->height;
    std::unique_ptr<Job> job = call->NewJob(Job::Kind::kEncodeStyle);
    job->input = ImageToTensor(*image);
    job->done = [this, call, id](JobResult result) {
      if (!result.status.ok()) return Finish(call, result.status);
      RegisteredStyle style;
      style.id = id;
      style.name = call->request->name();
      style.width = call->width;
      style.height = call->height;
      style.created_unix_seconds = absl::ToUnixSeconds(absl::Now());
      style.stats = std::make_shared<const StyleStats>(std::move(result.stats));
      auto inserted = registry_->Insert(std::move(style));
      if (!inserted.ok()) return Finish(call, inserted.status());
      FillStyleInfo(*inserted->first, call->response->mutable_style());
      call->response->set_already_registered(inserted->second);
      Finish(call, absl::OkStatus());
    };
    if (absl::Status submitted = scheduler_.load()->Submit(job); !submitted.ok()) Finish(call, submitted);
  });
  return reactor;
}

grpc::ServerUnaryReactor* StyleTransferService::ListStyles(grpc::CallbackServerContext* context,
                                                           const v1::ListStylesRequest* request,
                                                           v1::ListStylesResponse* response) {
  const absl::Time start = absl::Now();
  if (absl::Status auth = CheckCallAuth(*context, options_.auth); !auth.ok()) {
    return FinishNow(context, Rpc::kListStyles, start, auth);
  }
  for (const auto& style : registry_->List()) FillStyleInfo(*style, response->add_styles());
  return FinishNow(context, Rpc::kListStyles, start, absl::OkStatus());
}

grpc::ServerUnaryReactor* StyleTransferService::DeleteStyle(grpc::CallbackServerContext* context,
                                                            const v1::DeleteStyleRequest* request,
                                                            v1::DeleteStyleResponse* response) {
  const absl::Time start = absl::Now();
  if (absl::Status auth = CheckCallAuth(*context, options_.auth); !auth.ok()) {
    return FinishNow(context, Rpc::kDeleteStyle, start, auth);
  }
  absl::Status status = registry_->Erase(request->style_id())
                            ? absl::OkStatus()
                            : absl::NotFoundError(absl::StrCat("no registered style has id \"",
                                                               request->style_id().substr(0, 80), "\""));
  return FinishNow(context, Rpc::kDeleteStyle, start, status);
}

}  // namespace style
