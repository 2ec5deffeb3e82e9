// Transport security and call authentication of the gRPC port.
//
// TLS and mutual TLS come from grpc::SslServerCredentials. The bearer token is checked by the
// StyleTransfer service itself at the start of every call (CheckCallAuth), not by a gRPC hook:
// in gRPC 1.51 a ServerInterceptor cannot end a call with a status of its own (it can only let
// the handler run or cancel the call, which the client sees as CANCELLED), and an
// AuthMetadataProcessor runs only on TLS ports. Checking in the service also exempts the health
// and reflection services by construction: they are other services on the same server.
#ifndef STYLE_SERVER_SECURITY_H_
#define STYLE_SERVER_SECURITY_H_

#include <memory>
#include <string>

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace style {

// TLS of the gRPC port. All empty: plaintext.
struct TlsOptions {
  std::string cert_file;       // PEM certificate chain of the server
  std::string key_file;        // PEM private key of that certificate
  std::string client_ca_file;  // mutual TLS: PEM CA bundle; clients must present a certificate it signed

  bool enabled() const { return !cert_file.empty(); }
};

// Plaintext credentials when `tls` is empty, else TLS (and mutual TLS with client_ca_file).
// INVALID_ARGUMENT, naming the file, when a file is missing or unreadable, is not PEM, or the key
// does not belong to the certificate; or when a key or CA is given without a certificate.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsOptions& tls);

// A secret read from a file (a token mounted from a Kubernetes Secret): the file's content
// without surrounding whitespace. INVALID_ARGUMENT when the file cannot be read, is empty, or
// holds characters other than printable ASCII without spaces.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);

// Who may call the StyleTransfer service.
struct CallAuthPolicy {
  // When non-empty, every call must send "authorization: Bearer <token>".
  std::string bearer_token;
  // Calls must arrive over TLS (the server has a TLS port, and a plaintext port that is only
  // meant for health probes).
  bool require_tls = false;
};

// OK, or UNAUTHENTICATED saying what is missing. The token comparison takes the same time
// wherever the first difference is.
absl::Status CheckCallAuth(const grpc::ServerContextBase& context, const CallAuthPolicy& policy);

}  // namespace style

#endif  // STYLE_SERVER_SECURITY_H_
