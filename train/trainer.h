// The trainer of the project's compact AdaIN models: a student encoder distilled from the VGG19
// teacher, and a decoder for it trained with adain-reference.md's losses through the teacher.
//
// Phases (each one run of style_train, resumable):
//   distill  student encoder + 1x1 projections learn the teacher's relu1_1..relu4_1 features
//            (see DistillLosses); trains on content and style images alike.
//   decoder  decoder for the frozen student encoder: AdaIN in the student's feature space, the
//            output scored through the teacher against the teacher's AdaIN target
//            (content + style_weight * style, see AdainLosses).
//   joint    encoder and decoder together with the decoder phase's losses, plus optionally
//            distill_weight times the distillation loss to keep the encoder near the teacher.
//
// The networks are the server's ConvNet (EncoderLayers / DecoderLayers), so a checkpoint folder
// (encoder.pt, decoder.pt) loads directly in the server. Master weights, optimizer state and
// losses are float32; with bf16 the forward and backward passes run in bfloat16 on a cast of
// the master weights (a manual autocast that works the same on LibTorch 1.13 and 2.x).
#ifndef STYLE_TRAIN_TRAINER_H_
#define STYLE_TRAIN_TRAINER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <torch/optim/adam.h>

#include "absl/status/statusor.h"
#include "server/networks.h"
#include "train/training_data.h"

namespace style::train {

enum class Phase { kDistill, kDecoder, kJoint };

absl::StatusOr<Phase> ParsePhase(const std::string& name);
const char* PhaseName(Phase phase);

// "32,64,128,256" or "32-64-128-256". INVALID_ARGUMENT otherwise.
absl::StatusOr<NetworkWidths> ParseWidths(const std::string& text);
std::string WidthsString(const NetworkWidths& widths);

struct TrainerOptions {
  Phase phase = Phase::kDistill;
  // The student's widths for a fresh distillation; otherwise read from the weights.
  NetworkWidths widths{32, 64, 128, 256};
  std::string device = "cpu";  // "cpu", "cuda", "cuda:N"
  bool bf16 = false;           // forward/backward in bfloat16
  bool channels_last = false;  // NHWC activations and weights (fast on GPUs)
  PaddingImpl padding = PaddingImpl::kReflectPad;
  double lr = 1e-4;
  double lr_decay = 5e-5;     // lr / (1 + lr_decay * step), as the reference
  double style_weight = 10;   // lambda of content + lambda * style
  double stat_weight = 1;     // distill: weight of the per-channel mean/std term
  double distill_weight = 0;  // joint: weight of the distillation term
  uint64_t seed = 1;          // weight initialisation
};

// Losses of one step (0 for the terms a phase does not use).
struct StepResult {
  double loss = 0;
  double content = 0;
  double style = 0;
  double feature = 0;
  double stats = 0;
};

class Trainer {
 public:
  // A fresh run. `teacher` is the VGG19 encoder (as loaded by LoadAdainNetworks). `init_dir`
  // is a model or checkpoint folder to start from: optional for distill (encoder.pt and
  // projections.pt continue a distillation), required for decoder (its encoder.pt, and its
  // decoder.pt when present) and joint (encoder.pt, decoder.pt, and projections.pt when
  // distill_weight > 0).
  static absl::StatusOr<std::unique_ptr<Trainer>> Create(const TrainerOptions& options, const ConvNet& teacher,
                                                         const std::string& init_dir = "");

  // Continues the run saved in checkpoint folder `dir`: weights, optimizer moments and step.
  // The phase must match; the widths come from the checkpoint.
  static absl::StatusOr<std::unique_ptr<Trainer>> Resume(const TrainerOptions& options, const ConvNet& teacher,
                                                         const std::string& dir);

  // How many content and style images a batch of `batch_size` has in `phase`: distill learns
  // from both kinds (half each); the other phases take `batch_size` pairs.
  static std::pair<int, int> BatchCounts(Phase phase, int batch_size);

  // One optimizer step on `batch` (CPU tensors from BatchSource). INTERNAL when the loss is not
  // finite (the weights are then left as they were before the step).
  absl::StatusOr<StepResult> Step(const Batch& batch);

  // Steps taken so far (the next step's index).
  int64_t step() const { return step_; }
  // The learning rate of step `step` (0-based), and of the next step.
  double LrAt(int64_t step) const;
  double CurrentLr() const { return LrAt(step_); }
  Phase phase() const { return options_.phase; }

  // Writes the checkpoint folder `dir`: encoder.pt, decoder.pt and projections.pt (float32,
  // whichever the phase has), optimizer.pt and trainer_state.txt. The folder is replaced
  // atomically: a crash leaves the previous checkpoint readable.
  absl::Status SaveCheckpoint(const std::string& dir) const;

  // Writes a server model folder: encoder.pt and decoder.pt in float16. The distill phase has
  // no decoder and writes encoder.pt only.
  absl::Status Export(const std::string& dir) const;

  const NetworkWidths& widths() const { return widths_; }
  const TensorMap& encoder_weights() const { return encoder_; }
  const TensorMap& decoder_weights() const { return decoder_; }
  const TensorMap& projection_weights() const { return projections_; }
  int64_t EncoderParameterCount() const;
  int64_t DecoderParameterCount() const;

 private:
  Trainer(const TrainerOptions& options, const ConvNet& teacher, NetworkWidths widths);

  // Moves the loaded or initialised weights to the device, marks the trainable ones and
  // builds the optimizer over them (in a fixed order, which optimizer.pt relies on).
  absl::Status Prepare();
  std::vector<at::Tensor> TrainableParameters();

  at::Tensor ToCompute(const at::Tensor& images) const;
  ConvNet ComputeNet(const std::vector<Layer>& layers, const TensorMap& weights) const;
  std::vector<std::pair<at::Tensor, at::Tensor>> ProjectionPairs() const;
  at::Tensor DistillStep(const Batch& batch, StepResult* result);
  at::Tensor AdainStep(const Batch& batch, StepResult* result);

  TrainerOptions options_;
  NetworkWidths widths_;
  at::TensorOptions compute_options_;  // device and compute dtype
  at::MemoryFormat memory_format_;
  ConvNet teacher_;  // on the device, compute dtype, frozen
  TensorMap encoder_;
  TensorMap decoder_;
  TensorMap projections_;
  std::unique_ptr<torch::optim::Adam> optimizer_;
  int64_t step_ = 0;
};

// The teacher for training: `dir`/encoder.pt (the VGG19 encoder to relu4_1, as written by
// tools/convert_weights.py, float32 or float16). Its decoder is not needed.
absl::StatusOr<ConvNet> LoadEncoder(const std::string& dir);

// The names of the projection tensors in projections.pt, per tap: "relu1_1.weight", ...
std::string ProjectionName(int tap, const char* suffix);

}  // namespace style::train

#endif  // STYLE_TRAIN_TRAINER_H_
