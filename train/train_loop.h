// The training loop around Trainer: steps, loss log (stdout and CSV), periodic checkpoints, and
// a graceful stop before a wall-clock limit or on a signal.
#ifndef STYLE_TRAIN_TRAIN_LOOP_H_
#define STYLE_TRAIN_TRAIN_LOOP_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "train/trainer.h"
#include "train/training_data.h"

namespace style::train {

struct LoopOptions {
  int64_t steps = 0;  // train until the trainer's step count reaches this (not: this many more)
  int batch_size = 8;  // for the images/s figure
  int log_every = 50;
  int checkpoint_every = 1000;  // also checkpoints at the end
  // Stop (and checkpoint) early enough to finish within this many seconds of `start`; 0: none.
  double max_seconds = 0;
  std::string checkpoint_dir;  // "" saves nothing
  std::string csv_path;        // "" logs to stdout only
  FILE* log = stdout;
};

// One logged row: losses averaged over the steps since the previous row.
struct LogRow {
  int64_t step = 0;
  StepResult losses;
  double lr = 0;
  double images_per_second = 0;
  double elapsed_seconds = 0;
};

struct LoopResult {
  std::vector<LogRow> rows;
  bool stopped_early = false;  // the time limit or `stop` ended the run before `steps`
};

// Runs `trainer` on `source` until options.steps, the time limit, or `stop` (may be null;
// set from a signal handler). The CSV is appended to; rows after the trainer's current step
// (logged after the checkpoint a run resumes from) are dropped first, so that it stays one
// consistent curve. Errors: a failed checkpoint or a non-finite loss (the last checkpoint is
// then the one to resume from).
absl::StatusOr<LoopResult> RunTraining(Trainer& trainer, BatchSource& source, const LoopOptions& options,
                                       std::chrono::steady_clock::time_point start,
                                       const std::atomic<bool>* stop = nullptr);

// The CSV's header line (without newline).
extern const char kCsvHeader[];

}  // namespace style::train

#endif  // STYLE_TRAIN_TRAIN_LOOP_H_
