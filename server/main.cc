// styletransfer-server: flags -> ServerOptions, start, wait for SIGTERM/SIGINT, drain, exit.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <thread>

#include <ATen/Parallel.h>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "server/server.h"

ABSL_FLAG(std::string, listen, "0.0.0.0:50051", "gRPC address to listen on (host:port)");
ABSL_FLAG(std::string, metrics_listen, "0.0.0.0:9090", "address of the Prometheus /metrics endpoint; empty: none");
ABSL_FLAG(std::string, model_dir, "models/default",
          "model folder holding encoder.pt and decoder.pt (default: the built-in model, relative to the working folder)");
ABSL_FLAG(std::string, device, "cpu", "devices for the workers: cpu, cuda:N, a comma-separated list, or cuda (every GPU)");
ABSL_FLAG(std::string, dtype, "float32", "model precision: float32, float16 (GPU), bfloat16");
ABSL_FLAG(bool, fuse_relu, true, "CUDA: run each convolution and its ReLU as one cuDNN call");
ABSL_FLAG(bool, cuda_graphs, true, "CUDA: capture and replay a CUDA graph per batch shape");
ABSL_FLAG(int, workers, 1, "model workers per device (each owns its model state and CUDA stream)");
ABSL_FLAG(int, torch_threads, 0, "LibTorch intra-op threads; 0: one per core");
ABSL_FLAG(int, codec_threads, 0, "image decode/encode threads; 0: one per core");
ABSL_FLAG(int, queue_size, 64, "jobs that may wait for a worker; beyond that RESOURCE_EXHAUSTED");
ABSL_FLAG(int, max_in_flight, 256, "Stylize/RegisterStyle calls accepted at once");
ABSL_FLAG(int, max_batch_size, 1, "jobs of one shape computed together");
ABSL_FLAG(int, batch_timeout_micros, 0, "how long a batch may wait to fill");
ABSL_FLAG(std::string, warmup_shapes, "64x64", "HxW shapes run once per worker before serving, comma-separated");
ABSL_FLAG(int64_t, max_input_bytes, 32 << 20, "largest encoded image accepted");
ABSL_FLAG(int64_t, max_input_pixels, 40000000, "largest image accepted (width*height, read from the header)");
ABSL_FLAG(int, max_input_side, 16384, "longest side accepted (from the header)");
ABSL_FLAG(int, max_input_frames, 1000,
          "most animation frames (GIF, WebP) or pages (TIFF) an input may declare; only the first is used");
ABSL_FLAG(int64_t, max_compute_pixels, 4194304, "largest content image stylized, after the size policy");
ABSL_FLAG(int, max_style_side, 512, "style images are shrunk so that their longer side is at most this");
ABSL_FLAG(int, max_styles_per_request, 8, "styles one request may mix");
ABSL_FLAG(int, max_registered_styles, 10000, "registered styles kept");
ABSL_FLAG(int, max_message_mb, 64, "gRPC message size limit, both directions (MiB)");
ABSL_FLAG(int, drain_seconds, 30, "on SIGTERM: how long accepted requests may take to finish");
ABSL_FLAG(std::string, tls_cert, "", "PEM certificate chain for TLS on --listen; empty: plaintext");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "", "mutual TLS: PEM CA bundle; clients must present a certificate it signed");
ABSL_FLAG(std::string, auth_token_file, "",
          "file holding a bearer token that every StyleTransfer call must send (authorization: Bearer "
          "<token>); health and reflection are exempt; empty: no token");
ABSL_FLAG(std::string, health_listen, "",
          "extra plaintext address serving only the health service (for Kubernetes gRPC probes when TLS "
          "is on); empty: none");
ABSL_FLAG(int, max_connection_age_seconds, 300,
          "connections get GOAWAY after this long (+ up to 10% jitter) so that clients re-balance; 0: never");
ABSL_FLAG(int, max_connection_age_grace_seconds, 30, "how long calls open on an aged connection may still take");
ABSL_FLAG(int, keepalive_min_ping_interval_seconds, 30,
          "shortest client keepalive ping interval accepted (the client pings every 60 s during calls)");

namespace {

void Log(const std::string& message) {
  std::fprintf(stderr, "%s styletransfer-server: %s\n",
               absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()).c_str(), message.c_str());
}

absl::StatusOr<std::vector<std::pair<int, int>>> ParseShapes(const std::string& text) {
  std::vector<std::pair<int, int>> shapes;
  for (absl::string_view item : absl::StrSplit(text, ',', absl::SkipEmpty())) {
    std::vector<std::string> hw = absl::StrSplit(item, 'x');
    int h = 0, w = 0;
    if (hw.size() != 2 || !absl::SimpleAtoi(hw[0], &h) || !absl::SimpleAtoi(hw[1], &w) || h < 1 || w < 1 ||
        h > 8192 || w > 8192) {
      return absl::InvalidArgumentError(absl::StrCat("bad warm-up shape \"", item, "\"; expected HxW"));
    }
    shapes.emplace_back(h, w);
  }
  return shapes;
}

int Fail(const absl::Status& status) {
  Log(absl::StrCat("error: ", status.ToString()));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Serves AdaIN style transfer over gRPC.\n"
      "  styletransfer-server [--model_dir=models/default] [--listen=0.0.0.0:50051] [--metrics_listen=0.0.0.0:9090]\n"
      "Flags may also come from a file: --flagfile=/etc/styletransfer/flags (one --name=value per line).");
  absl::ParseCommandLine(argc, argv);

  // SIGTERM/SIGINT are taken by sigwait below; block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int torch_threads = absl::GetFlag(FLAGS_torch_threads) > 0 ? absl::GetFlag(FLAGS_torch_threads) : cores;
  at::set_num_threads(torch_threads);

  style::ServerOptions options;
  options.listen_address = absl::GetFlag(FLAGS_listen);
  options.metrics_address = absl::GetFlag(FLAGS_metrics_listen);
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  if (options.model_dir.empty()) return Fail(absl::InvalidArgumentError("--model_dir must not be empty"));
  if (std::error_code ec; !std::filesystem::is_directory(options.model_dir, ec)) {
    return Fail(absl::NotFoundError(absl::StrCat("model folder ", options.model_dir, " not found (working folder ",
                                                 std::filesystem::current_path(ec).string(),
                                                 "): run from the checkout or pass --model_dir")));
  }
  options.device = absl::GetFlag(FLAGS_device);
  options.dtype = absl::GetFlag(FLAGS_dtype);
  options.workers_per_device = absl::GetFlag(FLAGS_workers);
  options.fuse_relu = absl::GetFlag(FLAGS_fuse_relu);
  options.cuda_graphs = absl::GetFlag(FLAGS_cuda_graphs);
  options.scheduler.max_queue_size = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_queue_size)));
  options.scheduler.max_batch_size = absl::GetFlag(FLAGS_max_batch_size);
  options.scheduler.batch_timeout = absl::Microseconds(absl::GetFlag(FLAGS_batch_timeout_micros));
  auto shapes = ParseShapes(absl::GetFlag(FLAGS_warmup_shapes));
  if (!shapes.ok()) return Fail(shapes.status());
  options.scheduler.warmup_shapes = *shapes;
  options.service.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  style::RequestLimits& limits = options.service.limits;
  limits.decode.max_bytes = static_cast<size_t>(absl::GetFlag(FLAGS_max_input_bytes));
  limits.decode.max_pixels = absl::GetFlag(FLAGS_max_input_pixels);
  limits.decode.max_side = absl::GetFlag(FLAGS_max_input_side);
  limits.decode.max_frames = std::max(1, absl::GetFlag(FLAGS_max_input_frames));
  limits.max_compute_pixels = absl::GetFlag(FLAGS_max_compute_pixels);
  limits.max_style_side = absl::GetFlag(FLAGS_max_style_side);
  limits.max_styles = absl::GetFlag(FLAGS_max_styles_per_request);
  options.codec_threads = absl::GetFlag(FLAGS_codec_threads) > 0 ? absl::GetFlag(FLAGS_codec_threads) : cores;
  options.max_registered_styles = static_cast<size_t>(std::max(1, absl::GetFlag(FLAGS_max_registered_styles)));
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_mb) << 20;
  options.drain_timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_seconds));
  options.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  options.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  options.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  if (const std::string path = absl::GetFlag(FLAGS_auth_token_file); !path.empty()) {
    absl::StatusOr<std::string> token = style::ReadTokenFile(path);
    if (!token.ok()) return Fail(token.status());
    options.service.auth.bearer_token = *token;
  }
  options.health_listen_address = absl::GetFlag(FLAGS_health_listen);
  const int max_age = absl::GetFlag(FLAGS_max_connection_age_seconds);
  options.max_connection_age = max_age > 0 ? absl::Seconds(max_age) : absl::InfiniteDuration();
  options.max_connection_age_grace = absl::Seconds(std::max(0, absl::GetFlag(FLAGS_max_connection_age_grace_seconds)));
  options.keepalive_min_ping_interval =
      absl::Seconds(std::max(0, absl::GetFlag(FLAGS_keepalive_min_ping_interval_seconds)));
  if (static_cast<int64_t>(options.max_message_bytes) < 2 * static_cast<int64_t>(limits.decode.max_bytes)) {
    return Fail(absl::InvalidArgumentError("--max_message_mb must allow two images of --max_input_bytes"));
  }

  Log(absl::StrCat("loading the model from ", options.model_dir, " on ", options.device, " (", options.dtype, ", ",
                   torch_threads, " LibTorch threads)"));
  auto server = style::StyleServer::Start(options);
  if (!server.ok()) return Fail(server.status());
  const style::ModelInfo& info = (*server)->model_info();
  Log(absl::StrCat("serving model ", info.name, " (", info.parameters, " parameters) on port ", (*server)->port(),
                   options.tls.enabled() ? (options.tls.client_ca_file.empty() ? " (TLS)" : " (mutual TLS)") : " (plaintext)",
                   options.service.auth.bearer_token.empty() ? "" : " with a bearer token",
                   (*server)->health_port() ? absl::StrCat(", health-only port ", (*server)->health_port()) : "",
                   ", metrics on port ", (*server)->metrics_port()));

  int signal_number = 0;
  sigwait(&signals, &signal_number);
  Log(absl::StrCat("received signal ", signal_number, "; draining for up to ", absl::GetFlag(FLAGS_drain_seconds), " s"));
  // A stuck model must not keep the process alive past the drain limit.
  std::thread([seconds = absl::GetFlag(FLAGS_drain_seconds)] {
    absl::SleepFor(absl::Seconds(seconds + 5));
    Log("drain did not finish in time; exiting");
    _exit(1);
  }).detach();
  const bool clean = (*server)->Drain();
  Log(clean ? "drained; every accepted request was answered" : "drain timed out; open requests were cancelled");
  return clean ? 0 : 1;
}
