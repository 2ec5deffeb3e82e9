// A bounded load test on loopback: the styletransfer-server binary with the real model, several
// client threads sending a mix of valid, invalid and cancelled requests, the server's resident
// memory sampled from /proc/PID/status. Run short by soak_test (ctest) and long by
// scripts/soak.sh (tools: styletransfer-soak); results in docs/reliability.md.
#ifndef STYLE_TESTS_SOAK_H_
#define STYLE_TESTS_SOAK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace style::testing {

struct SoakOptions {
  std::string server_binary;  // styletransfer-server
  std::string model_dir;      // converted weights (encoder.pt, decoder.pt)
  std::string out_dir;        // server.log, rss.csv and summary.txt are written here
  absl::Duration duration = absl::Minutes(3);
  // Memory is compared between the end of the warm-up and the end of the run.
  double warmup_fraction = 0.3;
  int clients = 4;
  int torch_threads = 1;
  int codec_threads = 2;
  absl::Duration rss_interval = absl::Milliseconds(500);
};

// What one kind of request got.
struct KindStats {
  int64_t sent = 0;
  int64_t unexpected = 0;                   // a code the kind must never get
  std::map<std::string, int64_t> codes;     // code name -> count
};

struct SoakReport {
  absl::Duration elapsed;
  std::map<std::string, KindStats> kinds;  // "valid", "invalid", "deadline", "cancel", "registry"
  int64_t requests = 0;
  int64_t unexpected = 0;
  std::vector<std::string> unexpected_examples;  // a few "kind: CODE: message"
  // Resident memory of the server process, KiB.
  std::vector<std::pair<double, int64_t>> rss;  // (seconds since start, KiB)
  int64_t rss_start_kib = 0;                    // once SERVING
  int64_t rss_warm_kib = 0;                     // median over the window after the warm-up
  int64_t rss_end_kib = 0;                      // median over the last tenth of the run
  int64_t rss_max_kib = 0;
  double rss_growth = 0;                        // (end - warm) / warm
  // Latency of valid requests, seconds, by thirds of the run (sent time).
  double p50[3] = {0, 0, 0};
  double p99[3] = {0, 0, 0};
  int64_t valid_per_third[3] = {0, 0, 0};
  double throughput = 0;                        // valid OK per second
  int server_exit_code = -1;                    // after SIGTERM at the end
  std::string server_requests_total;            // the server's own counts, from /metrics

  // A human-readable summary (what summary.txt holds).
  std::string Summary(const SoakOptions& options) const;
};

// Runs the soak; errors only for set-up failures (the server would not start). The caller
// judges the report.
absl::StatusOr<SoakReport> RunSoak(const SoakOptions& options);

}  // namespace style::testing

#endif  // STYLE_TESTS_SOAK_H_
