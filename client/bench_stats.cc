#include "client/bench_stats.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace style {
namespace {

double Mean(const std::vector<double>& values) {
  if (values.empty()) return 0;
  double sum = 0;
  for (double v : values) sum += v;
  return sum / static_cast<double>(values.size());
}

std::string JsonNumber(double value) {
  if (!std::isfinite(value)) return "null";
  return absl::StrFormat("%.3f", value);
}

}  // namespace

double Percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const double n = static_cast<double>(sorted.size());
  const double rank = std::ceil(std::clamp(p, 0.0, 100.0) / 100.0 * n);
  const size_t index = static_cast<size_t>(std::clamp(rank, 1.0, n)) - 1;
  return sorted[index];
}

BenchSummary Summarize(const std::vector<BenchSample>& samples, double duration_s,
                       int concurrency) {
  BenchSummary summary;
  summary.requests = static_cast<int64_t>(samples.size());
  summary.concurrency = concurrency;
  summary.duration_s = duration_s;
  std::vector<double> latencies, queued, compute, decode, encode, server_total;
  for (const BenchSample& sample : samples) {
    if (sample.code != absl::StatusCode::kOk) {
      ++summary.errors[absl::StatusCodeToString(sample.code)];
      continue;
    }
    latencies.push_back(sample.latency_ms);
    queued.push_back(sample.queued_ms);
    compute.push_back(sample.compute_ms);
    decode.push_back(sample.decode_ms);
    encode.push_back(sample.encode_ms);
    server_total.push_back(sample.server_total_ms);
  }
  summary.ok = static_cast<int64_t>(latencies.size());
  if (duration_s > 0) {
    summary.throughput_rps = static_cast<double>(summary.requests) / duration_s;
    summary.ok_throughput_rps = static_cast<double>(summary.ok) / duration_s;
  }
  std::sort(latencies.begin(), latencies.end());
  summary.p50_ms = Percentile(latencies, 50);
  summary.p90_ms = Percentile(latencies, 90);
  summary.p99_ms = Percentile(latencies, 99);
  summary.max_ms = latencies.empty() ? 0 : latencies.back();
  summary.mean_ms = Mean(latencies);
  summary.mean_queued_ms = Mean(queued);
  summary.mean_compute_ms = Mean(compute);
  summary.mean_decode_ms = Mean(decode);
  summary.mean_encode_ms = Mean(encode);
  summary.mean_server_total_ms = Mean(server_total);
  return summary;
}

std::string FormatBenchText(const BenchSummary& s) {
  std::string errors = absl::StrJoin(s.errors, ", ", [](std::string* out, const auto& entry) {
    absl::StrAppend(out, entry.first, " ", entry.second);
  });
  std::string text;
  absl::StrAppendFormat(&text, "requests    %d (concurrency %d, %.2f s)\n", s.requests,
                        s.concurrency, s.duration_s);
  absl::StrAppendFormat(&text, "ok          %d\n", s.ok);
  absl::StrAppendFormat(&text, "errors      %d%s\n", s.requests - s.ok,
                        errors.empty() ? "" : absl::StrCat(" (", errors, ")"));
  absl::StrAppendFormat(&text, "throughput  %.2f req/s (ok %.2f req/s)\n", s.throughput_rps,
                        s.ok_throughput_rps);
  absl::StrAppendFormat(&text, "latency ms  p50 %.1f  p90 %.1f  p99 %.1f  max %.1f  mean %.1f\n",
                        s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms, s.mean_ms);
  absl::StrAppendFormat(&text, "server ms   decode %.1f  queued %.1f  compute %.1f  encode %.1f  total %.1f (means)\n",
                        s.mean_decode_ms, s.mean_queued_ms, s.mean_compute_ms, s.mean_encode_ms,
                        s.mean_server_total_ms);
  return text;
}

std::string FormatBenchJson(const BenchSummary& s) {
  const std::string errors = absl::StrJoin(s.errors, ", ", [](std::string* out, const auto& e) {
    absl::StrAppend(out, "\"", e.first, "\": ", e.second);
  });
  return absl::StrCat("{\"requests\": ", s.requests, ", \"ok\": ", s.ok, ", \"errors\": {", errors,
                      "}, \"concurrency\": ", s.concurrency,
                      ", \"duration_s\": ", JsonNumber(s.duration_s),
                      ", \"throughput_rps\": ", JsonNumber(s.throughput_rps),
                      ", \"ok_throughput_rps\": ", JsonNumber(s.ok_throughput_rps),
                      ", \"latency_ms\": {\"p50\": ", JsonNumber(s.p50_ms),
                      ", \"p90\": ", JsonNumber(s.p90_ms), ", \"p99\": ", JsonNumber(s.p99_ms),
                      ", \"max\": ", JsonNumber(s.max_ms), ", \"mean\": ", JsonNumber(s.mean_ms),
                      "}, \"server_ms\": {\"queued_mean\": ", JsonNumber(s.mean_queued_ms),
                      ", \"compute_mean\": ", JsonNumber(s.mean_compute_ms), ", \"decode_mean\": ",
                      JsonNumber(s.mean_decode_ms), ", \"encode_mean\": ", JsonNumber(s.mean_encode_ms),
                      ", \"total_mean\": ", JsonNumber(s.mean_server_total_ms), "}}\n");
}

}  // namespace style
