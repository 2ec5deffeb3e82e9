#include "client/client.h"

#include <arpa/inet.h>
#include <grpc/grpc.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "server/status_util.h"

namespace style {
namespace {

namespace v1 = ::styletransfer::v1;
namespace health = ::grpc::health::v1;

// Keepalive pings only while calls are active, at most one a minute (servers reject more frequent
// pings by default unless they allow them explicitly).
constexpr int kKeepaliveTimeMs = 60 * 1000;
constexpr int kKeepaliveTimeoutMs = 20 * 1000;
// Reconnect quickly to a restarted server instead of gRPC's default of up to two minutes.
constexpr int kMaxReconnectBackoffMs = 5 * 1000;
constexpr char kRoundRobinConfig[] = R"({"loadBalancingConfig": [{"round_robin": {}}]})";

enum class AddressKind { kTarget, kIpv4, kIpv6, kHostName };

struct ParsedAddress {
  AddressKind kind;
  std::string text;  // as given, trimmed
};

// True when `address` already names a gRPC resolver ("dns:///x:1", "unix:/path", ...).
bool HasResolverScheme(absl::string_view address) {
  static constexpr absl::string_view kSchemes[] = {
      "dns:", "ipv4:", "ipv6:", "unix:", "unix-abstract:", "vsock:", "xds:"};
  for (absl::string_view scheme : kSchemes) {
    if (absl::StartsWith(address, scheme)) return true;
  }
  return false;
}

absl::StatusOr<ParsedAddress> ParseAddress(absl::string_view raw) {
  const std::string address(absl::StripAsciiWhitespace(raw));
  if (address.empty()) return absl::InvalidArgumentError("empty server address");
  if (HasResolverScheme(address)) return ParsedAddress{AddressKind::kTarget, address};
  std::string host;
  absl::string_view port;
  if (address[0] == '[') {
    const size_t close = address.find(']');
    if (close == std::string::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return absl::InvalidArgumentError(
          absl::StrCat("bad server address \"", address, "\": expected [IPv6]:port"));
    }
    host = address.substr(1, close - 1);
    port = absl::string_view(address).substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad server address \"", address, "\": expected host:port"));
    }
    host = address.substr(0, colon);
    port = absl::string_view(address).substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat(
          "bad server address \"", address, "\": IPv6 addresses go in brackets, [::1]:port"));
    }
  }
  int port_number = 0;
  if (host.empty() || port.empty() || !std::all_of(port.begin(), port.end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(port, &port_number) || port_number < 1 || port_number > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad server address \"", address, "\": expected host:port, port 1..65535"));
  }
  unsigned char buffer[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, host.c_str(), buffer) == 1) {
    return ParsedAddress{AddressKind::kIpv4, address};
  }
  if (inet_pton(AF_INET6, host.c_str(), buffer) == 1) {
    return ParsedAddress{AddressKind::kIpv6, address};
  }
  return ParsedAddress{AddressKind::kHostName, address};
}

std::string SingleTarget(const ParsedAddress& address) {
  if (address.kind == AddressKind::kTarget) return address.text;
  return absl::StrCat("dns:///", address.text);
}

absl::Status ValidateOptions(const ClientOptions& options) {
  if (options.deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("deadline must be positive");
  }
  if (options.overall_deadline <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("overall_deadline must be positive");
  }
  if (options.max_attempts < 1 || options.max_attempts > 100) {
    return absl::InvalidArgumentError("max_attempts must be in 1..100");
  }
  if (options.initial_backoff <= absl::ZeroDuration() ||
      options.initial_backoff > options.max_backoff ||
      options.max_backoff == absl::InfiniteDuration()) {
    return absl::InvalidArgumentError("need 0 < initial_backoff <= max_backoff < infinity");
  }
  if (!(options.backoff_multiplier >= 1.0) || !std::isfinite(options.backoff_multiplier)) {
    return absl::InvalidArgumentError("backoff_multiplier must be at least 1");
  }
  if (!(options.backoff_jitter >= 0.0 && options.backoff_jitter <= 1.0)) {
    return absl::InvalidArgumentError("backoff_jitter must be in [0, 1]");
  }
  if (options.max_message_bytes <= 0) {
    return absl::InvalidArgumentError("max_message_bytes must be positive");
  }
  for (char c : options.bearer_token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError("bearer_token must be printable ASCII without spaces");
    }
  }
  return absl::OkStatus();
}

grpc::ChannelArguments MakeChannelArguments(const ClientOptions& options) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(options.max_message_bytes);
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetServiceConfigJSON(kRoundRobinConfig);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kKeepaliveTimeMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kKeepaliveTimeoutMs);
  args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kMaxReconnectBackoffMs);
  if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  return args;
}

absl::Status CheckRequestSize(const google::protobuf::Message& request, int max_bytes) {
  const size_t size = request.ByteSizeLong();
  if (size > static_cast<size_t>(max_bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "request of ", size, " bytes exceeds the message limit of ", max_bytes, " bytes"));
  }
  return absl::OkStatus();
}

double RandomUnit() {
  thread_local absl::BitGen gen;
  return absl::Uniform(gen, 0.0, 1.0);
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ChannelTargets(const std::vector<std::string>& addresses) {
  if (addresses.empty()) return absl::InvalidArgumentError("no server address given");
  std::vector<ParsedAddress> parsed;
  for (const std::string& address : addresses) {
    ASSIGN_OR_RETURN(ParsedAddress one, ParseAddress(address));
    parsed.push_back(std::move(one));
  }
  if (parsed.size() == 1) return std::vector<std::string>{SingleTarget(parsed[0])};
  const AddressKind first = parsed[0].kind;
  const bool same_literal_family =
      (first == AddressKind::kIpv4 || first == AddressKind::kIpv6) &&
      std::all_of(parsed.begin(), parsed.end(),
                  [first](const ParsedAddress& a) { return a.kind == first; });
  if (same_literal_family) {
    std::string target = first == AddressKind::kIpv4 ? "ipv4:" : "ipv6:";
    absl::StrAppend(&target,
                    absl::StrJoin(parsed, ",", [](std::string* out, const ParsedAddress& a) {
                      out->append(a.text);
                    }));
    return std::vector<std::string>{target};
  }
  std::vector<std::string> targets;
  for (const ParsedAddress& address : parsed) targets.push_back(SingleTarget(address));
  return targets;
}

absl::Duration RetryBackoff(const ClientOptions& options, int retry, double unit) {
  const double max_seconds = absl::ToDoubleSeconds(options.max_backoff);
  double seconds = absl::ToDoubleSeconds(options.initial_backoff) *
                   std::pow(options.backoff_multiplier, std::max(0, retry - 1));
  seconds = std::min(seconds, max_seconds);
  seconds *= 1.0 + options.backoff_jitter * (2.0 * unit - 1.0);
  return absl::Seconds(std::clamp(seconds, 0.0, max_seconds));
}

bool IsRetryableCode(absl::StatusCode code) {
  return code == absl::StatusCode::kUnavailable || code == absl::StatusCode::kResourceExhausted;
}

absl::StatusOr<std::unique_ptr<StyleClient>> StyleClient::Create(const ClientOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  ASSIGN_OR_RETURN(std::vector<std::string> targets, ChannelTargets(options.addresses));
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      options.credentials ? options.credentials : grpc::InsecureChannelCredentials();
  const grpc::ChannelArguments args = MakeChannelArguments(options);
  std::vector<Backend> backends;
  for (const std::string& target : targets) {
    Backend backend;
    backend.channel = grpc::CreateCustomChannel(target, credentials, args);
    backend.style_stub = v1::StyleTransfer::NewStub(backend.channel);
    backend.health_stub = health::Health::NewStub(backend.channel);
    backends.push_back(std::move(backend));
  }
  return std::unique_ptr<StyleClient>(
      new StyleClient(options, std::move(targets), std::move(backends)));
}

StyleClient::StyleClient(ClientOptions options, std::vector<std::string> targets,
                         std::vector<Backend> backends)
    : options_(std::move(options)), targets_(std::move(targets)), backends_(std::move(backends)) {}

const StyleClient::Backend& StyleClient::NextBackend() const {
  if (backends_.size() == 1) return backends_[0];
  return backends_[next_backend_.fetch_add(1, std::memory_order_relaxed) % backends_.size()];
}

template <typename Response, typename Invoke>
absl::StatusOr<Response> StyleClient::Call(Invoke invoke) const {
  const absl::Time overall_deadline = absl::Now() + options_.overall_deadline;
  for (int attempt = 1;; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(
        absl::ToChronoTime(std::min(absl::Now() + options_.deadline, overall_deadline)));
    if (!options_.bearer_token.empty()) {
      context.AddMetadata("authorization", absl::StrCat("Bearer ", options_.bearer_token));
    }
    Response response;
    const absl::Status status = FromGrpcStatus(invoke(NextBackend(), &context, &response));
    if (status.ok()) return response;
    if (!IsRetryableCode(status.code()) || attempt >= options_.max_attempts) return status;
    const absl::Duration backoff = RetryBackoff(options_, attempt, RandomUnit());
    if (absl::Now() + backoff >= overall_deadline) return status;
    absl::SleepFor(backoff);
  }
}

absl::StatusOr<v1::StylizeResponse> StyleClient::Stylize(const v1::StylizeRequest& request) const {
  RETURN_IF_ERROR(CheckRequestSize(request, options_.max_message_bytes));
  return Call<v1::StylizeResponse>([&request](const Backend& backend, grpc::ClientContext* context,
                                              v1::StylizeResponse* response) {
    return backend.style_stub->Stylize(context, request, response);
  });
}

absl::StatusOr<v1::RegisterStyleResponse> StyleClient::RegisterStyle(std::string image_bytes,
                                                                     std::string name) const {
  v1::RegisterStyleRequest request;
  request.set_image(std::move(image_bytes));
  request.set_name(std::move(name));
  RETURN_IF_ERROR(CheckRequestSize(request, options_.max_message_bytes));
  return Call<v1::RegisterStyleResponse>([&request](const Backend& backend,
                                                    grpc::ClientContext* context,
                                                    v1::RegisterStyleResponse* response) {
    return backend.style_stub->RegisterStyle(context, request, response);
  });
}

absl::StatusOr<std::vector<v1::StyleInfo>> StyleClient::ListStyles() const {
  const v1::ListStylesRequest request;
  ASSIGN_OR_RETURN(
      v1::ListStylesResponse response,
      Call<v1::ListStylesResponse>([&request](const Backend& backend, grpc::ClientContext* context,
                                              v1::ListStylesResponse* response) {
        return backend.style_stub->ListStyles(context, request, response);
      }));
  return std::vector<v1::StyleInfo>(response.styles().begin(), response.styles().end());
}

absl::Status StyleClient::DeleteStyle(const std::string& style_id) const {
  v1::DeleteStyleRequest request;
  request.set_style_id(style_id);
  return Call<v1::DeleteStyleResponse>([&request](const Backend& backend,
                                                  grpc::ClientContext* context,
                                                  v1::DeleteStyleResponse* response) {
           return backend.style_stub->DeleteStyle(context, request, response);
         })
      .status();
}

absl::StatusOr<StyleClient::ServingStatus> StyleClient::Health(const std::string& service) const {
  health::HealthCheckRequest request;
  request.set_service(service);
  ASSIGN_OR_RETURN(health::HealthCheckResponse response,
                   Call<health::HealthCheckResponse>(
                       [&request](const Backend& backend, grpc::ClientContext* context,
                                  health::HealthCheckResponse* response) {
                         return backend.health_stub->Check(context, request, response);
                       }));
  return response.status();
}

}  // namespace style
