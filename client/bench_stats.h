// Statistics of a load test (the "bench" command): percentiles, counts by status code, and their
// text and JSON renderings.
#ifndef STYLE_CLIENT_BENCH_STATS_H_
#define STYLE_CLIENT_BENCH_STATS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace style {

// The nearest-rank percentile `p` (0..100) of `sorted` (ascending): the smallest sample such that
// at least p% of the samples are at most it. 0 for an empty vector.
double Percentile(const std::vector<double>& sorted, double p);

// One request of a load test.
struct BenchSample {
  double latency_ms = 0;  // measured by the client, retries included
  absl::StatusCode code = absl::StatusCode::kOk;
  double queued_ms = 0;  // server-side times, from the response (0 on errors)
  double compute_ms = 0;
  double decode_ms = 0;
  double encode_ms = 0;
  double server_total_ms = 0;
};

// What a load test measured. Latencies and server times cover successful requests only.
struct BenchSummary {
  int64_t requests = 0;
  int64_t ok = 0;
  std::map<std::string, int64_t> errors;  // canonical code name -> count
  int concurrency = 0;
  double duration_s = 0;
  double throughput_rps = 0;     // all requests per second
  double ok_throughput_rps = 0;  // successful requests per second
  double p50_ms = 0;
  double p90_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  double mean_queued_ms = 0;
  double mean_compute_ms = 0;
  double mean_decode_ms = 0;
  double mean_encode_ms = 0;
  double mean_server_total_ms = 0;  // arrival to answer inside the server
};

// Summarizes the samples of a run that took `duration_s` seconds with `concurrency` workers.
BenchSummary Summarize(const std::vector<BenchSample>& samples, double duration_s, int concurrency);

// A few aligned lines for people.
std::string FormatBenchText(const BenchSummary& summary);

// The same as one JSON object (with a trailing newline).
std::string FormatBenchJson(const BenchSummary& summary);

}  // namespace style

#endif  // STYLE_CLIENT_BENCH_STATS_H_
