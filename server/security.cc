#include "server/security.h"

#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_context.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace style {
namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read the ", what, " file ", path));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

struct BioDeleter {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct X509Deleter {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

std::unique_ptr<BIO, BioDeleter> MemoryBio(const std::string& data) {
  return std::unique_ptr<BIO, BioDeleter>(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
}

// Checks the PEM files with OpenSSL so that a mistake gets a clear message at start-up rather
// than a failed listen.
absl::Status CheckPem(const TlsOptions& tls, const std::string& cert, const std::string& key, const std::string& ca) {
  std::unique_ptr<X509, X509Deleter> x509(PEM_read_bio_X509(MemoryBio(cert).get(), nullptr, nullptr, nullptr));
  if (!x509) return absl::InvalidArgumentError(absl::StrCat(tls.cert_file, ": no PEM certificate"));
  std::unique_ptr<EVP_PKEY, KeyDeleter> pkey(PEM_read_bio_PrivateKey(MemoryBio(key).get(), nullptr, nullptr, nullptr));
  if (!pkey) return absl::InvalidArgumentError(absl::StrCat(tls.key_file, ": no unencrypted PEM private key"));
  if (X509_check_private_key(x509.get(), pkey.get()) != 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(tls.key_file, " is not the private key of the certificate in ", tls.cert_file));
  }
  if (!tls.client_ca_file.empty()) {
    std::unique_ptr<X509, X509Deleter> ca_cert(PEM_read_bio_X509(MemoryBio(ca).get(), nullptr, nullptr, nullptr));
    if (!ca_cert) return absl::InvalidArgumentError(absl::StrCat(tls.client_ca_file, ": no PEM certificate"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(const TlsOptions& tls) {
  if (!tls.enabled()) {
    if (!tls.key_file.empty() || !tls.client_ca_file.empty()) {
      return absl::InvalidArgumentError("a TLS key or client CA needs a TLS certificate (--tls_cert)");
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.key_file.empty()) return absl::InvalidArgumentError("a TLS certificate needs its key (--tls_key)");
  absl::StatusOr<std::string> cert = ReadFile(tls.cert_file, "TLS certificate");
  if (!cert.ok()) return cert.status();
  absl::StatusOr<std::string> key = ReadFile(tls.key_file, "TLS key");
  if (!key.ok()) return key.status();
  std::string ca;
  if (!tls.client_ca_file.empty()) {
    absl::StatusOr<std::string> read = ReadFile(tls.client_ca_file, "client CA");
    if (!read.ok()) return read.status();
    ca = *std::move(read);
  }
  if (absl::Status s = CheckPem(tls, *cert, *key, ca); !s.ok()) return s;

  grpc::SslServerCredentialsOptions options(
      ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  options.pem_root_certs = ca;
  options.pem_key_cert_pairs.push_back({*key, *cert});
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> content = ReadFile(path, "token");
  if (!content.ok()) return content.status();
  const std::string token(absl::StripAsciiWhitespace(*content));
  if (token.empty()) return absl::InvalidArgumentError(absl::StrCat("the token file ", path, " is empty"));
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return absl::InvalidArgumentError(
          absl::StrCat("the token in ", path, " must be printable ASCII without spaces"));
    }
  }
  return token;
}

absl::Status CheckCallAuth(const grpc::ServerContextBase& context, const CallAuthPolicy& policy) {
  if (policy.require_tls) {
    const std::shared_ptr<const grpc::AuthContext> auth = context.auth_context();
    const std::vector<grpc::string_ref> types =
        auth ? auth->FindPropertyValues(GRPC_TRANSPORT_SECURITY_TYPE_PROPERTY_NAME) : std::vector<grpc::string_ref>{};
    if (types.empty() || types.front() != GRPC_SSL_TRANSPORT_SECURITY_TYPE) {
      return absl::UnauthenticatedError("this port answers only health checks; call the TLS port");
    }
  }
  if (policy.bearer_token.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("missing \"authorization: Bearer <token>\" metadata");
  }
  const absl::string_view header(it->second.data(), it->second.size());
  constexpr absl::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() || !absl::EqualsIgnoreCase(header.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError("the authorization metadata is not a bearer token");
  }
  const absl::string_view token = header.substr(kScheme.size());
  const bool same = token.size() == policy.bearer_token.size() &&
                    CRYPTO_memcmp(token.data(), policy.bearer_token.data(), token.size()) == 0;
  if (!same) return absl::UnauthenticatedError("the bearer token is not valid");
  return absl::OkStatus();
}

}  // namespace style
