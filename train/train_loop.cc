#include "train/train_loop.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "server/status_util.h"

namespace style::train {

const char kCsvHeader[] = "step,phase,loss,content,style,feature,stats,lr,images_per_s,elapsed_s";

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double>(to - from).count();
}

// Keeps the CSV's header and its rows up to `last_step`, or starts it.
absl::Status PrepareCsv(const std::string& path, int64_t last_step) {
  std::vector<std::string> kept;
  {
    std::ifstream in(path);
    std::string line;
    while (in && std::getline(in, line)) {
      if (line.empty() || line == kCsvHeader) continue;
      int64_t step = 0;
      if (absl::SimpleAtoi(line.substr(0, line.find(',')), &step) && step <= last_step) kept.push_back(line);
    }
  }
  std::ofstream out(path, std::ios::trunc);
  out << kCsvHeader << "\n";
  for (const std::string& line : kept) out << line << "\n";
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

void Accumulate(const StepResult& r, StepResult* sum) {
  sum->loss += r.loss;
  sum->content += r.content;
  sum->style += r.style;
  sum->feature += r.feature;
  sum->stats += r.stats;
}

StepResult Average(const StepResult& sum, int n) {
  return StepResult{sum.loss / n, sum.content / n, sum.style / n, sum.feature / n, sum.stats / n};
}

void WriteRow(const LogRow& row, const char* phase, FILE* log, std::ofstream* csv) {
  const StepResult& l = row.losses;
  absl::FPrintF(log, "step %d  loss %.5g  content %.5g  style %.5g  feature %.5g  stats %.5g  lr %.3g  %.1f img/s  %.0f s\n",
                row.step, l.loss, l.content, l.style, l.feature, l.stats, row.lr, row.images_per_second,
                row.elapsed_seconds);
  std::fflush(log);
  if (csv != nullptr && csv->is_open()) {
    *csv << absl::StrFormat("%d,%s,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.2f,%.1f\n", row.step, phase, l.loss, l.content,
                            l.style, l.feature, l.stats, row.lr, row.images_per_second, row.elapsed_seconds);
    csv->flush();
  }
}

}  // namespace

absl::StatusOr<LoopResult> RunTraining(Trainer& trainer, BatchSource& source, const LoopOptions& options,
                                       Clock::time_point start, const std::atomic<bool>* stop) {
  std::ofstream csv;
  if (!options.csv_path.empty()) {
    RETURN_IF_ERROR(PrepareCsv(options.csv_path, trainer.step()));
    csv.open(options.csv_path, std::ios::app);
  }
  LoopResult result;
  StepResult sum;
  int since_log = 0;
  Clock::time_point log_start = Clock::now();
  double step_seconds = 0;        // running average of one step
  double checkpoint_seconds = 2;  // a guess until the first checkpoint is timed
  int64_t saved_step = trainer.step();

  auto checkpoint = [&]() -> absl::Status {
    if (options.checkpoint_dir.empty() || saved_step == trainer.step()) return absl::OkStatus();
    const Clock::time_point t0 = Clock::now();
    RETURN_IF_ERROR(trainer.SaveCheckpoint(options.checkpoint_dir));
    checkpoint_seconds = Seconds(t0, Clock::now());
    saved_step = trainer.step();
    absl::FPrintF(options.log, "checkpoint at step %d -> %s (%.1f s)\n", saved_step, options.checkpoint_dir,
                  checkpoint_seconds);
    return absl::OkStatus();
  };

  while (trainer.step() < options.steps) {
    const double elapsed = Seconds(start, Clock::now());
    // Leave room for two more steps and the final checkpoint, with a margin for noise.
    if (options.max_seconds > 0 && elapsed + 2 * step_seconds + 1.5 * checkpoint_seconds > options.max_seconds) {
      absl::FPrintF(options.log, "stopping at step %d: the time limit (%.0f s) is near\n", trainer.step(),
                    options.max_seconds);
      result.stopped_early = true;
      break;
    }
    if (stop != nullptr && stop->load()) {
      absl::FPrintF(options.log, "stopping at step %d: signal\n", trainer.step());
      result.stopped_early = true;
      break;
    }
    const Clock::time_point t0 = Clock::now();
    const Batch batch = source.Get(trainer.step());
    ASSIGN_OR_RETURN(StepResult step_result, trainer.Step(batch));
    const double dt = Seconds(t0, Clock::now());
    step_seconds = step_seconds == 0 ? dt : 0.9 * step_seconds + 0.1 * dt;
    Accumulate(step_result, &sum);
    ++since_log;
    const bool last = trainer.step() >= options.steps;
    if (trainer.step() % options.log_every == 0 || last) {
      const Clock::time_point now = Clock::now();
      LogRow row{trainer.step(), Average(sum, since_log), trainer.LrAt(trainer.step() - 1),
                 options.batch_size * since_log / std::max(1e-9, Seconds(log_start, now)), Seconds(start, now)};
      WriteRow(row, PhaseName(trainer.phase()), options.log, &csv);
      result.rows.push_back(row);
      sum = StepResult();
      since_log = 0;
      log_start = Clock::now();
    }
    if (options.checkpoint_every > 0 && trainer.step() % options.checkpoint_every == 0) RETURN_IF_ERROR(checkpoint());
  }
  RETURN_IF_ERROR(checkpoint());
  return result;
}

}  // namespace style::train
