#include "tests/soak.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include <grpcpp/client_context.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "server/image_codec.h"
#include "server/status_util.h"
#include "styletransfer/v1/style_transfer.grpc.pb.h"
#include "tests/server_process.h"
#include "tests/test_support.h"

namespace style::testing {
namespace {

namespace v1 = styletransfer::v1;

std::string Jpeg(int width, int height, unsigned seed) {
  auto bytes = EncodeImage(MakeTestPattern(width, height, seed), OutputFormat::kJpeg, 90);
  return bytes.ok() ? *bytes : std::string();
}

// The inputs every client draws from, made once.
struct Inputs {
  std::vector<std::string> contents;  // a few shapes, so that the model sees several
  std::string style;
  std::string style_id;                // registered at the start
  std::vector<v1::StylizeRequest> invalid;
};

Inputs MakeInputs() {
  Inputs in;
  in.contents = {Jpeg(64, 64, 1), Jpeg(80, 48, 2), Jpeg(48, 96, 3), Jpeg(96, 64, 4)};
  in.style = Jpeg(64, 64, 9);
  auto invalid = [&](const std::string& content, const std::string& style) {
    v1::StylizeRequest r;
    r.set_content(content);
    r.add_styles()->set_image(style);
    return r;
  };
  std::string noise(2048, '\0');
  std::mt19937 rng(3);
  for (char& c : noise) c = static_cast<char>(rng());
  noise[0] = 1;
  in.invalid.push_back(invalid(noise, in.style));                                      // unrecognised
  in.invalid.push_back(invalid("<svg xmlns='http://www.w3.org/2000/svg'/>", in.style));  // refused format
  in.invalid.push_back(invalid(PngWithHeader(50000, 50000), in.style));                // pixel bomb
  in.invalid.push_back(invalid(in.contents[0].substr(0, 300), in.style));              // truncated
  v1::StylizeRequest alpha = invalid(in.contents[0], in.style);
  alpha.set_alpha(2.0f);
  in.invalid.push_back(alpha);
  v1::StylizeRequest unknown;
  unknown.set_content(in.contents[0]);
  unknown.add_styles()->set_style_id("st-00000000000000000000000000000000");
  in.invalid.push_back(unknown);
  return in;
}

// The n-th valid request: a content image of one of four shapes, the style as bytes or by id,
// alpha and output format varying.
v1::StylizeRequest ValidRequest(const Inputs& in, uint64_t n) {
  v1::StylizeRequest request;
  request.set_content(in.contents[n % in.contents.size()]);
  if (n % 4 == 0) {
    request.add_styles()->set_style_id(in.style_id);
  } else {
    request.add_styles()->set_image(in.style);
  }
  request.set_alpha(0.2f + 0.2f * static_cast<float>(n % 5));
  request.mutable_output()->set_format(n % 3 == 0 ? v1::IMAGE_FORMAT_PNG : v1::IMAGE_FORMAT_JPEG);
  return request;
}

grpc::Status RegisterStyle(v1::StyleTransfer::Stub& stub, const std::string& image, absl::Duration deadline,
                           v1::RegisterStyleResponse* response) {
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
  v1::RegisterStyleRequest request;
  request.set_image(image);
  return stub.RegisterStyle(&context, request, response);
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t index = std::min(values.size() - 1, static_cast<size_t>(q * (values.size() - 1) + 0.5));
  return values[index];
}

int64_t Median(std::vector<int64_t> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

struct Record {
  absl::Time sent;
  double seconds;
};

}  // namespace

absl::StatusOr<SoakReport> RunSoak(const SoakOptions& options) {
  std::filesystem::create_directories(options.out_dir);
  RETURN_IF_ERROR(InitImageCodec(1));
  Inputs inputs = MakeInputs();
  auto started = ServerProcess::Start(
      options.server_binary,
      {"--model_dir=" + options.model_dir, absl::StrCat("--torch_threads=", options.torch_threads), "--workers=1",
       absl::StrCat("--codec_threads=", options.codec_threads), "--warmup_shapes=64x64", "--drain_seconds=30"},
      options.out_dir + "/server.log", /*metrics=*/true);
  if (!started.ok()) return started.status();
  ServerProcess& server = **started;

  SoakReport report;
  const absl::Time start = absl::Now();
  report.rss_start_kib = server.resident_kib();
  auto channel = [&] { return grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials()); };
  {
    auto stub = v1::StyleTransfer::NewStub(channel());
    v1::RegisterStyleResponse response;
    const grpc::Status status = RegisterStyle(*stub, inputs.style, absl::Seconds(30), &response);
    if (!status.ok()) return absl::InternalError("registering the soak's style failed: " + status.error_message());
    inputs.style_id = response.style().style_id();
  }

  std::mutex mu;
  std::vector<Record> valid_latencies;
  const absl::Time end = start + options.duration;
  std::atomic<bool> stop{false};

  // Resident memory, sampled until the clients stop.
  std::thread sampler([&] {
    while (!stop.load()) {
      const int64_t kib = server.resident_kib();
      {
        std::lock_guard<std::mutex> lock(mu);
        report.rss.emplace_back(absl::ToDoubleSeconds(absl::Now() - start), kib);
      }
      absl::SleepFor(options.rss_interval);
    }
  });

  auto count = [&](const std::string& kind, grpc::StatusCode code, bool expected, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu);
    KindStats& stats = report.kinds[kind];
    ++stats.sent;
    ++stats.codes[GrpcCodeName(code)];
    ++report.requests;
    if (!expected) {
      ++stats.unexpected;
      ++report.unexpected;
      if (report.unexpected_examples.size() < 10) {
        report.unexpected_examples.push_back(absl::StrCat(kind, ": ", GrpcCodeName(code), ": ", message));
      }
    }
  };

  std::vector<std::thread> clients;
  for (int c = 0; c < options.clients; ++c) {
    clients.emplace_back([&, c] {
      auto stub = v1::StyleTransfer::NewStub(channel());
      std::mt19937 rng(1000 + c);
      for (uint64_t n = c; absl::Now() < end; ++n) {
        const int slot = static_cast<int>(n % 20);
        if (slot < 13) {
          // Valid: stylized, OK.
          const v1::StylizeRequest request = ValidRequest(inputs, n);
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
          v1::StylizeResponse response;
          const absl::Time sent = absl::Now();
          const grpc::Status status = stub->Stylize(&context, request, &response);
          const double seconds = absl::ToDoubleSeconds(absl::Now() - sent);
          const bool ok = status.ok() && !response.image().empty();
          count("valid", status.error_code(), ok, status.error_message());
          if (ok) {
            std::lock_guard<std::mutex> lock(mu);
            valid_latencies.push_back({sent, seconds});
          }
        } else if (slot < 16) {
          // Invalid: refused with INVALID_ARGUMENT (NOT_FOUND for the unknown style id).
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
          v1::StylizeResponse response;
          const grpc::Status status = stub->Stylize(&context, inputs.invalid[n % inputs.invalid.size()], &response);
          const bool ok = status.error_code() == grpc::StatusCode::INVALID_ARGUMENT ||
                          status.error_code() == grpc::StatusCode::NOT_FOUND;
          count("invalid", status.error_code(), ok, status.error_message());
        } else if (slot < 18) {
          // A deadline too short for the work: DEADLINE_EXCEEDED, wherever the call is.
          const v1::StylizeRequest request = ValidRequest(inputs, n);
          grpc::ClientContext context;
          context.set_deadline(
              absl::ToChronoTime(absl::Now() + absl::Milliseconds(std::uniform_int_distribution<int>(1, 40)(rng))));
          v1::StylizeResponse response;
          const grpc::Status status = stub->Stylize(&context, request, &response);
          const bool ok = status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED || status.ok();
          count("deadline", status.error_code(), ok, status.error_message());
        } else if (slot < 19) {
          // Cancelled by the client mid-flight.
          const v1::StylizeRequest request = ValidRequest(inputs, n);
          grpc::ClientContext context;
          context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
          v1::StylizeResponse response;
          absl::Notification done;
          grpc::Status status;
          stub->async()->Stylize(&context, &request, &response, [&](grpc::Status s) {
            status = std::move(s);
            done.Notify();
          });
          absl::SleepFor(absl::Milliseconds(std::uniform_int_distribution<int>(1, 60)(rng)));
          context.TryCancel();
          done.WaitForNotification();
          const bool ok = status.error_code() == grpc::StatusCode::CANCELLED || status.ok();
          count("cancel", status.error_code(), ok, status.error_message());
        } else {
          // The registry: registering the same style again is answered from memory.
          v1::RegisterStyleResponse response;
          const grpc::Status status = RegisterStyle(*stub, inputs.style, absl::Seconds(60), &response);
          count("registry", status.error_code(), status.ok() && response.already_registered(), status.error_message());
        }
      }
    });
  }
  for (std::thread& t : clients) t.join();
  report.elapsed = absl::Now() - start;
  stop = true;
  sampler.join();
  report.server_requests_total.clear();
  {
    std::istringstream metrics(HttpGet(server.metrics_port(), "/metrics"));
    for (std::string line; std::getline(metrics, line);) {
      if (line.rfind("styletransfer_requests_total{", 0) == 0 && line.substr(line.size() - 2) != " 0") {
        absl::StrAppend(&report.server_requests_total, "  ", line, "\n");
      }
    }
  }
  if (server.Signal(SIGTERM).ok()) {
    auto exit_code = server.Wait(absl::Seconds(40));
    report.server_exit_code = exit_code.ok() ? *exit_code : -1;
  }

  // Memory: the window just after the warm-up against the last tenth of the run.
  const double total = absl::ToDoubleSeconds(report.elapsed);
  const double warm = total * options.warmup_fraction;
  std::vector<int64_t> warm_window, end_window;
  for (const auto& [t, kib] : report.rss) {
    report.rss_max_kib = std::max(report.rss_max_kib, kib);
    if (t >= warm && t < warm + total * 0.1) warm_window.push_back(kib);
    if (t >= total * 0.9) end_window.push_back(kib);
  }
  report.rss_warm_kib = Median(warm_window);
  report.rss_end_kib = Median(end_window);
  report.rss_growth = report.rss_warm_kib > 0
                          ? static_cast<double>(report.rss_end_kib - report.rss_warm_kib) / report.rss_warm_kib
                          : 0;
  // Latency by thirds of the run.
  std::vector<double> thirds[3];
  for (const Record& r : valid_latencies) {
    const int third = std::clamp(static_cast<int>(3 * absl::ToDoubleSeconds(r.sent - start) / total), 0, 2);
    thirds[third].push_back(r.seconds);
  }
  for (int i = 0; i < 3; ++i) {
    report.p50[i] = Percentile(thirds[i], 0.50);
    report.p99[i] = Percentile(thirds[i], 0.99);
    report.valid_per_third[i] = static_cast<int64_t>(thirds[i].size());
  }
  report.throughput = static_cast<double>(valid_latencies.size()) / total;

  std::ofstream rss_csv(options.out_dir + "/rss.csv");
  rss_csv << "seconds,rss_kib\n";
  for (const auto& [t, kib] : report.rss) rss_csv << absl::StrFormat("%.2f,%d\n", t, kib);
  std::ofstream(options.out_dir + "/summary.txt") << report.Summary(options);
  return report;
}

std::string SoakReport::Summary(const SoakOptions& options) const {
  std::string out = absl::StrFormat(
      "soak: %d clients for %.1f s against %s (--torch_threads=%d, --codec_threads=%d, 1 worker)\n",
      options.clients, absl::ToDoubleSeconds(elapsed), options.server_binary, options.torch_threads,
      options.codec_threads);
  absl::StrAppendFormat(&out, "requests: %d, unexpected codes: %d\n", requests, unexpected);
  for (const auto& [kind, stats] : kinds) {
    absl::StrAppendFormat(&out, "  %-8s %6d sent, %d unexpected:", kind, stats.sent, stats.unexpected);
    for (const auto& [code, n] : stats.codes) absl::StrAppendFormat(&out, " %s=%d", code, n);
    out += "\n";
  }
  for (const std::string& example : unexpected_examples) absl::StrAppend(&out, "  unexpected: ", example, "\n");
  absl::StrAppendFormat(&out,
                        "server RSS (MiB): %.1f when serving, %.1f after warm-up (%.0f%% of the run), %.1f at the "
                        "end, %.1f max; growth after warm-up %+.1f%%\n",
                        rss_start_kib / 1024.0, rss_warm_kib / 1024.0, 100 * options.warmup_fraction,
                        rss_end_kib / 1024.0, rss_max_kib / 1024.0, 100 * rss_growth);
  absl::StrAppendFormat(&out, "valid requests: %.1f/s stylized; latency (ms) by third of the run:\n", throughput);
  for (int i = 0; i < 3; ++i) {
    absl::StrAppendFormat(&out, "  third %d: n=%d p50=%.1f p99=%.1f\n", i + 1, valid_per_third[i], 1000 * p50[i],
                          1000 * p99[i]);
  }
  absl::StrAppendFormat(&out, "server exit code after SIGTERM: %d\n", server_exit_code);
  absl::StrAppend(&out, "server's own counts (styletransfer_requests_total):\n", server_requests_total);
  return out;
}

}  // namespace style::testing
