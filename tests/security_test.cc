// Deployment features of the real server (gRPC on loopback, the fake model): TLS, mutual TLS and
// the bearer token (through the client library and the CLI), the health-only plaintext port,
// round-robin balancing over two servers, and the maximum connection age.
//
// The certificates are made by openssl in a temporary folder, once per run: a CA, a server
// certificate for localhost / 127.0.0.1, a client certificate, and a second, unrelated CA with a
// client certificate of its own.
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/security/credentials.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/client.h"
#include "server/server.h"
#include "tests/fake_model.h"
#include "tests/loopback.h"
#include "tests/test_support.h"

#ifndef STYLETRANSFER_BIN
#error "STYLETRANSFER_BIN must name the CLI binary"
#endif

namespace style {
namespace {

namespace fs = std::filesystem;
namespace v1 = styletransfer::v1;
using ::testing::HasSubstr;
using testing::FakeModelControl;
using HealthStatus = grpc::health::v1::HealthCheckResponse;

constexpr char kToken[] = "s3cret-Token_42";

// ---- Certificates ---------------------------------------------------------------------------

constexpr char kOpensslConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = clientAuth
)";

class Certificates {
 public:
  // Made on first use; the folder is removed at exit.
  static const Certificates& Get() {
    static const Certificates* certificates = new Certificates();
    return *certificates;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }
  std::string Pem(const std::string& name) const { return testing::ReadFileOrDie(Path(name)); }
  bool ok() const { return ok_; }

 private:
  Certificates() : dir_(fs::temp_directory_path() / absl::StrCat("security_test_", getpid())) {
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    std::ofstream(dir_ / "openssl.cnf") << kOpensslConfig;
    ok_ = MakeCa("ca", "Test CA") && MakeLeaf("server", "localhost", "ca", "server", 2) &&
          MakeLeaf("client", "client", "ca", "client", 3) && MakeCa("other-ca", "Other CA") &&
          MakeLeaf("other-client", "client", "other-ca", "client", 4);
    std::ofstream(dir_ / "token") << kToken << "\n";
    std::ofstream(dir_ / "wrong-token") << "not-the-token\n";
    std::atexit([] { fs::remove_all(Get().dir_); });
  }

  bool Run(const std::string& args) const {
    const std::string command =
        absl::StrCat("cd '", dir_.string(), "' && openssl ", args, " >>openssl.log 2>&1");
    const int status = std::system(command.c_str());
    EXPECT_EQ(status, 0) << "openssl " << args << "\n" << testing::ReadFileOrDie(Path("openssl.log"));
    return status == 0;
  }

  bool MakeCa(const std::string& name, const std::string& cn) const {
    return Run(absl::StrCat("req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2",
                            " -config openssl.cnf -extensions ca -subj '/CN=", cn, "' -keyout ", name,
                            ".key -out ", name, ".crt"));
  }

  bool MakeLeaf(const std::string& name, const std::string& cn, const std::string& ca,
                const std::string& extensions, int serial) const {
    return Run(absl::StrCat("req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -config openssl.cnf",
                            " -subj '/CN=", cn, "' -keyout ", name, ".key -out ", name, ".csr")) &&
           Run(absl::StrCat("x509 -req -in ", name, ".csr -CA ", ca, ".crt -CAkey ", ca, ".key -set_serial ",
                            serial, " -days 2 -extfile openssl.cnf -extensions ", extensions, " -out ", name,
                            ".crt"));
  }

  fs::path dir_;
  bool ok_ = false;
};

// ---- Servers and clients --------------------------------------------------------------------

using testing::Png;

v1::StylizeRequest SmallRequest() { return testing::StylizeRequestOf(Png(16, 16), Png(16, 16, 2)); }

ServerOptions TestOptions() { return testing::LoopbackServerOptions(); }

ServerOptions TlsOptions(bool mutual) {
  const Certificates& c = Certificates::Get();
  ServerOptions options = TestOptions();
  options.tls.cert_file = c.Path("server.crt");
  options.tls.key_file = c.Path("server.key");
  if (mutual) options.tls.client_ca_file = c.Path("ca.crt");
  return options;
}

struct RunningServer {
  std::shared_ptr<FakeModelControl> control = std::make_shared<FakeModelControl>();
  std::unique_ptr<StyleServer> server;
};

RunningServer StartServer(const ServerOptions& options) {
  RunningServer running;
  auto server = StyleServer::Start(options, testing::FakeModelFactory(running.control));
  EXPECT_TRUE(server.ok()) << server.status();
  if (server.ok()) running.server = std::move(*server);
  return running;
}

struct ClientSecurity {
  bool tls = false;
  std::string client_cert;  // "client" or "other-client"; empty: none
  std::string token;
  std::string server_name;

  ClientSecurity& Tls() { tls = true; return *this; }
  ClientSecurity& Cert(const std::string& name) { client_cert = name; return *this; }
  ClientSecurity& Token(const std::string& value) { token = value; return *this; }
  ClientSecurity& ServerName(const std::string& name) { server_name = name; return *this; }
};

ClientSecurity Plain() { return {}; }

std::unique_ptr<StyleClient> Connect(int port, const ClientSecurity& security) {
  ClientOptions options = testing::LoopbackClientOptions(port, absl::Seconds(10));
  options.bearer_token = security.token;
  options.tls_server_name = security.server_name;
  if (security.tls) {
    const Certificates& c = Certificates::Get();
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = c.Pem("ca.crt");
    if (!security.client_cert.empty()) {
      ssl.pem_cert_chain = c.Pem(security.client_cert + ".crt");
      ssl.pem_private_key = c.Pem(security.client_cert + ".key");
    }
    options.credentials = grpc::SslCredentials(ssl);
  }
  return testing::Connect(options);
}

class SecurityTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(Certificates::Get().ok()); }
};

// ---- TLS ------------------------------------------------------------------------------------

TEST_F(SecurityTest, TlsClientIsServedAndPlaintextClientIsRefused) {
  RunningServer s = StartServer(TlsOptions(false));
  ASSERT_TRUE(s.server);
  auto tls = Connect(s.server->port(), Plain().Tls());
  auto response = tls->Stylize(SmallRequest());
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->width(), 16u);
  EXPECT_EQ(*tls->Health(), HealthStatus::SERVING);

  auto plaintext = Connect(s.server->port(), Plain());
  EXPECT_EQ(plaintext->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(plaintext->Health().status().code(), absl::StatusCode::kUnavailable);
  // A certificate that does not name the expected server is refused by the client.
  auto wrong_name = Connect(s.server->port(), Plain().Tls().ServerName("other.example"));
  EXPECT_EQ(wrong_name->Health().status().code(), absl::StatusCode::kUnavailable);
  // The name override accepts a name the certificate holds.
  auto by_name = Connect(s.server->port(), Plain().Tls().ServerName("localhost"));
  EXPECT_EQ(*by_name->Health(), HealthStatus::SERVING);
  EXPECT_EQ(s.control->stylize_calls.load(), 1);
}

TEST_F(SecurityTest, MutualTlsRequiresAClientCertificateFromTheTrustedCa) {
  RunningServer s = StartServer(TlsOptions(true));
  ASSERT_TRUE(s.server);
  auto trusted = Connect(s.server->port(), Plain().Tls().Cert("client"));
  auto response = trusted->Stylize(SmallRequest());
  EXPECT_TRUE(response.ok()) << response.status();

  auto no_cert = Connect(s.server->port(), Plain().Tls());
  EXPECT_EQ(no_cert->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnavailable);
  auto other_ca = Connect(s.server->port(), Plain().Tls().Cert("other-client"));
  EXPECT_EQ(other_ca->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(other_ca->Health().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s.control->stylize_calls.load(), 1);
}

TEST_F(SecurityTest, BadTlsFilesAreReportedAtStart) {
  const Certificates& c = Certificates::Get();
  ServerOptions options = TlsOptions(false);
  options.tls.key_file = c.Path("client.key");  // not the server certificate's key
  auto mismatched = StyleServer::Start(options, testing::FakeModelFactory(std::make_shared<FakeModelControl>()));
  EXPECT_EQ(mismatched.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(mismatched.status().message()), HasSubstr("is not the private key"));
  options.tls.key_file = c.Path("missing.key");
  auto missing = StyleServer::Start(options, testing::FakeModelFactory(std::make_shared<FakeModelControl>()));
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("missing.key"));
  options = TestOptions();
  options.tls.client_ca_file = c.Path("ca.crt");  // a CA without a certificate
  EXPECT_EQ(StyleServer::Start(options, testing::FakeModelFactory(std::make_shared<FakeModelControl>()))
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(SecurityTest, HealthOnlyPortAnswersProbesButNotTheService) {
  ServerOptions options = TlsOptions(true);
  options.health_listen_address = "127.0.0.1:0";
  RunningServer s = StartServer(options);
  ASSERT_TRUE(s.server);
  ASSERT_NE(s.server->health_port(), 0);
  auto probe = Connect(s.server->health_port(), Plain());
  EXPECT_EQ(*probe->Health(), HealthStatus::SERVING);
  auto response = probe->Stylize(SmallRequest());
  EXPECT_EQ(response.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(response.status().message()), HasSubstr("TLS port"));
  EXPECT_EQ(probe->ListStyles().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.control->stylize_calls.load(), 0);
}

// ---- Bearer token ---------------------------------------------------------------------------

// Lists the services through the reflection service, which needs no token: the raw
// ServerReflectionResponse, or "" when the call failed.
std::string ListServicesThroughReflection(int port) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&cq](intptr_t id) {
    void* tag = nullptr;
    bool ok = false;
    return cq.Next(&tag, &ok) && ok && tag == reinterpret_cast<void*>(id);
  };
  call->StartCall(reinterpret_cast<void*>(1));
  if (!step(1)) return "";
  grpc::Slice request(std::string("\x3a\x01*", 3));  // ServerReflectionRequest{list_services: "*"}
  call->Write(grpc::ByteBuffer(&request, 1), reinterpret_cast<void*>(2));
  if (!step(2)) return "";
  grpc::ByteBuffer reply;
  call->Read(&reply, reinterpret_cast<void*>(3));
  if (!step(3)) return "";
  call->WritesDone(reinterpret_cast<void*>(4));
  step(4);
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  std::vector<grpc::Slice> slices;
  if (!reply.Dump(&slices).ok()) return "";
  std::string bytes;
  for (const grpc::Slice& slice : slices) bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  cq.Shutdown();
  void* tag;
  bool ok;
  while (cq.Next(&tag, &ok)) {
  }
  return bytes;
}

TEST_F(SecurityTest, BearerTokenIsRequiredExceptForHealthAndReflection) {
  ServerOptions options = TestOptions();
  options.service.auth.bearer_token = kToken;
  RunningServer s = StartServer(options);
  ASSERT_TRUE(s.server);
  const int port = s.server->port();

  auto missing = Connect(port, Plain());
  auto stylized = missing->Stylize(SmallRequest());
  EXPECT_EQ(stylized.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(stylized.status().message()), HasSubstr("authorization"));
  EXPECT_EQ(missing->ListStyles().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(missing->RegisterStyle(Png(16, 16)).status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(missing->DeleteStyle("st-x").code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(*missing->Health(), HealthStatus::SERVING);
  EXPECT_THAT(ListServicesThroughReflection(port), HasSubstr("styletransfer.v1.StyleTransfer"));

  auto wrong = Connect(port, Plain().Token("not-the-token"));
  EXPECT_EQ(wrong->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnauthenticated);
  auto prefix = Connect(port, Plain().Token(std::string(kToken).substr(0, 5)));
  EXPECT_EQ(prefix->ListStyles().status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(s.control->stylize_calls.load(), 0);
  EXPECT_EQ(s.control->encode_calls.load(), 0);

  auto right = Connect(port, Plain().Token(kToken));
  EXPECT_TRUE(right->Stylize(SmallRequest()).ok());
  EXPECT_TRUE(right->ListStyles().ok());
  EXPECT_EQ(s.control->stylize_calls.load(), 1);

  const auto metrics = testing::ParsePrometheusText(s.server->metrics().Scrape());
  EXPECT_EQ(metrics.at(R"(styletransfer_requests_total{code="UNAUTHENTICATED",rpc="Stylize"})"), 2);
  EXPECT_EQ(metrics.at(R"(styletransfer_requests_total{code="OK",rpc="Stylize"})"), 1);
}

TEST_F(SecurityTest, TokenAndMutualTlsTogether) {
  ServerOptions options = TlsOptions(true);
  options.service.auth.bearer_token = kToken;
  RunningServer s = StartServer(options);
  ASSERT_TRUE(s.server);
  auto no_token = Connect(s.server->port(), Plain().Tls().Cert("client"));
  EXPECT_EQ(no_token->Stylize(SmallRequest()).status().code(), absl::StatusCode::kUnauthenticated);
  auto both = Connect(s.server->port(), Plain().Tls().Cert("client").Token(kToken));
  EXPECT_TRUE(both->Stylize(SmallRequest()).ok());
}

TEST(TokenFileTest, ReadsTrimmedTokensAndRejectsBadOnes) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("token_test_", getpid());
  fs::create_directories(dir);
  std::ofstream(dir / "good") << "  abc.DEF-123\n";
  std::ofstream(dir / "empty") << "\n";
  std::ofstream(dir / "space") << "two words\n";
  EXPECT_EQ(*ReadTokenFile((dir / "good").string()), "abc.DEF-123");
  EXPECT_EQ(ReadTokenFile((dir / "empty").string()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile((dir / "space").string()).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ReadTokenFile((dir / "none").string()).status().code(), absl::StatusCode::kInvalidArgument);
  fs::remove_all(dir);
}

// ---- The CLI --------------------------------------------------------------------------------

struct CliResult {
  int exit_code = -1;
  std::string output;
};

CliResult RunCli(const std::string& args, const std::string& env = "") {
  const fs::path out = fs::temp_directory_path() / absl::StrCat("security_test_cli_", getpid(), ".txt");
  const std::string command =
      absl::StrCat("env -u STYLETRANSFER_TOKEN ", env, " ", STYLETRANSFER_BIN, " ", args, " >", out.string(), " 2>&1 </dev/null");
  const int status = std::system(command.c_str());
  CliResult result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, testing::ReadFileOrDie(out.string())};
  fs::remove(out);
  return result;
}

TEST_F(SecurityTest, CliSpeaksMutualTlsWithATokenFromAFileOrTheEnvironment) {
  ServerOptions options = TlsOptions(true);
  options.service.auth.bearer_token = kToken;
  RunningServer s = StartServer(options);
  ASSERT_TRUE(s.server);
  const Certificates& c = Certificates::Get();
  // The server name override: the address is an IP, the name is checked against the certificate.
  const std::string tls = absl::StrCat("--server 127.0.0.1:", s.server->port(), " --retries 0 --timeout 10 --tls-ca ",
                                       c.Path("ca.crt"), " --tls-server-name localhost");
  const std::string cert = absl::StrCat(" --tls-cert ", c.Path("client.crt"), " --tls-key ", c.Path("client.key"));

  CliResult r = RunCli(tls + cert + " health");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("SERVING"));
  r = RunCli(tls + cert + " styles list");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("UNAUTHENTICATED"));
  r = RunCli(tls + cert + " --token-file " + c.Path("wrong-token") + " styles list");
  EXPECT_EQ(r.exit_code, 1) << r.output;
  r = RunCli(tls + cert + " --token-file " + c.Path("token") + " styles list");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("ID"));
  r = RunCli(tls + cert + " styles list", absl::StrCat("STYLETRANSFER_TOKEN=", kToken));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  // Without the client certificate the handshake fails: unreachable (4).
  r = RunCli(tls + " --token-file " + c.Path("token") + " styles list");
  EXPECT_EQ(r.exit_code, 4) << r.output;
  // Plaintext against the TLS port: unreachable too.
  r = RunCli(absl::StrCat("--server 127.0.0.1:", s.server->port(), " --retries 0 --timeout 5 health"));
  EXPECT_EQ(r.exit_code, 4) << r.output;
  r = RunCli(tls + " --tls-cert " + c.Path("client.crt") + " health");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_THAT(r.output, HasSubstr("--tls-cert and --tls-key go together"));
}

// ---- Load balancing and connection age ------------------------------------------------------

TEST(LoadBalancingTest, RoundRobinClientSpreadsRequestsOverTwoServers) {
  RunningServer a = StartServer(TestOptions());
  RunningServer b = StartServer(TestOptions());
  ASSERT_TRUE(a.server && b.server);
  ClientOptions options;
  options.addresses = {absl::StrCat("127.0.0.1:", a.server->port()), absl::StrCat("127.0.0.1:", b.server->port())};
  options.max_attempts = 1;
  auto client = StyleClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_EQ((*client)->targets().size(), 1u);  // one channel, round robin over both addresses
  const v1::StylizeRequest request = SmallRequest();
  // The first calls may go out before the second connection is up.
  for (int i = 0; i < 4; ++i) ASSERT_TRUE((*client)->Stylize(request).ok());
  const int before_a = a.control->stylize_calls.load();
  const int before_b = b.control->stylize_calls.load();
  constexpr int kRequests = 20;
  for (int i = 0; i < kRequests; ++i) ASSERT_TRUE((*client)->Stylize(request).ok());
  const int on_a = a.control->stylize_calls.load() - before_a;
  const int on_b = b.control->stylize_calls.load() - before_b;
  EXPECT_EQ(on_a + on_b, kRequests);
  // Round robin: each gets about half (pick-first would send all of them to one).
  EXPECT_GE(on_a, kRequests / 4) << on_a << " / " << on_b;
  EXPECT_GE(on_b, kRequests / 4) << on_a << " / " << on_b;
}

TEST(ConnectionAgeTest, ServerGivesTheOptionsToGrpc) {
  ServerOptions options;
  options.max_connection_age = absl::Seconds(90);
  options.max_connection_age_grace = absl::Seconds(7);
  options.keepalive_min_ping_interval = absl::Seconds(20);
  std::map<std::string, int> args;
  for (const auto& [name, value] : ServerChannelArgs(options)) args[name] = value;
  EXPECT_EQ(args.at(GRPC_ARG_MAX_CONNECTION_AGE_MS), 90000);
  EXPECT_EQ(args.at(GRPC_ARG_MAX_CONNECTION_AGE_GRACE_MS), 7000);
  EXPECT_EQ(args.at(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), 20000);
  EXPECT_EQ(args.at(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS), 0);
  // The client pings every 60 s during calls: the server must accept that.
  EXPECT_LE(args.at(GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS), 60000);
  options.max_connection_age = absl::InfiniteDuration();
  for (const auto& [name, value] : ServerChannelArgs(options)) args[name] = value;
  EXPECT_EQ(args.at(GRPC_ARG_MAX_CONNECTION_AGE_MS), INT_MAX);  // gRPC's "never"
}

// True when a connection to `port` that became READY left READY within `wait`.
bool ConnectionLeavesReady(int port, absl::Duration wait) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  EXPECT_TRUE(channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(5)));
  return channel->WaitForStateChange(GRPC_CHANNEL_READY, absl::ToChronoTime(absl::Now() + wait));
}

TEST(ConnectionAgeTest, AgedConnectionsAreClosedWhileCallsKeepSucceeding) {
  ServerOptions options = TestOptions();
  options.max_connection_age = absl::Seconds(1);
  options.max_connection_age_grace = absl::Seconds(1);
  RunningServer aged = StartServer(options);
  RunningServer steady = StartServer(TestOptions());  // the default: 5 minutes
  ASSERT_TRUE(aged.server && steady.server);
  EXPECT_TRUE(ConnectionLeavesReady(aged.server->port(), absl::Seconds(3)));
  EXPECT_FALSE(ConnectionLeavesReady(steady.server->port(), absl::Seconds(2)));

  // A client keeps calling across several reconnections without an error.
  ClientOptions client_options;
  client_options.addresses = {absl::StrCat("127.0.0.1:", aged.server->port())};
  client_options.max_attempts = 1;
  auto client = StyleClient::Create(client_options);
  ASSERT_TRUE(client.ok());
  aged.control->delay_micros = 100000;  // calls in flight when GOAWAY comes
  const v1::StylizeRequest request = SmallRequest();
  const absl::Time end = absl::Now() + absl::Milliseconds(3500);
  int calls = 0;
  while (absl::Now() < end) {
    auto response = (*client)->Stylize(request);
    ASSERT_TRUE(response.ok()) << "call " << calls << ": " << response.status();
    ++calls;
  }
  EXPECT_GE(calls, 10);
}

}  // namespace
}  // namespace style
