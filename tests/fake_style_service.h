// An in-process StyleTransfer server with scripted answers, for the client and CLI tests.
#ifndef STYLE_TESTS_FAKE_STYLE_SERVICE_H_
#define STYLE_TESTS_FAKE_STYLE_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "styletransfer/v1/style_transfer.grpc.pb.h"

namespace style::fake {

namespace v1 = ::styletransfer::v1;

constexpr int kServerMessageBytes = 64 << 20;

// A scripted in-process StyleTransfer server: Stylize runs `stylize` (given the 1-based call
// number), the other methods answer from a small fixed state.
class FakeStyleService final : public v1::StyleTransfer::CallbackService {
 public:
  using StylizeFn =
      std::function<grpc::Status(int call, const v1::StylizeRequest&, v1::StylizeResponse*)>;

  explicit FakeStyleService(StylizeFn stylize = nullptr) : stylize_(std::move(stylize)) {}

  grpc::ServerUnaryReactor* Stylize(grpc::CallbackServerContext* context,
                                    const v1::StylizeRequest* request,
                                    v1::StylizeResponse* response) override {
    const int call = ++stylize_calls_;
    RecordAuthorization(*context);
    const grpc::Status status = stylize_ ? stylize_(call, *request, response) : grpc::Status::OK;
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  grpc::ServerUnaryReactor* RegisterStyle(grpc::CallbackServerContext* context,
                                          const v1::RegisterStyleRequest* request,
                                          v1::RegisterStyleResponse* response) override {
    response->mutable_style()->set_style_id(absl::StrCat("id-", request->image().size()));
    response->mutable_style()->set_name(request->name());
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* ListStyles(grpc::CallbackServerContext* context,
                                       const v1::ListStylesRequest*,
                                       v1::ListStylesResponse* response) override {
    response->add_styles()->set_style_id("a");
    response->add_styles()->set_style_id("b");
    return Finish(context, grpc::Status::OK);
  }

  grpc::ServerUnaryReactor* DeleteStyle(grpc::CallbackServerContext* context,
                                        const v1::DeleteStyleRequest* request,
                                        v1::DeleteStyleResponse*) override {
    if (request->style_id() != "a") {
      return Finish(context,
                    grpc::Status(grpc::StatusCode::NOT_FOUND, "no style " + request->style_id()));
    }
    return Finish(context, grpc::Status::OK);
  }

  int stylize_calls() const { return stylize_calls_.load(); }

  // The authorization header of every Stylize call so far ("" when absent).
  std::vector<std::string> authorizations() const {
    std::lock_guard<std::mutex> lock(mu_);
    return authorizations_;
  }

 private:
  static grpc::ServerUnaryReactor* Finish(grpc::CallbackServerContext* context,
                                          const grpc::Status& status) {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    reactor->Finish(status);
    return reactor;
  }

  void RecordAuthorization(const grpc::CallbackServerContext& context) {
    std::string value;
    auto it = context.client_metadata().find("authorization");
    if (it != context.client_metadata().end()) value.assign(it->second.data(), it->second.size());
    std::lock_guard<std::mutex> lock(mu_);
    authorizations_.push_back(value);
  }

  StylizeFn stylize_;
  std::atomic<int> stylize_calls_{0};
  mutable std::mutex mu_;
  std::vector<std::string> authorizations_;
};

// Runs a service on 127.0.0.1 with a port picked by the system, with the default health service.
class FakeServer {
 public:
  explicit FakeServer(grpc::Service* service) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.SetMaxReceiveMessageSize(kServerMessageBytes);
    builder.SetMaxSendMessageSize(kServerMessageBytes);
    builder.RegisterService(service);
    server_ = builder.BuildAndStart();
  }

  ~FakeServer() { Shutdown(); }

  void Shutdown() {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
    server_.reset();
  }

  bool ok() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

}  // namespace style::fake

#endif  // STYLE_TESTS_FAKE_STYLE_SERVICE_H_
