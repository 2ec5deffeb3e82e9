// styletransfer-soak: the long soak on demand (scripts/soak.sh wraps it).
//   styletransfer-soak --server=build/server/styletransfer-server --model_dir=DIR --seconds=180 --out=out/soak
// Exits 1 when the run breaks a bound: an unexpected status code, resident memory growing 10%
// or more after the warm-up, the last third's p99 latency over 1.5x the first's, or an unclean
// server exit.
#include <cstdio>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "tests/soak.h"

ABSL_FLAG(std::string, server, "", "the styletransfer-server binary");
ABSL_FLAG(std::string, model_dir, "", "converted model folder (encoder.pt, decoder.pt)");
ABSL_FLAG(int, seconds, 180, "how long to run");
ABSL_FLAG(int, clients, 4, "client threads");
ABSL_FLAG(double, warmup_fraction, 0.3, "share of the run before memory is taken as warm");
ABSL_FLAG(int, torch_threads, 1, "the server's --torch_threads");
ABSL_FLAG(std::string, out, "out/soak", "folder for summary.txt, rss.csv and server.log");

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  style::testing::SoakOptions options;
  options.server_binary = absl::GetFlag(FLAGS_server);
  options.model_dir = absl::GetFlag(FLAGS_model_dir);
  options.out_dir = absl::GetFlag(FLAGS_out);
  options.duration = absl::Seconds(absl::GetFlag(FLAGS_seconds));
  options.clients = absl::GetFlag(FLAGS_clients);
  options.warmup_fraction = absl::GetFlag(FLAGS_warmup_fraction);
  options.torch_threads = absl::GetFlag(FLAGS_torch_threads);
  if (options.server_binary.empty() || options.model_dir.empty()) {
    std::fprintf(stderr, "--server and --model_dir are required\n");
    return 2;
  }
  auto report = style::testing::RunSoak(options);
  if (!report.ok()) {
    std::fprintf(stderr, "soak: %s\n", report.status().ToString().c_str());
    return 1;
  }
  std::fputs(report->Summary(options).c_str(), stdout);
  const bool pass = report->unexpected == 0 && report->rss_growth < 0.10 &&
                    report->p99[2] <= 1.5 * report->p99[0] && report->server_exit_code == 0;
  std::printf("verdict: %s\n", pass ? "PASS" : "FAIL");
  return pass ? 0 : 1;
}
